/* bin/tradingd-exchange: the worker binary of the roles that talk to the exchange (market-data,
 * order-execution), the only one linked with libcurl and OpenSSL. The supervisor starts it. */
#include <stdio.h>
#include <string.h>

#include "common/roles.h"
#include "workers/worker.h"

#define EX_USAGE 64

int main(int argc, char **argv)
{
	int role;

	if (argc != 3 || strcmp(argv[1], "-x") != 0) {
		fprintf(stderr,
			"usage: %s -x market-data|order-execution\n"
			"(started by tradingd; not meant to be run by hand)\n",
			argv[0]);
		return EX_USAGE;
	}
	role = role_parse(argv[2]);
	if (role == ROLE_MARKET_DATA)
		return worker_run(ROLE_MARKET_DATA, &market_data_ops);
	if (role == ROLE_ORDER_EXECUTION)
		return worker_run(ROLE_ORDER_EXECUTION, &order_execution_ops);
	fprintf(stderr, "%s: no worker role \"%s\" in this binary\n", argv[0], argv[2]);
	return EX_USAGE;
}
