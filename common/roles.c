/* The processes tradingd supervises, as one table: name, binary, start order, dependencies,
 * the config sections each receives, and whether it may talk to the network. */
#include "roles.h"

#include <stddef.h>
#include <string.h>

static const struct role_info roles[ROLE_COUNT] = {
	[ROLE_SIM] = {"upbit-sim", ROLE_BIN_SIM, 0, 0, {NULL}, 0, 1},
	/* The notifier speaks HTTP (Telegram, webhooks): it lives in the libcurl binary. */
	[ROLE_NOTIFIER] = {"notifier", ROLE_BIN_NET, 1, 0, {"notifier", NULL}, 1, 0},
	[ROLE_MAINTENANCE] =
		{"maintenance", ROLE_BIN_CORE, 2, 0, {"maintenance", NULL}, 0, 0, 10, 1},
	[ROLE_MARKET_DATA] = {"market-data",
			      ROLE_BIN_NET,
			      3,
			      ROLE_BIT(ROLE_SIM),
			      {"exchange", "market_data", NULL},
			      1,
			      0},
	[ROLE_ORDER_EXECUTION] = {"order-execution",
				  ROLE_BIN_NET,
				  4,
				  ROLE_BIT(ROLE_SIM),
				  {"exchange", "sim", "orders", NULL},
				  1,
				  1},
	[ROLE_STRATEGY] = {"strategy",
			   ROLE_BIN_CORE,
			   5,
			   ROLE_BIT(ROLE_MARKET_DATA) | ROLE_BIT(ROLE_ORDER_EXECUTION),
			   {"market_data", "strategy", NULL},
			   0,
			   0},
	/* HTTP on loopback only, in its own small binary; no section with a secret. */
	[ROLE_API] = {"api", ROLE_BIN_API, 2, 0, {"api", NULL}, 0, 0},
};

const struct role_info *role_info(enum role role)
{
	return (unsigned)role < ROLE_COUNT ? &roles[role] : NULL;
}

const char *role_name(enum role role)
{
	return (unsigned)role < ROLE_COUNT ? roles[role].name : "unknown";
}

int role_parse(const char *name)
{
	for (int i = 0; i < ROLE_COUNT; i++)
		if (strcmp(name, roles[i].name) == 0)
			return i;
	return -1;
}

const enum role *role_start_order(void)
{
	static enum role order[ROLE_COUNT];
	static int built;

	if (!built) {
		/* Insertion by rank: a handful of roles, computed once. */
		for (int i = 0; i < ROLE_COUNT; i++) {
			int j = i;

			while (j > 0 && roles[order[j - 1]].start_rank > roles[i].start_rank) {
				order[j] = order[j - 1];
				j--;
			}
			order[j] = (enum role)i;
		}
		built = 1;
	}
	return order;
}

int role_receives_section(enum role role, const char *section)
{
	const struct role_info *info = role_info(role);

	for (int i = 0; info && i < ROLE_MAX_SECTIONS && info->sections[i]; i++)
		if (strcmp(info->sections[i], section) == 0)
			return 1;
	return 0;
}
