/* The market-data worker: for now only the shared runtime (config, READY, heartbeats,
 * shutdown); polling, validation and storage arrive with the exchange issue. */
#include "workers/worker.h"

const struct worker_ops market_data_ops = {0};
