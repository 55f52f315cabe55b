/* A strategy plugin built for another interface version: the worker must refuse it. */
#include "workers/strategy_api.h"

static int wrong_init(struct strat_market *m, char *err, size_t len)
{
	(void)m;
	(void)err;
	(void)len;
	return 0;
}

static const struct strategy_impl wrong = {
	.api_version = STRATEGY_API_VERSION + 41,
	.name = "wrong_version",
	.init = wrong_init,
};

const struct strategy_impl *tradingd_strategy(void)
{
	return &wrong;
}
