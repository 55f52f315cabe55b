/* Command line of bin/upbit-sim: every option, its default, and the one-line errors
 * (exit status 2) for bad arguments. */
#include "sim/sim_state.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/roles.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_LISTEN = 256,
	OPT_ADMIN,
	OPT_ALLOW_REMOTE,
	OPT_ACCOUNT,
	OPT_SEED,
	OPT_MARKETS,
	OPT_MARKETS_COUNT,
	OPT_CLOCK_START,
	OPT_CLOCK_RATE,
	OPT_CANDLES,
	OPT_HISTORY_MIN,
	OPT_HISTORY_DAYS,
	OPT_VOLATILITY,
	OPT_GAP_PROB,
	OPT_BAN_AFTER,
	OPT_BAN_MS,
	OPT_RATE,
	OPT_DUP_ERROR,
	OPT_RECORD_CAP,
	OPT_MAX_ORDERS,
	OPT_ENGINE_MS,
	OPT_PORT_FILE,
	OPT_LOG_LEVEL,
	OPT_IPC_FD,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"admin", required_argument, NULL, OPT_ADMIN},
	{"allow-remote", no_argument, NULL, OPT_ALLOW_REMOTE},
	{"account", required_argument, NULL, OPT_ACCOUNT},
	{"seed", required_argument, NULL, OPT_SEED},
	{"markets", required_argument, NULL, OPT_MARKETS},
	{"markets-count", required_argument, NULL, OPT_MARKETS_COUNT},
	{"clock-start", required_argument, NULL, OPT_CLOCK_START},
	{"clock-rate", required_argument, NULL, OPT_CLOCK_RATE},
	{"candles", required_argument, NULL, OPT_CANDLES},
	{"history-minutes", required_argument, NULL, OPT_HISTORY_MIN},
	{"history-days", required_argument, NULL, OPT_HISTORY_DAYS},
	{"volatility", required_argument, NULL, OPT_VOLATILITY},
	{"gap-prob", required_argument, NULL, OPT_GAP_PROB},
	{"ban-after", required_argument, NULL, OPT_BAN_AFTER},
	{"ban-ms", required_argument, NULL, OPT_BAN_MS},
	{"rate", required_argument, NULL, OPT_RATE},
	{"dup-identifier-error", required_argument, NULL, OPT_DUP_ERROR},
	{"record-capacity", required_argument, NULL, OPT_RECORD_CAP},
	{"max-orders", required_argument, NULL, OPT_MAX_ORDERS},
	{"engine-ms", required_argument, NULL, OPT_ENGINE_MS},
	{"port-file", required_argument, NULL, OPT_PORT_FILE},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"ipc-fd", required_argument, NULL, OPT_IPC_FD},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

void sim_config_usage(FILE *out)
{
	fputs("usage: upbit-sim [options]\n"
	      "Upbit REST API simulator on loopback (quotation, exchange, faults, recording).\n"
	      "  --listen HOST:PORT        API address (default 127.0.0.1:0; port 0 picks a free\n"
	      "                            port, logged as 'listening on HOST:PORT')\n"
	      "  --admin HOST:PORT         extra port serving only /_sim/* (stays up while the "
	      "API\n"
	      "                            port is down); port 0 picks one\n"
	      "  --allow-remote            permit a non-loopback --listen/--admin address\n"
	      "  --account AK:SK:KRW[:COIN=AMOUNT,...]  an account (repeatable; default\n"
	      "                            test-access-key:test-secret-key:10000000)\n"
	      "  --seed N                  price-process and fault RNG seed (default 1)\n"
	      "  --markets A,B,...         markets (default "
	      "KRW-BTC,KRW-ETH,KRW-XRP,KRW-SOL,KRW-DOGE)\n"
	      "  --markets-count N         pad the list with synthetic KRW-C001... up to N "
	      "(<=250)\n"
	      "  --clock-start ISO8601     test clock start (overrides TRADINGD_CLOCK)\n"
	      "  --clock-rate N            test clock speed, 0 < N <= 100000 (default 1)\n"
	      "  --candles FILE            replay CSV '[market,]ts_ms,open,high,low,close,volume'\n"
	      "  --history-minutes N       1-minute history kept and generated at start (2880)\n"
	      "  --history-days N          synthetic day candles before that history (200)\n"
	      "  --volatility X            stdev of log price per minute (0.001)\n"
	      "  --gap-prob P              probability a minute has no trade (0.05)\n"
	      "  --ban-after N             consecutive 429s before a 418 ban (10)\n"
	      "  --ban-ms N                first ban length in ms, doubles per repeat (30000)\n"
	      "  --rate GROUP=N            per-second limit of a group (repeatable)\n"
	      "  --dup-identifier-error NAME  error.name for a reused identifier\n"
	      "                            (default duplicate_identifier)\n"
	      "  --record-capacity N       request-log ring size (16384)\n"
	      "  --max-orders N            order/identifier table bound (100000)\n"
	      "  --engine-ms N             engine tick period in real ms (50)\n"
	      "  --port-file FILE          write 'PORT [ADMIN_PORT]' there once listening\n"
	      "  --log-level LEVEL         debug|info|notice|warn|err|crit (info)\n"
	      "  --ipc-fd N                run under tradingd: its socket is fd N (READY, PING,\n"
	      "                            SHUTDOWN; exit when it closes)\n"
	      "  --help                    this text\n",
	      out);
}

static int fail(char *err, size_t errlen, const char *fmt, const char *arg)
{
	snprintf(err, errlen, fmt, arg);
	return -1;
}

static int parse_long(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return (errno || end == s || *end || !isfinite(*out)) ? -1 : 0;
}

static int is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

static int parse_hostport(const char *arg, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(arg, ':');
	long long p;
	size_t n;

	if (!colon || colon == arg)
		return -1;
	n = (size_t)(colon - arg);
	if (arg[0] == '[' && colon[-1] == ']') { /* [::1]:8080 */
		arg++;
		n -= 2;
	}
	if (n == 0 || n >= hostlen || parse_long(colon + 1, 0, 65535, &p) < 0)
		return -1;
	memcpy(host, arg, n);
	host[n] = '\0';
	*port = (int)p;
	return 0;
}

static int valid_market(const char *m)
{
	size_t i, n = strlen(m);

	if (n < 5 || n > 20 || strncmp(m, "KRW-", 4) != 0)
		return 0;
	for (i = 4; i < n; i++)
		if (!((m[i] >= 'A' && m[i] <= 'Z') || (m[i] >= '0' && m[i] <= '9')))
			return 0;
	return 1;
}

static int parse_markets(struct sim_config *cfg, const char *arg, char *err, size_t errlen)
{
	char buf[8192], *save = NULL, *tok;
	int i;

	if (strlen(arg) >= sizeof(buf))
		return fail(err, errlen, "--markets: list too long%s", "");
	strcpy(buf, arg);
	cfg->nmarkets = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!valid_market(tok))
			return fail(err, errlen, "--markets: bad market code '%s'", tok);
		for (i = 0; i < cfg->nmarkets; i++)
			if (strcmp(cfg->markets[i], tok) == 0)
				return fail(err, errlen, "--markets: duplicate market '%s'", tok);
		if (cfg->nmarkets >= 250)
			return fail(err, errlen, "--markets: at most 250 markets%s", "");
		snprintf(cfg->markets[cfg->nmarkets++], sizeof(cfg->markets[0]), "%s", tok);
	}
	if (cfg->nmarkets == 0)
		return fail(err, errlen, "--markets: empty list%s", "");
	return 0;
}

static int parse_account(struct sim_config *cfg, const char *arg, char *err, size_t errlen)
{
	char buf[1024], *parts[4] = {NULL}, *p;
	struct sim_account *a;
	double krw;
	int n = 0;

	if (cfg->naccounts >= SIM_MAX_ACCOUNTS)
		return fail(err, errlen, "--account: at most 16 accounts%s", "");
	if (strlen(arg) >= sizeof(buf))
		return fail(err, errlen, "--account: too long%s", "");
	strcpy(buf, arg);
	p = buf;
	while (n < 4 && p) {
		parts[n++] = p;
		p = n < 4 ? strchr(p, ':') : NULL;
		if (p)
			*p++ = '\0';
	}
	if (n < 3 || !*parts[0] || !*parts[1] || strlen(parts[0]) >= 128 || strlen(parts[1]) >= 128)
		return fail(
			err, errlen,
			"--account: expected ACCESS_KEY:SECRET_KEY:KRW_BALANCE (the entry is not "
			"shown: it holds a secret)%s",
			"");
	if (parse_double(parts[2], &krw) < 0 || krw < 0)
		return fail(err, errlen, "--account: bad KRW balance '%s'", parts[2]);
	a = &cfg->accounts[cfg->naccounts];
	memset(a, 0, sizeof(*a));
	snprintf(a->access_key, sizeof(a->access_key), "%s", parts[0]);
	snprintf(a->secret_key, sizeof(a->secret_key), "%s", parts[1]);
	a->krw.balance = round8(krw);
	/* Holdings are resolved once the whole command line (and so --markets) is known. */
	if (parts[3]) {
		if (strlen(parts[3]) >= sizeof(cfg->holdings[0]))
			return fail(err, errlen, "--account: holdings too long%s", "");
		snprintf(cfg->holdings[cfg->naccounts], sizeof(cfg->holdings[0]), "%s", parts[3]);
	}
	cfg->naccounts++;
	return 0;
}

static int resolve_holdings(struct sim_config *cfg, int k, char *err, size_t errlen)
{
	char buf[512], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", cfg->holdings[k]);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		double amt;
		int i, found = -1;

		if (!eq)
			return fail(err, errlen, "--account: bad holding '%s' (want COIN=AMOUNT)",
				    tok);
		*eq = '\0';
		if (parse_double(eq + 1, &amt) < 0 || amt < 0)
			return fail(err, errlen, "--account: bad amount for %s", tok);
		for (i = 0; i < cfg->nmarkets; i++)
			if (strcmp(cfg->markets[i] + 4, tok) == 0)
				found = i;
		if (found < 0)
			return fail(err, errlen, "--account: coin %s is not in --markets", tok);
		cfg->accounts[k].coins[found].balance = round8(amt);
	}
	return 0;
}

static void set_defaults(struct sim_config *cfg)
{
	static const char *defaults[] = {"KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE"};
	int i;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->listen_host, sizeof(cfg->listen_host), "127.0.0.1");
	cfg->admin_port = -1;
	cfg->seed = 1;
	for (i = 0; i < 5; i++)
		snprintf(cfg->markets[i], sizeof(cfg->markets[0]), "%s", defaults[i]);
	cfg->nmarkets = 5;
	cfg->pp.volatility = 0.001;
	cfg->pp.gap_prob = 0.05;
	cfg->pp.history_min = 2880;
	cfg->pp.history_days = 200;
	cfg->record_cap = 16384;
	cfg->max_orders = 100000;
	snprintf(cfg->dup_ident_error, sizeof(cfg->dup_ident_error), "duplicate_identifier");
	cfg->engine_ms = 50;
	cfg->ban_after = 10;
	cfg->ban_ms = 30000;
	cfg->clock_rate = 1.0;
	cfg->log_level = LOG_LVL_INFO;
	cfg->ipc_fd = -1;
}

/* Accounts from SIM_ACCOUNTS_ENV, one per line: how tradingd hands them over, since a command
 * line is readable by every local user (ps). The value is wiped from our environment block
 * once read (/proc/PID/environ shows that block). */
static int accounts_from_env(struct sim_config *cfg, char *err, size_t errlen)
{
	char *value = getenv(SIM_ACCOUNTS_ENV), *copy, *line, *save = NULL;
	size_t len;
	int rc = 0;

	if (!value)
		return 0;
	len = strlen(value);
	copy = strdup(value);
	explicit_bzero(value, len);
	unsetenv(SIM_ACCOUNTS_ENV);
	if (!copy)
		return fail(err, errlen, "out of memory for the accounts%s", "");
	for (line = strtok_r(copy, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save))
		rc = parse_account(cfg, line, err, errlen);
	explicit_bzero(copy, len);
	free(copy);
	return rc;
}

int sim_config_parse(struct sim_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	long long v;
	double d;
	int c, has_rate = 0;

	set_defaults(cfg);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			if (parse_hostport(optarg, cfg->listen_host, sizeof(cfg->listen_host),
					   &cfg->listen_port) < 0)
				return fail(err, errlen, "--listen: expected HOST:PORT, got '%s'",
					    optarg);
			break;
		case OPT_ADMIN:
			if (parse_hostport(optarg, cfg->admin_host, sizeof(cfg->admin_host),
					   &cfg->admin_port) < 0)
				return fail(err, errlen, "--admin: expected HOST:PORT, got '%s'",
					    optarg);
			break;
		case OPT_ALLOW_REMOTE:
			cfg->allow_remote = 1;
			break;
		case OPT_ACCOUNT:
			if (parse_account(cfg, optarg, err, errlen) < 0)
				return -1;
			break;
		case OPT_SEED:
			if (parse_long(optarg, 0, INT64_MAX, &v) < 0)
				return fail(err, errlen,
					    "--seed: expected a non-negative integer, got '%s'",
					    optarg);
			cfg->seed = (uint64_t)v;
			break;
		case OPT_MARKETS:
			if (parse_markets(cfg, optarg, err, errlen) < 0)
				return -1;
			break;
		case OPT_MARKETS_COUNT:
			if (parse_long(optarg, 1, 250, &v) < 0)
				return fail(err, errlen,
					    "--markets-count: expected 1..250, got '%s'", optarg);
			cfg->markets_count = (int)v;
			break;
		case OPT_CLOCK_START:
			if (clock_parse_iso8601(optarg, 1, &cfg->clock_start_ms) < 0)
				return fail(err, errlen, "--clock-start: bad ISO 8601 time '%s'",
					    optarg);
			cfg->has_clock_start = 1;
			break;
		case OPT_CLOCK_RATE:
			if (parse_double(optarg, &d) < 0 || !(d > 0 && d <= 100000))
				return fail(err, errlen,
					    "--clock-rate: expected 0 < N <= 100000, got '%s'",
					    optarg);
			cfg->clock_rate = d;
			has_rate = 1;
			break;
		case OPT_CANDLES:
			if (strlen(optarg) >= sizeof(cfg->candles_file))
				return fail(err, errlen, "--candles: path too long%s", "");
			snprintf(cfg->candles_file, sizeof(cfg->candles_file), "%s", optarg);
			break;
		case OPT_HISTORY_MIN:
			if (parse_long(optarg, 1, 60 * 24 * 30, &v) < 0)
				return fail(err, errlen,
					    "--history-minutes: expected 1..43200, got '%s'",
					    optarg);
			cfg->pp.history_min = (int)v;
			break;
		case OPT_HISTORY_DAYS:
			if (parse_long(optarg, 0, 3650, &v) < 0)
				return fail(err, errlen,
					    "--history-days: expected 0..3650, got '%s'", optarg);
			cfg->pp.history_days = (int)v;
			break;
		case OPT_VOLATILITY:
			if (parse_double(optarg, &d) < 0 || d < 0 || d > 0.5)
				return fail(err, errlen, "--volatility: expected 0..0.5, got '%s'",
					    optarg);
			cfg->pp.volatility = d;
			break;
		case OPT_GAP_PROB:
			if (parse_double(optarg, &d) < 0 || d < 0 || d > 1)
				return fail(err, errlen, "--gap-prob: expected 0..1, got '%s'",
					    optarg);
			cfg->pp.gap_prob = d;
			break;
		case OPT_BAN_AFTER:
			if (parse_long(optarg, 0, 1000000, &v) < 0)
				return fail(err, errlen,
					    "--ban-after: expected 0..1000000, got '%s'", optarg);
			cfg->ban_after = (int)v;
			break;
		case OPT_BAN_MS:
			if (parse_long(optarg, 1, 86400000, &v) < 0)
				return fail(err, errlen, "--ban-ms: expected 1..86400000, got '%s'",
					    optarg);
			cfg->ban_ms = v;
			break;
		case OPT_RATE: {
			char name[32];
			const char *eq = strchr(optarg, '=');
			int g;

			if (!eq || (size_t)(eq - optarg) >= sizeof(name))
				return fail(err, errlen, "--rate: expected GROUP=N, got '%s'",
					    optarg);
			memcpy(name, optarg, (size_t)(eq - optarg));
			name[eq - optarg] = '\0';
			g = rl_group_parse(name);
			if (g < 0 || parse_long(eq + 1, 1, 100000, &v) < 0)
				return fail(err, errlen, "--rate: bad group or limit in '%s'",
					    optarg);
			cfg->rate_override[g] = (int)v;
			break;
		}
		case OPT_DUP_ERROR:
			if (!*optarg || strlen(optarg) >= sizeof(cfg->dup_ident_error))
				return fail(err, errlen, "--dup-identifier-error: bad name '%s'",
					    optarg);
			snprintf(cfg->dup_ident_error, sizeof(cfg->dup_ident_error), "%s", optarg);
			break;
		case OPT_RECORD_CAP:
			if (parse_long(optarg, 16, 1000000, &v) < 0)
				return fail(err, errlen,
					    "--record-capacity: expected 16..1000000, got '%s'",
					    optarg);
			cfg->record_cap = (int)v;
			break;
		case OPT_MAX_ORDERS:
			if (parse_long(optarg, 1, 10000000, &v) < 0)
				return fail(err, errlen,
					    "--max-orders: expected 1..10000000, got '%s'", optarg);
			cfg->max_orders = (int)v;
			break;
		case OPT_ENGINE_MS:
			if (parse_long(optarg, 1, 10000, &v) < 0)
				return fail(err, errlen, "--engine-ms: expected 1..10000, got '%s'",
					    optarg);
			cfg->engine_ms = (int)v;
			break;
		case OPT_PORT_FILE:
			if (strlen(optarg) >= sizeof(cfg->port_file))
				return fail(err, errlen, "--port-file: path too long%s", "");
			snprintf(cfg->port_file, sizeof(cfg->port_file), "%s", optarg);
			break;
		case OPT_LOG_LEVEL:
			if ((cfg->log_level = log_level_parse(optarg)) < 0)
				return fail(err, errlen, "--log-level: unknown level '%s'", optarg);
			break;
		case OPT_IPC_FD:
			/* 0..2 are stdio: the supervisor's socket is never one of them. */
			if (parse_long(optarg, 3, 1 << 20, &v) < 0)
				return fail(err, errlen,
					    "--ipc-fd: expected a descriptor >= 3, got '%s'",
					    optarg);
			cfg->ipc_fd = (int)v;
			break;
		case OPT_HELP:
			sim_config_usage(stdout);
			return 1;
		default:
			if (optopt)
				snprintf(err, errlen, "unknown or incomplete option (try --help)");
			else
				snprintf(err, errlen, "unknown option '%s' (try --help)",
					 argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc)
		return fail(err, errlen, "unexpected argument '%s'", argv[optind]);
	if (!cfg->allow_remote && !is_loopback(cfg->listen_host))
		return fail(
			err, errlen,
			"--listen %s is not a loopback address (add --allow-remote to permit it)",
			cfg->listen_host);
	if (cfg->admin_port >= 0 && !cfg->allow_remote && !is_loopback(cfg->admin_host))
		return fail(
			err, errlen,
			"--admin %s is not a loopback address (add --allow-remote to permit it)",
			cfg->admin_host);
	cfg->has_clock_rate = has_rate;
	if (accounts_from_env(cfg, err, errlen) < 0)
		return -1;
	for (c = 0; c < cfg->naccounts; c++)
		if (cfg->holdings[c][0] && resolve_holdings(cfg, c, err, errlen) < 0)
			return -1;
	if (cfg->naccounts == 0) {
		struct sim_account *a = &cfg->accounts[0];

		memset(a, 0, sizeof(*a));
		snprintf(a->access_key, sizeof(a->access_key), "test-access-key");
		snprintf(a->secret_key, sizeof(a->secret_key), "test-secret-key");
		a->krw.balance = 10000000;
		cfg->naccounts = 1;
	}
	return 0;
}
