/* Rate-limited logging for repeated events (invalid exchange data, say): the first occurrence
 * is logged, then at most one summary per interval with the count suppressed in between. */
#ifndef TD_LOG_LIMIT_H
#define TD_LOG_LIMIT_H

#include <stdint.h>

struct log_limit {
	int64_t interval_ms;
	int64_t last_ms; /* when we last let a line through; 0: never */
	uint64_t suppressed;
};

void log_limit_init(struct log_limit *l, int64_t interval_ms);
/* 1 when this occurrence should be logged; *suppressed then holds how many were held back since
 * the last logged one. 0 when it should be counted and dropped. */
int log_limit_allow(struct log_limit *l, int64_t now_ms, uint64_t *suppressed);

#endif
