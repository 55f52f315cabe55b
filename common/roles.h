/* The processes tradingd supervises, in start order: a worker starts after those it depends on
 * and is stopped before them. */
#ifndef TD_ROLES_H
#define TD_ROLES_H

enum role {
	ROLE_NOTIFIER,
	ROLE_MAINTENANCE,
	ROLE_MARKET_DATA,
	ROLE_ORDER_EXECUTION,
	ROLE_STRATEGY,
	ROLE_WORKER_COUNT,
	ROLE_SIM = ROLE_WORKER_COUNT, /* the exchange simulator: supervised, but no IPC */
	ROLE_COUNT,
};

const char *role_name(enum role role);
/* -1 when name is not a role. */
int role_parse(const char *name);
/* 1 for the roles that talk to the exchange (market-data, order-execution): they run in the
 * tradingd-exchange binary, the only one linked with libcurl and OpenSSL. */
int role_is_exchange(enum role role);

#endif
