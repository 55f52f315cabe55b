/* Retry delays: exponential back-off with full jitter, sleep = rand(0, min(cap, base * 2^n)).
 * The random source is a caller-owned state so tests are deterministic. */
#ifndef TD_BACKOFF_H
#define TD_BACKOFF_H

#include <stdint.h>

struct backoff_policy {
	int64_t base_ms;  /* 500 by default */
	int64_t cap_ms;	  /* 60000 by default */
	int max_attempts; /* total tries including the first; 1 means no retry */
};

/* Fills the documented defaults: base 500 ms, cap 60 s, 4 attempts. */
void backoff_policy_default(struct backoff_policy *p);

/* min(cap, base * 2^retry) for retry = 0, 1, ...; never overflows. */
int64_t backoff_ceiling_ms(const struct backoff_policy *p, unsigned retry);
/* A uniformly random delay in [0, backoff_ceiling_ms(p, retry)]. */
int64_t backoff_delay_ms(const struct backoff_policy *p, unsigned retry, uint64_t *rng);

/* splitmix64: seed the state with anything, including 0. */
uint64_t backoff_rng_next(uint64_t *state);

#endif
