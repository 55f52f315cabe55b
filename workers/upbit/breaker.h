/* A circuit breaker (closed / open / half-open) for one base URL and request group: it opens on
 * consecutive or windowed failures and, after a cool-down, lets exactly one probe through. */
#ifndef TD_BREAKER_H
#define TD_BREAKER_H

#include <jansson.h>
#include <stdint.h>

enum breaker_state { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN };

/* Bound on the failure-time ring; window_failures is clamped to it. */
#define BREAKER_WINDOW_MAX 32

struct breaker_config {
	unsigned consecutive_failures; /* open after this many in a row (default 5) */
	unsigned window_failures;      /* ... or this many within window_ms (default 10) */
	int64_t window_ms;	       /* default 30000 */
	int64_t cooldown_ms;	       /* open -> half-open (default 5000) */
	/* A failed probe doubles the cool-down up to this (60000); a cap below cooldown_ms lowers
	 * the first cool-down to it as well. */
	int64_t cooldown_max_ms;
};

struct breaker {
	struct breaker_config cfg;
	enum breaker_state state;
	unsigned consecutive;
	int64_t fail_ring[BREAKER_WINDOW_MAX];
	unsigned ring_next, ring_used;
	int64_t opened_at_ms;
	int64_t cooldown_cur_ms;
	int probe_in_flight;
	int64_t changed_at_ms;
	uint64_t n_success, n_failure, n_opened;
};

struct breaker_status {
	enum breaker_state state;
	unsigned consecutive_failures;
	int64_t retry_in_ms; /* until a probe may go (0 unless open) */
	int64_t since_ms;    /* when the state last changed (caller's clock) */
	uint64_t successes, failures, opened;
};

/* cfg NULL or zero fields take the defaults above. */
void breaker_init(struct breaker *b, const struct breaker_config *cfg, int64_t now_ms);
const char *breaker_state_name(enum breaker_state s);

/* 1 when a request may go now. An open breaker past its cool-down turns half-open and admits
 * exactly one probe; others are refused until breaker_record reports on it. */
int breaker_allow(struct breaker *b, int64_t now_ms);
/* Reports how a request admitted by breaker_allow ended. Returns 1 when the state changed. */
int breaker_record(struct breaker *b, int success, int64_t now_ms);
/* Gives back an admission that never turned into a request (no token, say). */
void breaker_release(struct breaker *b);

void breaker_status(const struct breaker *b, int64_t now_ms, struct breaker_status *out);
/* A new object {"state","consecutive_failures","retry_in_ms","successes","failures","opened"}. */
json_t *breaker_to_json(const struct breaker *b, int64_t now_ms);

#endif
