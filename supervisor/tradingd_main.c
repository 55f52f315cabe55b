/* bin/tradingd: the supervisor (-c FILE), a config check (--check-config), or, when the
 * supervisor re-executes itself with -x ROLE, one of its workers. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "common/roles.h"
#include "common/job_spec.h"
#include "supervisor/sched_local.h"
#include "supervisor/supervisor.h"
#include "workers/worker.h"

#define EX_USAGE 64
#define EX_CONFIG 78

static void usage(FILE *out)
{
	fprintf(out,
		"usage: tradingd [-c FILE] [--check-config]\n"
		"       tradingd --version\n"
		"\n"
		"  -c, --config FILE   config file (default /etc/tradingd/tradingd.json)\n"
		"      --check-config  validate FILE, print every error as file:line:col, exit\n"
		"                      0 when valid, 78 (EX_CONFIG) when not\n"
		"      --config-keys   print every config key with type, default and meaning\n"
		"  -V, --version       print the version\n"
		"  -h, --help          this help\n"
		"\n"
		"tradingd runs in the foreground; an init system (systemd) supervises it.\n"
		"Internal: -x ROLE runs one worker; the supervisor starts those itself.\n");
}

/* The roles this binary hosts (ROLE_BIN_CORE); the others live in tradingd-net. */
static const struct worker_ops *const local_ops[ROLE_WORKER_COUNT] = {
	[ROLE_MAINTENANCE] = &maintenance_ops,
	[ROLE_STRATEGY] = &strategy_ops,
};

static const char *const type_names[] = {
	[CFG_OBJECT] = "object",
	[CFG_STRING] = "string",
	[CFG_INT] = "integer",
	[CFG_NUMBER] = "number",
	[CFG_BOOL] = "boolean",
	[CFG_ENUM] = "enum",
	[CFG_STRING_ARRAY] = "array of strings",
	[CFG_URL_LIST] = "string or array of strings",
	[CFG_TIMESTAMP] = "ISO-8601 time",
	[CFG_HOSTPORT] = "host:port",
};

/* One line per key, tab-separated: path, type, default, range or choices, meaning. */
static int print_config_keys(void)
{
	for (const struct config_key *k = config_schema; k->path; k++) {
		char range[64] = "";

		if (k->type == CFG_ENUM)
			snprintf(range, sizeof(range), "%s", k->choices);
		else if (k->type == CFG_INT)
			snprintf(range, sizeof(range), "%.0f..%.0f", k->min, k->max);
		else if (k->type == CFG_NUMBER)
			snprintf(range, sizeof(range), "%g..%g", k->min, k->max);
		printf("%s\t%s\t%s\t%s\t%s\n", k->path, type_names[k->type],
		       k->defval ? k->defval : "", range, k->doc);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'k'},
		{"config-keys", no_argument, NULL, 'K'},  {"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},	  {NULL, 0, NULL, 0},
	};
	const char *config_path = "/etc/tradingd/tradingd.json";
	const char *role = NULL;
	int check = 0, opt;

	/* Jobs may name the supervisor's local actions: the config checks them against its table. */
	job_spec_local_known = sched_local_known;

	while ((opt = getopt_long(argc, argv, "+c:x:Vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'x':
			role = optarg;
			break;
		case 'k':
			check = 1;
			break;
		case 'K':
			return print_config_keys();
		case 'V':
			printf("tradingd %s\n", TRADINGD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (role) {
		int r;

		r = role_parse(role);
		if (r < 0 || r >= ROLE_WORKER_COUNT || !local_ops[r]) {
			fprintf(stderr, "tradingd: no worker role \"%s\" in this binary%s\n", role,
				r >= 0 && role_info((enum role)r)->binary == ROLE_BIN_NET
					? " (it runs in " ROLE_NET_BINARY ")"
				: r >= 0 && role_info((enum role)r)->binary == ROLE_BIN_API
					? " (it runs in " ROLE_API_BINARY ")"
					: "");
			return EX_USAGE;
		}
		return worker_run((enum role)r, local_ops[r]);
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (check) {
		struct config cfg;
		int rc = config_load(&cfg, config_path, CONFIG_FULL);

		if (rc < 0)
			config_print_errors(&cfg, stderr);
		else
			printf("%s: valid\n", config_path);
		config_free(&cfg);
		return rc < 0 ? EX_CONFIG : 0;
	}
	return supervisor_run(config_path);
}
