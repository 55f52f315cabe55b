/* Retry delays: exponential back-off with full jitter, sleep = rand(0, min(cap, base * 2^n)).
 * The random source is a caller-owned state so tests are deterministic. */
#include "backoff.h"

void backoff_policy_default(struct backoff_policy *p)
{
	p->base_ms = 500;
	p->cap_ms = 60000;
	p->max_attempts = 4;
}

int64_t backoff_ceiling_ms(const struct backoff_policy *p, unsigned retry)
{
	int64_t ms = p->base_ms > 0 ? p->base_ms : 1;

	for (unsigned i = 0; i < retry && ms < p->cap_ms; i++)
		ms *= 2;
	return ms < p->cap_ms ? ms : p->cap_ms;
}

uint64_t backoff_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int64_t backoff_delay_ms(const struct backoff_policy *p, unsigned retry, uint64_t *rng)
{
	int64_t ceiling = backoff_ceiling_ms(p, retry);

	if (ceiling <= 0)
		return 0;
	return (int64_t)(backoff_rng_next(rng) % (uint64_t)(ceiling + 1));
}
