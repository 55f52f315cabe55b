/* The /metrics page: the supervisor's METRICS JSON (supervisor/metrics_reply.c) made into
 * Prometheus metric families named by its conventions (tradingd_..._total, base units). */
#ifndef TD_API_METRICS_H
#define TD_API_METRICS_H

#include <jansson.h>
#include <stdint.h>

#include "workers/prom_text.h"

/* What the api worker counts of itself. */
struct api_counters {
	uint64_t requests_ok, requests_not_found, requests_bad_method, requests_unavailable;
	uint64_t supervisor_timeouts;
};

/* Writes every family into b from m (a METRICS answer) and the api's own counters. Members
 * missing from m are skipped: a worker that has not reported yet has no samples. */
void api_metrics_text(const json_t *m, const struct api_counters *c, struct prom_buf *b);

#endif
