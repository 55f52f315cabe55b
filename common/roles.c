/* The processes tradingd supervises, in start order: a worker starts after those it depends on
 * and is stopped before them. */
#include "roles.h"

#include <string.h>

static const char *const role_names[ROLE_COUNT] = {
	[ROLE_NOTIFIER] = "notifier",	    [ROLE_MAINTENANCE] = "maintenance",
	[ROLE_MARKET_DATA] = "market-data", [ROLE_ORDER_EXECUTION] = "order-execution",
	[ROLE_STRATEGY] = "strategy",	    [ROLE_SIM] = "upbit-sim",
};

const char *role_name(enum role role)
{
	return (unsigned)role < ROLE_COUNT ? role_names[role] : "unknown";
}

int role_parse(const char *name)
{
	for (int i = 0; i < ROLE_COUNT; i++)
		if (strcmp(name, role_names[i]) == 0)
			return i;
	return -1;
}

int role_is_exchange(enum role role)
{
	return role == ROLE_MARKET_DATA || role == ROLE_ORDER_EXECUTION;
}
