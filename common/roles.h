/* The processes tradingd supervises, as one table: name, binary, start order, dependencies,
 * the config sections each receives, and whether it may talk to the network. Adding a role is
 * one enum entry here and one row in roles.c. */
#ifndef TD_ROLES_H
#define TD_ROLES_H

enum role {
	ROLE_NOTIFIER,
	ROLE_MAINTENANCE,
	ROLE_MARKET_DATA,
	ROLE_ORDER_EXECUTION,
	ROLE_STRATEGY,
	ROLE_API, /* serves /metrics on loopback; asks the supervisor over IPC */
	ROLE_WORKER_COUNT,
	ROLE_SIM = ROLE_WORKER_COUNT, /* the exchange simulator: READY and PING only, no CONFIG */
	ROLE_COUNT,
};

/* Which executable runs a role: the small static tradingd, the one linked with libcurl and
 * OpenSSL for the roles that speak HTTP(S) to the outside, or the simulator. */
enum role_binary {
	ROLE_BIN_CORE,
	ROLE_BIN_NET,
	ROLE_BIN_SIM,
	ROLE_BIN_API, /* tradingd-api: libmicrohttpd, without libcurl or OpenSSL */
};

#define ROLE_NET_BINARY "tradingd-net"
#define ROLE_API_BINARY "tradingd-api"
#define ROLE_SIM_BINARY "upbit-sim"
/* The simulator's accounts (with their secrets), one per line, in its environment: a command
 * line is readable by every local user, the environment of an undumpable process by root. */
#define SIM_ACCOUNTS_ENV "UPBIT_SIM_ACCOUNTS"
#define ROLE_MAX_SECTIONS 8

struct role_info {
	const char *name;
	enum role_binary binary;
	/* Lower starts first and stops last; every dependency has a lower rank (tested). */
	int start_rank;
	unsigned depends_on; /* bit r: role r must be started before this one */
	/* Config sections the worker receives besides the common top-level keys; NULL-ended. */
	const char *sections[ROLE_MAX_SECTIONS];
	int network;	   /* talks to hosts outside the machine */
	int secret_holder; /* receives the exchange account secrets (sim.accounts, keys) */
	/* Resources: the worker lowers its CPU priority by nice and, with io_low, takes the
	 * lowest best-effort I/O priority at start, so that its jobs never slow trading. */
	int nice;
	int io_low;
};

#define ROLE_BIT(r) (1u << (r))

const struct role_info *role_info(enum role role);
const char *role_name(enum role role);
/* -1 when name is not a role. */
int role_parse(const char *name);
/* The roles in start order (ROLE_COUNT entries); stop order is the reverse. */
const enum role *role_start_order(void);
/* 1 when the role's worker receives config section (a top-level key such as "exchange"). */
int role_receives_section(enum role role, const char *section);

#endif
