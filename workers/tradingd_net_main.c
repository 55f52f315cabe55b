/* bin/tradingd-net: the worker binary of the roles that speak HTTP(S) to the outside
 * (role_info()->binary == ROLE_BIN_NET), the only one linked with libcurl and OpenSSL. */
#include <stdio.h>
#include <string.h>

#include "common/roles.h"
#include "workers/worker.h"

#define EX_USAGE 64

static const struct worker_ops *const net_ops[ROLE_WORKER_COUNT] = {
	[ROLE_MARKET_DATA] = &market_data_ops,
	[ROLE_ORDER_EXECUTION] = &order_execution_ops,
	[ROLE_NOTIFIER] = &notifier_ops,
};

int main(int argc, char **argv)
{
	int role;

	if (argc != 3 || strcmp(argv[1], "-x") != 0) {
		fprintf(stderr,
			"usage: %s -x ROLE\n"
			"(started by tradingd; not meant to be run by hand)\n",
			argv[0]);
		return EX_USAGE;
	}
	role = role_parse(argv[2]);
	if (role < 0 || role >= ROLE_WORKER_COUNT || !net_ops[role] ||
	    role_info((enum role)role)->binary != ROLE_BIN_NET) {
		fprintf(stderr, "%s: no worker role \"%s\" in this binary\n", argv[0], argv[2]);
		return EX_USAGE;
	}
	return worker_run((enum role)role, net_ops[role]);
}
