/* The tick-to-order benchmark's strategy plugin: it enters as soon as a price crosses the
 * market's "target" parameter from below, once a day, through the worker's checks like any. */
#include <stdio.h>
#include <stdlib.h>

#include "workers/strategy_api.h"

struct cross {
	dec8 target;
	int armed; /* a price under the target was seen: the next one above it is a crossing */
};

static int cross_init(struct strat_market *m, char *err, size_t len)
{
	const char *t = m->host->param(m, "target");
	struct cross *c;
	char *end;
	long long krw = t ? strtoll(t, &end, 10) : 0;

	/* Whole KRW: the plugin uses nothing of the daemon's but the host table. */
	if (!t || *end || krw <= 0 || krw > 1000000000000LL) {
		snprintf(err, len, "cross: parameter target=KRW (a whole number) is required");
		return -1;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, len, "cross: out of memory");
		return -1;
	}
	c->target = (dec8)krw * 100000000;
	m->priv = c;
	return 0;
}

static void cross_on_tick(struct strat_market *m, int64_t now_ms)
{
	struct cross *c = m->priv;

	(void)now_ms;
	if (m->price <= 0)
		return;
	if (m->price < c->target) {
		c->armed = 1;
		return;
	}
	if (c->armed && m->window_open && !m->host->signal_exists(m, "entry")) {
		c->armed = 0;
		m->host->enter(m, m->price, "bench: the price crossed the target");
	}
}

static void cross_fini(struct strat_market *m)
{
	free(m->priv);
	m->priv = NULL;
}

static const struct strategy_impl cross = {
	.api_version = STRATEGY_API_VERSION,
	.name = "bench_cross",
	.init = cross_init,
	.on_tick = cross_on_tick,
	.fini = cross_fini,
};

const struct strategy_impl *tradingd_strategy(void)
{
	return &cross;
}
