/* A circuit breaker (closed / open / half-open) for one base URL and request group: it opens on
 * consecutive or windowed failures and, after a cool-down, lets exactly one probe through. */
#include "breaker.h"

#include <string.h>

void breaker_init(struct breaker *b, const struct breaker_config *cfg, int64_t now_ms)
{
	memset(b, 0, sizeof(*b));
	if (cfg)
		b->cfg = *cfg;
	if (b->cfg.consecutive_failures == 0)
		b->cfg.consecutive_failures = 5;
	if (b->cfg.window_failures == 0)
		b->cfg.window_failures = 10;
	if (b->cfg.window_failures > BREAKER_WINDOW_MAX)
		b->cfg.window_failures = BREAKER_WINDOW_MAX;
	if (b->cfg.window_ms <= 0)
		b->cfg.window_ms = 30000;
	if (b->cfg.cooldown_ms <= 0)
		b->cfg.cooldown_ms = 5000;
	if (b->cfg.cooldown_max_ms <= 0)
		b->cfg.cooldown_max_ms = b->cfg.cooldown_ms > 60000 ? b->cfg.cooldown_ms : 60000;
	else if (b->cfg.cooldown_ms > b->cfg.cooldown_max_ms)
		/* The cap bounds how long a host that is back waits for its probe: it wins over
		 * the first cool-down too. */
		b->cfg.cooldown_ms = b->cfg.cooldown_max_ms;
	b->state = BREAKER_CLOSED;
	b->cooldown_cur_ms = b->cfg.cooldown_ms;
	b->changed_at_ms = now_ms;
}

const char *breaker_state_name(enum breaker_state s)
{
	switch (s) {
	case BREAKER_CLOSED:
		return "closed";
	case BREAKER_OPEN:
		return "open";
	case BREAKER_HALF_OPEN:
		return "half-open";
	}
	return "unknown";
}

static void set_state(struct breaker *b, enum breaker_state s, int64_t now_ms)
{
	b->state = s;
	b->changed_at_ms = now_ms;
	if (s == BREAKER_OPEN) {
		b->opened_at_ms = now_ms;
		b->n_opened++;
	}
}

int breaker_allow(struct breaker *b, int64_t now_ms)
{
	switch (b->state) {
	case BREAKER_CLOSED:
		return 1;
	case BREAKER_OPEN:
		if (now_ms - b->opened_at_ms < b->cooldown_cur_ms)
			return 0;
		set_state(b, BREAKER_HALF_OPEN, now_ms);
		b->probe_in_flight = 1;
		return 1;
	case BREAKER_HALF_OPEN:
		if (b->probe_in_flight)
			return 0;
		b->probe_in_flight = 1;
		return 1;
	}
	return 0;
}

void breaker_release(struct breaker *b)
{
	if (b->state == BREAKER_HALF_OPEN)
		b->probe_in_flight = 0;
}

/* Failures within the window, counting the one just recorded. */
static unsigned failures_in_window(const struct breaker *b, int64_t now_ms)
{
	unsigned n = 0;

	for (unsigned i = 0; i < b->ring_used; i++)
		if (now_ms - b->fail_ring[i] <= b->cfg.window_ms)
			n++;
	return n;
}

int breaker_record(struct breaker *b, int success, int64_t now_ms)
{
	enum breaker_state before = b->state;

	if (success) {
		b->n_success++;
		b->consecutive = 0;
		if (b->state != BREAKER_CLOSED) {
			b->probe_in_flight = 0;
			b->cooldown_cur_ms = b->cfg.cooldown_ms;
			b->ring_used = 0;
			b->ring_next = 0;
			set_state(b, BREAKER_CLOSED, now_ms);
		}
		return before != b->state;
	}
	b->n_failure++;
	b->consecutive++;
	b->fail_ring[b->ring_next] = now_ms;
	b->ring_next = (b->ring_next + 1) % b->cfg.window_failures;
	if (b->ring_used < b->cfg.window_failures)
		b->ring_used++;
	if (b->state == BREAKER_HALF_OPEN) {
		/* The probe failed: wait longer before the next one. */
		b->probe_in_flight = 0;
		b->cooldown_cur_ms *= 2;
		if (b->cooldown_cur_ms > b->cfg.cooldown_max_ms)
			b->cooldown_cur_ms = b->cfg.cooldown_max_ms;
		set_state(b, BREAKER_OPEN, now_ms);
	} else if (b->state == BREAKER_CLOSED &&
		   (b->consecutive >= b->cfg.consecutive_failures ||
		    failures_in_window(b, now_ms) >= b->cfg.window_failures)) {
		set_state(b, BREAKER_OPEN, now_ms);
	}
	return before != b->state;
}

void breaker_status(const struct breaker *b, int64_t now_ms, struct breaker_status *out)
{
	memset(out, 0, sizeof(*out));
	out->state = b->state;
	out->consecutive_failures = b->consecutive;
	if (b->state == BREAKER_OPEN) {
		int64_t left = b->opened_at_ms + b->cooldown_cur_ms - now_ms;

		out->retry_in_ms = left > 0 ? left : 0;
	}
	out->since_ms = b->changed_at_ms;
	out->successes = b->n_success;
	out->failures = b->n_failure;
	out->opened = b->n_opened;
}

json_t *breaker_to_json(const struct breaker *b, int64_t now_ms)
{
	struct breaker_status st;

	breaker_status(b, now_ms, &st);
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "state", breaker_state_name(st.state),
			 "consecutive_failures", (json_int_t)st.consecutive_failures, "retry_in_ms",
			 (json_int_t)st.retry_in_ms, "successes", (json_int_t)st.successes,
			 "failures", (json_int_t)st.failures, "opened", (json_int_t)st.opened);
}
