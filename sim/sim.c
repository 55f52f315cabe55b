/* The simulator as a whole: builds markets, accounts and tables from the configuration,
 * and runs the engine tick that moves prices, applies cancels and fills resting orders. */
#include "sim/sim_state.h"

#include "common/clock.h"
#include "common/log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *code;
	double price;
} known_prices[] = {
	{"KRW-BTC", 145000000}, {"KRW-ETH", 5200000}, {"KRW-XRP", 3100},
	{"KRW-SOL", 280000},	{"KRW-DOGE", 450},
};

int sim_market_index(const struct sim *s, const char *code)
{
	int i;

	for (i = 0; i < s->nmarkets; i++)
		if (strcmp(s->markets[i].code, code) == 0)
			return i;
	return -1;
}

/* A realistic-looking price for a market we know nothing about: log-uniform 10..1e6 KRW. */
static double synthetic_price(uint64_t seed, const char *code)
{
	struct sim_rng r;
	uint64_t h = 1469598103934665603ULL;
	const char *p;

	for (p = code; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	rng_seed(&r, seed ^ h);
	return round_to_tick(pow(10.0, 1.0 + 5.0 * rng_unit(&r)));
}

static double start_price(const struct sim_config *cfg, const char *code)
{
	size_t i;

	for (i = 0; i < sizeof(known_prices) / sizeof(known_prices[0]); i++)
		if (strcmp(known_prices[i].code, code) == 0)
			return known_prices[i].price;
	return synthetic_price(cfg->seed, code);
}

int sim_init(struct sim *s, const struct sim_config *cfg, char *err, size_t errlen)
{
	int64_t now = clock_now_ms();
	char codes[SIM_MAX_MARKETS][24];
	int n = 0, i, g;

	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	for (i = 0; i < cfg->nmarkets; i++)
		memcpy(codes[n++], cfg->markets[i], sizeof(codes[0]));
	for (i = 1; n < cfg->markets_count && n < SIM_MAX_MARKETS; i++) {
		char code[24];
		int j, dup = 0;

		snprintf(code, sizeof(code), "KRW-C%03d", i);
		for (j = 0; j < n; j++)
			dup |= strcmp(codes[j], code) == 0;
		if (!dup)
			memcpy(codes[n++], code, sizeof(codes[0]));
	}
	for (i = 0; i < n; i++) {
		if (market_init(&s->markets[i], codes[i], start_price(cfg, codes[i]), (unsigned)i,
				&cfg->pp, now) < 0) {
			snprintf(err, errlen, "cannot set up market %s", codes[i]);
			s->nmarkets = i;
			return -1;
		}
		s->nmarkets = i + 1;
	}
	if (cfg->candles_file[0] &&
	    replay_load(cfg->candles_file, codes[0], s->markets, (size_t)n, err, errlen) < 0)
		return -1;
	/* Generate the history window up to now, before anyone can ask for it. */
	for (i = 0; i < n; i++)
		market_advance(&s->markets[i], &cfg->pp, now, NULL, NULL);
	s->naccounts = cfg->naccounts;
	s->accounts = calloc((size_t)cfg->naccounts, sizeof(*s->accounts));
	s->nonces = calloc(1, sizeof(*s->nonces));
	if (!s->accounts || !s->nonces || recorder_init(&s->rec, (size_t)cfg->record_cap) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(s->accounts, cfg->accounts, (size_t)cfg->naccounts * sizeof(*s->accounts));
	for (i = 0; i < s->naccounts; i++) {
		for (g = 0; g < n; g++)
			if (s->accounts[i].coins[g].balance > 0)
				s->accounts[i].coins[g].avg_buy_price = s->markets[g].last_price;
	}
	s->orders.max = (size_t)cfg->max_orders;
	rl_init(&s->rl);
	s->rl.ban_after = cfg->ban_after;
	s->rl.ban_ms = cfg->ban_ms;
	for (g = 0; g < RL_NGROUPS; g++)
		if (cfg->rate_override[g])
			s->rl.limit[g] = cfg->rate_override[g];
	faults_init(&s->faults, cfg->seed);
	return 0;
}

void sim_free(struct sim *s)
{
	int i;

	for (i = 0; i < s->nmarkets; i++)
		market_free(&s->markets[i]);
	orders_free(&s->orders);
	recorder_free(&s->rec);
	free(s->accounts);
	free(s->nonces);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
}

static void on_tick(void *ctx, struct sim_market *m, const struct sim_tick *t)
{
	order_match_tick(ctx, m, t);
}

void sim_engine_tick(struct sim *s)
{
	int64_t now = clock_now_ms();
	int i;

	pthread_mutex_lock(&s->lock);
	/* Cancels asked for since the last tick take effect before any new trade can fill them. */
	orders_apply_cancels(s);
	for (i = 0; i < s->nmarkets; i++)
		market_advance(&s->markets[i], &s->cfg.pp, now, on_tick, s);
	pthread_mutex_unlock(&s->lock);
}
