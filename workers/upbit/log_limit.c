/* Rate-limited logging for repeated events (invalid exchange data, say): the first occurrence
 * is logged, then at most one summary per interval with the count suppressed in between. */
#include "log_limit.h"

void log_limit_init(struct log_limit *l, int64_t interval_ms)
{
	l->interval_ms = interval_ms > 0 ? interval_ms : 60000;
	l->last_ms = 0;
	l->suppressed = 0;
}

int log_limit_allow(struct log_limit *l, int64_t now_ms, uint64_t *suppressed)
{
	if (l->last_ms != 0 && now_ms - l->last_ms < l->interval_ms) {
		l->suppressed++;
		return 0;
	}
	*suppressed = l->suppressed;
	l->suppressed = 0;
	l->last_ms = now_ms ? now_ms : 1;
	return 1;
}
