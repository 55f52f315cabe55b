/* The order-execution worker: for now only the shared runtime (config, READY, heartbeats, shutdown);
 * its own job arrives with its issue. */
#include "workers/worker.h"

const struct worker_ops order_execution_ops = {0};
