/* The maintenance worker: for now only the shared runtime (config, READY, heartbeats, shutdown);
 * its own job arrives with its issue. */
#include "workers/worker.h"

const struct worker_ops maintenance_ops = {0};
