/* The strategy worker: for now only the shared runtime (config, READY, heartbeats, shutdown);
 * its own job arrives with its issue. */
#include "workers/worker.h"

const struct worker_ops strategy_ops = {0};
