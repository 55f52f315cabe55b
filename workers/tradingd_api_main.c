/* bin/tradingd-api: the api worker's binary (role_info()->binary == ROLE_BIN_API), linked with
 * libmicrohttpd and not with libcurl or OpenSSL: what serves HTTP holds no exchange code. */
#include <stdio.h>
#include <string.h>

#include "common/roles.h"
#include "workers/worker.h"

#define EX_USAGE 64

int main(int argc, char **argv)
{
	if (argc != 3 || strcmp(argv[1], "-x") != 0 || role_parse(argv[2]) != ROLE_API) {
		fprintf(stderr,
			"usage: %s -x api\n"
			"(started by tradingd; not meant to be run by hand)\n",
			argv[0]);
		return EX_USAGE;
	}
	return worker_run(ROLE_API, &api_ops);
}
