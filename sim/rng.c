/* Seeded pseudo-random numbers for the simulator (splitmix64).
 * Deterministic on purpose: one --seed always gives the same price history and fault draws. */
#include "sim/sim_state.h"

#include <math.h>

void rng_seed(struct sim_rng *r, uint64_t seed)
{
	r->s = seed ^ 0x9e3779b97f4a7c15ULL;
}

uint64_t rng_next(struct sim_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double rng_unit(struct sim_rng *r)
{
	return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

double rng_normal(struct sim_rng *r)
{
	/* Box-Muller; u1 is kept away from 0 so log() stays finite. */
	double u1 = rng_unit(r) * (1.0 - 1e-12) + 1e-12;
	double u2 = rng_unit(r);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
