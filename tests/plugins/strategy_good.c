/* A strategy plugin built by the test suite: the current interface version; it enters once a
 * day at the first fresh price inside the window, through the worker's checks like any other. */
#include <stdio.h>

#include "workers/strategy_api.h"

static int good_init(struct strat_market *m, char *err, size_t len)
{
	(void)err;
	(void)len;
	m->priv = NULL;
	return 0;
}

static void good_on_tick(struct strat_market *m, int64_t now_ms)
{
	(void)now_ms;
	if (m->window_open && m->price > 0 && !m->host->signal_exists(m, "entry"))
		m->host->enter(m, m->price, "test plugin: first price of the day");
}

static const struct strategy_impl good = {
	.api_version = STRATEGY_API_VERSION,
	.name = "test_plugin",
	.init = good_init,
	.on_tick = good_on_tick,
};

const struct strategy_impl *tradingd_strategy(void)
{
	return &good;
}
