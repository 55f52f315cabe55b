/* tradectl's command line: the command table, option parsing, the request it becomes, and where
 * the control socket is. Pure functions, so the unit tests link them from libtd.a. */
#include "ctl.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct ctl_command_info ctl_commands[] = {
	{"status", CTL_CMD_STATUS, 0, -1, "status [NAME...]",
	 "state of every process, or of each NAME ('all': every process)"},
	{"start", CTL_CMD_START, 1, -1, "start NAME...|all",
	 "start the processes; answers once they are RUNNING"},
	{"stop", CTL_CMD_STOP, 1, -1, "stop NAME...|all",
	 "stop the processes; answers once they have exited"},
	{"restart", CTL_CMD_RESTART, 1, -1, "restart NAME...|all",
	 "stop, then start the processes; answers once they are RUNNING"},
	{"reload", CTL_CMD_RELOAD, 0, 0, "reload", "re-read the daemon's config file and apply it"},
	{"shutdown", CTL_CMD_SHUTDOWN, 0, 0, "shutdown", "stop every process, then the daemon"},
	{"pid", CTL_CMD_PID, 0, 1, "pid [NAME]", "pid of the daemon, or of NAME (0: not running)"},
	{"version", CTL_CMD_VERSION, 0, 0, "version", "versions of tradectl and of the daemon"},
	{"top", CTL_CMD_TOP, 0, 0, "top [--once]",
	 "CPU, memory and fds per process, and the system; refreshes every 2 s until ^C"},
	{"backup", CTL_CMD_BACKUP, 0, 0, "backup",
	 "make a verified backup of the database now (then rotate); answers when done"},
	{"cleanup", CTL_CMD_CLEANUP, 0, 0, "cleanup",
	 "the midnight chain now: backup, prune, checkpoint, daily summary"},
	{"backups", CTL_CMD_BACKUPS, 0, 0, "backups", "the backups kept: time, size, verified"},
	{"restore", CTL_CMD_RESTORE, 1, 1, "restore FILE",
	 "replace the database by a verified backup (workers stopped, then started)"},
	{"config", CTL_CMD_CONFIG, 1, 3, "config show [V]|history|diff V1 V2|rollback [V]",
	 "config versions: the text, the list, what changed, apply an earlier one"},
	{"alerts", CTL_CMD_ALERTS, 0, -1, "alerts [send ...]",
	 "alert sinks, open and recent alerts; send SEVERITY KIND TEXT: a test alert"},
	{"jobs", CTL_CMD_JOBS, 0, 2, "jobs [history|rollback [V]]",
	 "the jobs (schedule, next run in its zone, last result); their audited changes; undo "
	 "change V (default: the latest) and the later ones of its job"},
	{"job", CTL_CMD_JOB, 2, -1, "job run|pause|resume NAME",
	 "run NAME now, or pause/resume it (audited); job set NAME KEY=VALUE... changes its "
	 "keys (audited)"},
	{"pause", CTL_CMD_PAUSE, 0, 1, "pause [--cancel-open]",
	 "kill switch: no new entries (kept across restarts); --cancel-open also cancels every "
	 "open order"},
	{"resume", CTL_CMD_RESUME, 0, 0, "resume", "lift the kill switch: entries allowed again"},
	{"positions", CTL_CMD_POSITIONS, 0, 0, "positions",
	 "each market's position: volume, cost, realised PnL, fees"},
	{"orders", CTL_CMD_ORDERS, 0, 3, "orders [--open] [--days N]",
	 "order intents and their orders (default: the last 7 days; --open: still working)"},
	{"trades", CTL_CMD_TRADES, 0, 2, "trades [--days N]",
	 "fills: price, volume, fee, realised PnL (default: the last 7 days)"},
	{"pnl", CTL_CMD_PNL, 0, 2, "pnl [--days N]",
	 "realised PnL and fees per day (default: the last 7 days)"},
	{"help", CTL_CMD_HELP, 0, -1, "help", "this text"},
	{NULL, 0, 0, 0, NULL, NULL},
};

const struct ctl_command_info *ctl_command_find(const char *name)
{
	for (const struct ctl_command_info *c = ctl_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

void ctl_options_free(struct ctl_options *opt)
{
	free(opt->args);
	opt->args = NULL;
	opt->nargs = 0;
}

/* Takes the value of -c/--config or -s/--socket in its three spellings: "-cFILE", "-c FILE",
 * "--config=FILE". Returns 1 when argv[*i] was this option, 0 when not, -1 on a usage error. */
static int take_value(int argc, char **argv, int *i, char letter, const char *longname,
		      const char *what, const char **value, char *err, size_t errlen)
{
	const char *a = argv[*i];
	size_t longlen = strlen(longname);

	if (a[0] == '-' && a[1] == letter) {
		if (a[2] != '\0') {
			*value = a + 2;
		} else if (*i + 1 < argc) {
			*value = argv[++*i];
		} else {
			snprintf(err, errlen, "option -%c needs a %s", letter, what);
			return -1;
		}
	} else if (strncmp(a, "--", 2) == 0 && strncmp(a + 2, longname, longlen) == 0 &&
		   (a[2 + longlen] == '\0' || a[2 + longlen] == '=')) {
		if (a[2 + longlen] == '=') {
			*value = a + 3 + longlen;
		} else if (*i + 1 < argc) {
			*value = argv[++*i];
		} else {
			snprintf(err, errlen, "option --%s needs a %s", longname, what);
			return -1;
		}
	} else {
		return 0;
	}
	if ((*value)[0] == '\0') {
		snprintf(err, errlen, "option -%c: empty %s", letter, what);
		return -1;
	}
	return 1;
}

/* orders, trades and pnl: the reports with --open and --days. */
static int is_trading_report(enum ctl_command cmd)
{
	return cmd == CTL_CMD_ORDERS || cmd == CTL_CMD_TRADES || cmd == CTL_CMD_PNL;
}

/* orders [--open] [--days N], trades and pnl [--days N]: N a whole number of days, 1..3650. */
static int report_args_check(const struct ctl_options *opt, char *err, size_t errlen)
{
	const char *name = opt->command->name;
	int open = 0, days = 0;

	for (int i = 0; i < opt->nargs; i++) {
		const char *a = opt->args[i], *n = NULL;
		char *end;
		long v;

		if (strcmp(a, "--open") == 0 && opt->command->command == CTL_CMD_ORDERS && !open) {
			open = 1;
			continue;
		}
		if (strcmp(a, "--days") == 0 && i + 1 < opt->nargs)
			n = opt->args[++i];
		else if (strncmp(a, "--days=", 7) == 0)
			n = a + 7;
		if (!n || days) {
			snprintf(err, errlen, "%s: unexpected '%.64s' (see tradectl --help)", name,
				 a);
			return -1;
		}
		v = strtol(n, &end, 10);
		if (*n == '\0' || *end != '\0' || v < 1 || v > 3650) {
			snprintf(err, errlen,
				 "%s: --days needs a number of days 1..3650, not '%.32s'", name, n);
			return -1;
		}
		days = 1;
	}
	return 0;
}

static int check_arg_count(const struct ctl_options *opt, char *err, size_t errlen)
{
	const struct ctl_command_info *c = opt->command;

	for (int i = 0; i < opt->nargs; i++) {
		if (opt->args[i][0] == '\0') {
			snprintf(err, errlen, "%s: empty NAME", c->name);
			return -1;
		}
	}
	if (opt->nargs < c->min_args &&
	    (c->command == CTL_CMD_CONFIG || c->command == CTL_CMD_RESTORE)) {
		snprintf(err, errlen, "usage: tradectl %s", c->synopsis);
		return -1;
	}
	if (opt->nargs < c->min_args && c->command == CTL_CMD_JOB) {
		snprintf(err, errlen,
			 "usage: job run|pause|resume NAME, or job set NAME KEY=VALUE...");
		return -1;
	}
	if (is_trading_report(c->command))
		return report_args_check(opt, err, errlen);
	if (opt->nargs < c->min_args) {
		snprintf(err, errlen, "%s needs a NAME, or 'all'", c->name);
		return -1;
	}
	if (c->max_args >= 0 && opt->nargs > c->max_args) {
		if (c->max_args == 0)
			snprintf(err, errlen, "%s takes no arguments", c->name);
		else if (c->command == CTL_CMD_CONFIG || c->command == CTL_CMD_RESTORE)
			snprintf(err, errlen, "usage: tradectl %s", c->synopsis);
		else if (c->command == CTL_CMD_JOBS)
			snprintf(err, errlen, "usage: %s", c->synopsis);
		else
			snprintf(err, errlen, "%s takes at most one NAME", c->name);
		return -1;
	}
	return 0;
}

int ctl_parse_args(int argc, char **argv, struct ctl_options *opt, char *err, size_t errlen)
{
	int only_args = 0;

	memset(opt, 0, sizeof(*opt));
	err[0] = '\0';
	opt->args = calloc(argc > 0 ? (size_t)argc : 1, sizeof(*opt->args));
	if (!opt->args) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Help wins over whatever else is wrong on the line. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			opt->help = 1;
			return 0;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r;

		if (only_args || a[0] != '-' || a[1] == '\0') {
			if (opt->command) {
				opt->args[opt->nargs++] = a;
				continue;
			}
			opt->command = ctl_command_find(a);
			if (!opt->command) {
				snprintf(err, errlen, "unknown command '%.64s'", a);
				return -1;
			}
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_args = 1;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			opt->json = 1;
			continue;
		}
		if (strcmp(a, "--once") == 0 && opt->command &&
		    opt->command->command == CTL_CMD_TOP) {
			opt->once = 1;
			continue;
		}
		if (opt->command && opt->command->command == CTL_CMD_PAUSE &&
		    strcmp(a, "--cancel-open") == 0) {
			opt->args[opt->nargs++] = a;
			continue;
		}
		/* The trading reports' own options travel as arguments; the daemon checks them. */
		if (opt->command && is_trading_report(opt->command->command) &&
		    (strcmp(a, "--open") == 0 || strcmp(a, "--days") == 0 ||
		     strncmp(a, "--days=", 7) == 0)) {
			opt->args[opt->nargs++] = a;
			if (strcmp(a, "--days") == 0 && i + 1 < argc)
				opt->args[opt->nargs++] = argv[++i];
			continue;
		}
		if (!opt->command) {
			r = take_value(argc, argv, &i, 'c', "config", "FILE", &opt->config_path,
				       err, errlen);
			if (r == 0)
				r = take_value(argc, argv, &i, 's', "socket", "PATH",
					       &opt->socket_path, err, errlen);
			if (r < 0)
				return -1;
			if (r > 0)
				continue;
		}
		snprintf(err, errlen, "unknown option '%.64s'", a);
		return -1;
	}
	if (opt->command && opt->command->command == CTL_CMD_HELP) {
		opt->help = 1;
		return 0;
	}
	if (!opt->command) {
		snprintf(err, errlen, "missing COMMAND");
		return -1;
	}
	/* supervisorctl's "status all" is plain "status". */
	if (opt->command->command == CTL_CMD_STATUS && opt->nargs == 1 &&
	    strcmp(opt->args[0], "all") == 0)
		opt->nargs = 0;
	return check_arg_count(opt, err, errlen);
}

char *ctl_request_json(const struct ctl_options *opt)
{
	json_t *req = json_object();
	json_t *args = json_array();
	char *text = NULL;

	if (!req || !args)
		goto out;
	for (int i = 0; i < opt->nargs; i++)
		if (json_array_append_new(args, json_string(opt->args[i])) < 0)
			goto out;
	if (json_object_set_new(req, "cmd", json_string(opt->command->name)) < 0)
		goto out;
	if (json_object_set(req, "args", args) < 0)
		goto out;
	text = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(args);
	json_decref(req);
	return text;
}

const char *ctl_default_config_path(void)
{
	const char *env = getenv(CTL_CONFIG_ENV);

	if (env && env[0])
		return env;
	if (access(CTL_SYSTEM_CONFIG, F_OK) == 0)
		return CTL_SYSTEM_CONFIG;
	return CTL_LOCAL_CONFIG;
}

int ctl_socket_path(const struct config *cfg, char *out, size_t len)
{
	const char *sock = cfg->s.control.socket;
	const char *dir;
	size_t dirlen;
	int n;

	if (sock[0]) {
		n = snprintf(out, len, "%s", sock);
	} else {
		dir = cfg->s.run_dir;
		dirlen = strlen(dir);
		while (dirlen > 0 && dir[dirlen - 1] == '/')
			dirlen--;
		n = snprintf(out, len, "%.*s/%s", (int)dirlen, dir, CTL_SOCKET_NAME);
	}
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* text after the 24-column synopsis field, folded at spaces to stay within 80 columns. */
static void print_wrapped(FILE *out, const char *text)
{
	const int width = 80 - 24;

	while ((int)strlen(text) > width) {
		int cut = width;

		while (cut > 0 && text[cut] != ' ')
			cut--;
		if (cut == 0)
			break;
		fprintf(out, "%.*s\n%24s", cut, text, "");
		text += cut + 1;
	}
	fprintf(out, "%s\n", text);
}

void ctl_usage(FILE *out)
{
	fprintf(out, "Usage: tradectl [-c CONFIG | -s SOCKET] [--json] COMMAND [ARGS]\n"
		     "\n"
		     "Controls a running tradingd through its control socket.\n"
		     "\n"
		     "Commands:\n");
	for (const struct ctl_command_info *c = ctl_commands; c->name; c++) {
		/* A long synopsis gets a line of its own. */
		if (strlen(c->synopsis) < 22)
			fprintf(out, "  %-22s", c->synopsis);
		else
			fprintf(out, "  %s\n  %-22s", c->synopsis, "");
		print_wrapped(out, c->doc);
	}
	fprintf(out,
		"\n"
		"Options:\n"
		"  -c, --config FILE     config file naming the socket (default: $" CTL_CONFIG_ENV
		",\n"
		"                        else " CTL_SYSTEM_CONFIG " if it exists,\n"
		"                        else " CTL_LOCAL_CONFIG ")\n"
		"  -s, --socket PATH     the control socket; wins over -c\n"
		"      --json            print the reply as JSON (status: {\"workers\":[...],"
		"\"daemon\":{...}})\n"
		"      --once            top: print one screen and exit (--json implies it)\n"
		"  -h, --help            this text\n"
		"\n"
		"The socket is control.socket of the config, or <run_dir>/" CTL_SOCKET_NAME
		" when that is\n"
		"empty. A relative path there is taken relative to the current directory, while "
		"the\n"
		"daemon takes it relative to its own: run tradectl where tradingd was started, or "
		"use -s.\n"
		"\n"
		"Environment:\n"
		"  " CTL_CONFIG_ENV "       the default config file\n"
		"  " CTL_TIMEOUT_ENV "   how long to wait for the daemon to answer, in ms (default "
		"%d);\n"
		"                        start, stop and restart then wait as long as the daemon "
		"says\n"
		"                        stopping or starting may take\n"
		"\n"
		"Exit status:\n"
		"  0  success\n"
		"  1  the daemon refused the command, or its reply was missing, late or malformed\n"
		"  2  usage error, or the config file could not be loaded\n"
		"  3  cannot connect to the control socket\n",
		CTL_REPLY_TIMEOUT_MS);
}
