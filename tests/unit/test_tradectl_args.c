/* tradectl's command line: options before and after the command, argument counts, the request
 * JSON each command line becomes, and where the socket is found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/config.h"
#include "supervisor/ctl.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Parses argv, expects success, and checks the request JSON text. */
static void expect_request(int argc, char **argv, const char *want)
{
	struct ctl_options opt;
	char err[256];
	char *req;

	assert_int_equal(ctl_parse_args(argc, argv, &opt, err, sizeof(err)), 0);
	assert_false(opt.help);
	assert_non_null(opt.command);
	req = ctl_request_json(&opt);
	assert_non_null(req);
	assert_string_equal(req, want);
	free(req);
	ctl_options_free(&opt);
}

static void expect_usage_error(int argc, char **argv, const char *want_substring)
{
	struct ctl_options opt;
	char err[256];

	assert_int_equal(ctl_parse_args(argc, argv, &opt, err, sizeof(err)), -1);
	if (!strstr(err, want_substring))
		fail_msg("error \"%s\" lacks \"%s\"", err, want_substring);
	assert_null(strchr(err, '\n'));
	ctl_options_free(&opt);
}

static void test_requests(void **state)
{
	(void)state;
	char *a1[] = {"tradectl", "status"};
	char *a2[] = {"tradectl", "status", "market-data", "strategy"};
	char *a3[] = {"tradectl", "status", "all"};
	char *a4[] = {"tradectl", "start", "all"};
	char *a5[] = {"tradectl", "stop", "strategy"};
	char *a6[] = {"tradectl", "restart", "notifier", "maintenance"};
	char *a7[] = {"tradectl", "reload"};
	char *a8[] = {"tradectl", "shutdown"};
	char *a9[] = {"tradectl", "pid"};
	char *a10[] = {"tradectl", "pid", "order-execution"};
	char *a11[] = {"tradectl", "version"};
	char *a12[] = {"tradectl", "start", "we\"ird\\"};

	expect_request(ARGC(a1), a1, "{\"cmd\":\"status\",\"args\":[]}");
	expect_request(ARGC(a2), a2,
		       "{\"cmd\":\"status\",\"args\":[\"market-data\",\"strategy\"]}");
	expect_request(ARGC(a3), a3, "{\"cmd\":\"status\",\"args\":[]}");
	expect_request(ARGC(a4), a4, "{\"cmd\":\"start\",\"args\":[\"all\"]}");
	expect_request(ARGC(a5), a5, "{\"cmd\":\"stop\",\"args\":[\"strategy\"]}");
	expect_request(ARGC(a6), a6,
		       "{\"cmd\":\"restart\",\"args\":[\"notifier\",\"maintenance\"]}");
	expect_request(ARGC(a7), a7, "{\"cmd\":\"reload\",\"args\":[]}");
	expect_request(ARGC(a8), a8, "{\"cmd\":\"shutdown\",\"args\":[]}");
	expect_request(ARGC(a9), a9, "{\"cmd\":\"pid\",\"args\":[]}");
	expect_request(ARGC(a10), a10, "{\"cmd\":\"pid\",\"args\":[\"order-execution\"]}");
	expect_request(ARGC(a11), a11, "{\"cmd\":\"version\",\"args\":[]}");
	expect_request(ARGC(a12), a12, "{\"cmd\":\"start\",\"args\":[\"we\\\"ird\\\\\"]}");

	char *j1[] = {"tradectl", "--json", "jobs"};
	char *j2[] = {"tradectl", "jobs", "rollback", "3"};
	char *j3[] = {"tradectl", "job", "set", "backup", "priority=70", "retries=2"};
	char *j4[] = {"tradectl", "job", "pause", "backup"};

	expect_request(ARGC(j1), j1, "{\"cmd\":\"jobs\",\"args\":[]}");
	expect_request(ARGC(j2), j2, "{\"cmd\":\"jobs\",\"args\":[\"rollback\",\"3\"]}");
	expect_request(
		ARGC(j3), j3,
		"{\"cmd\":\"job\",\"args\":[\"set\",\"backup\",\"priority=70\",\"retries=2\"]}");
	expect_request(ARGC(j4), j4, "{\"cmd\":\"job\",\"args\":[\"pause\",\"backup\"]}");
}

static void test_maintenance_requests(void **state)
{
	(void)state;
	char *a1[] = {"tradectl", "backup"};
	char *a2[] = {"tradectl", "--json", "backups"};
	char *a3[] = {"tradectl", "restore", "/var/lib/tradingd/backups/x.db"};
	char *a4[] = {"tradectl", "config", "diff", "3", "4"};
	char *a5[] = {"tradectl", "config", "rollback"};
	char *b1[] = {"tradectl", "restore"};
	char *b2[] = {"tradectl", "restore", "a", "b"};
	char *b3[] = {"tradectl", "config"};
	char *b4[] = {"tradectl", "config", "diff", "1", "2", "3"};
	char *b5[] = {"tradectl", "cleanup", "now"};

	expect_request(ARGC(a1), a1, "{\"cmd\":\"backup\",\"args\":[]}");
	expect_request(ARGC(a2), a2, "{\"cmd\":\"backups\",\"args\":[]}");
	expect_request(ARGC(a3), a3,
		       "{\"cmd\":\"restore\",\"args\":[\"/var/lib/tradingd/backups/x.db\"]}");
	expect_request(ARGC(a4), a4, "{\"cmd\":\"config\",\"args\":[\"diff\",\"3\",\"4\"]}");
	expect_request(ARGC(a5), a5, "{\"cmd\":\"config\",\"args\":[\"rollback\"]}");
	expect_usage_error(ARGC(b1), b1, "usage: tradectl restore FILE");
	expect_usage_error(ARGC(b2), b2, "usage: tradectl restore FILE");
	expect_usage_error(ARGC(b3), b3, "usage: tradectl config show");
	expect_usage_error(ARGC(b4), b4, "usage: tradectl config show");
	expect_usage_error(ARGC(b5), b5, "cleanup takes no arguments");
}

static void test_options(void **state)
{
	(void)state;
	struct ctl_options opt;
	char err[256];
	char *a1[] = {"tradectl", "-c", "my.json", "--json", "status"};
	char *a2[] = {"tradectl", "-s/tmp/x.sock", "-c", "my.json", "pid"};
	char *a3[] = {"tradectl", "--config=a.json", "--socket", "b.sock", "status", "--json"};
	char *a4[] = {"tradectl", "--", "status"};

	assert_int_equal(ctl_parse_args(ARGC(a1), a1, &opt, err, sizeof(err)), 0);
	assert_string_equal(opt.config_path, "my.json");
	assert_null(opt.socket_path);
	assert_true(opt.json);
	assert_int_equal(opt.command->command, CTL_CMD_STATUS);
	ctl_options_free(&opt);

	assert_int_equal(ctl_parse_args(ARGC(a2), a2, &opt, err, sizeof(err)), 0);
	assert_string_equal(opt.socket_path, "/tmp/x.sock");
	assert_string_equal(opt.config_path, "my.json");
	assert_false(opt.json);
	assert_int_equal(opt.command->command, CTL_CMD_PID);
	ctl_options_free(&opt);

	assert_int_equal(ctl_parse_args(ARGC(a3), a3, &opt, err, sizeof(err)), 0);
	assert_string_equal(opt.config_path, "a.json");
	assert_string_equal(opt.socket_path, "b.sock");
	assert_true(opt.json);
	assert_int_equal(opt.nargs, 0);
	ctl_options_free(&opt);

	assert_int_equal(ctl_parse_args(ARGC(a4), a4, &opt, err, sizeof(err)), 0);
	assert_int_equal(opt.command->command, CTL_CMD_STATUS);
	ctl_options_free(&opt);
}

static void test_top_once(void **state)
{
	(void)state;
	struct ctl_options opt;
	char err[256];
	char *a1[] = {"tradectl", "top", "--once"};
	char *a2[] = {"tradectl", "--json", "top"};
	char *a3[] = {"tradectl", "--once", "top"};
	char *a4[] = {"tradectl", "status", "--once"};
	char *a5[] = {"tradectl", "top", "strategy"};

	assert_int_equal(ctl_parse_args(ARGC(a1), a1, &opt, err, sizeof(err)), 0);
	assert_int_equal(opt.command->command, CTL_CMD_TOP);
	assert_true(opt.once);
	assert_false(opt.json);
	ctl_options_free(&opt);
	expect_request(ARGC(a1), a1, "{\"cmd\":\"top\",\"args\":[]}");
	assert_int_equal(ctl_parse_args(ARGC(a2), a2, &opt, err, sizeof(err)), 0);
	assert_true(opt.json);
	assert_false(opt.once);
	ctl_options_free(&opt);
	/* --once belongs to top, after it. */
	expect_usage_error(ARGC(a3), a3, "unknown option '--once'");
	expect_usage_error(ARGC(a4), a4, "unknown option '--once'");
	expect_usage_error(ARGC(a5), a5, "top takes no arguments");
}

static void test_help(void **state)
{
	(void)state;
	struct ctl_options opt;
	char err[256];
	char *a1[] = {"tradectl", "-h"};
	char *a2[] = {"tradectl", "bogus", "--help"};
	char *a3[] = {"tradectl", "help"};
	char *a4[] = {"tradectl", "status", "-h"};

	assert_int_equal(ctl_parse_args(ARGC(a1), a1, &opt, err, sizeof(err)), 0);
	assert_true(opt.help);
	ctl_options_free(&opt);
	assert_int_equal(ctl_parse_args(ARGC(a2), a2, &opt, err, sizeof(err)), 0);
	assert_true(opt.help);
	ctl_options_free(&opt);
	assert_int_equal(ctl_parse_args(ARGC(a3), a3, &opt, err, sizeof(err)), 0);
	assert_true(opt.help);
	ctl_options_free(&opt);
	assert_int_equal(ctl_parse_args(ARGC(a4), a4, &opt, err, sizeof(err)), 0);
	assert_true(opt.help);
	ctl_options_free(&opt);
}

static void test_usage_errors(void **state)
{
	(void)state;
	char *a1[] = {"tradectl"};
	char *a2[] = {"tradectl", "bogus"};
	char *a3[] = {"tradectl", "start"};
	char *a4[] = {"tradectl", "stop"};
	char *a5[] = {"tradectl", "restart"};
	char *a6[] = {"tradectl", "reload", "now"};
	char *a7[] = {"tradectl", "shutdown", "x"};
	char *a8[] = {"tradectl", "pid", "a", "b"};
	char *a9[] = {"tradectl", "version", "x"};
	char *a10[] = {"tradectl", "-x", "status"};
	char *a11[] = {"tradectl", "status", "-c", "x.json"};
	char *a12[] = {"tradectl", "-c"};
	char *a13[] = {"tradectl", "--socket"};
	char *a14[] = {"tradectl", "-s", "", "status"};
	char *a15[] = {"tradectl", "start", ""};
	char *a16[] = {"tradectl", "--json"};
	char *a17[] = {"tradectl", "--configx=a", "status"};

	expect_usage_error(ARGC(a1), a1, "missing COMMAND");
	expect_usage_error(ARGC(a2), a2, "unknown command 'bogus'");
	expect_usage_error(ARGC(a3), a3, "start needs a NAME");
	expect_usage_error(ARGC(a4), a4, "stop needs a NAME");
	expect_usage_error(ARGC(a5), a5, "restart needs a NAME");
	expect_usage_error(ARGC(a6), a6, "reload takes no arguments");
	expect_usage_error(ARGC(a7), a7, "shutdown takes no arguments");
	expect_usage_error(ARGC(a8), a8, "pid takes at most one NAME");
	expect_usage_error(ARGC(a9), a9, "version takes no arguments");
	expect_usage_error(ARGC(a10), a10, "unknown option '-x'");
	expect_usage_error(ARGC(a11), a11, "unknown option '-c'");
	expect_usage_error(ARGC(a12), a12, "option -c needs a FILE");
	expect_usage_error(ARGC(a13), a13, "option --socket needs a PATH");
	expect_usage_error(ARGC(a14), a14, "empty PATH");
	expect_usage_error(ARGC(a15), a15, "empty NAME");
	expect_usage_error(ARGC(a16), a16, "missing COMMAND");
	expect_usage_error(ARGC(a17), a17, "unknown option '--configx=a'");

	char *j1[] = {"tradectl", "job", "run"};
	char *j2[] = {"tradectl", "jobs", "rollback", "1", "2"};

	expect_usage_error(ARGC(j1), j1, "usage: job run|pause|resume NAME");
	expect_usage_error(ARGC(j2), j2, "usage: jobs [history|rollback [V]]");
}

static void test_command_table(void **state)
{
	(void)state;
	const char *names[] = {"status",   "start", "stop",    "restart", "reload",
			       "shutdown", "pid",   "version", "top",	  "help"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct ctl_command_info *c = ctl_command_find(names[i]);

		assert_non_null(c);
		assert_string_equal(c->name, names[i]);
		assert_non_null(strstr(c->synopsis, names[i]));
	}
	assert_null(ctl_command_find("Status"));
	assert_null(ctl_command_find(""));
}

static void test_usage_lists_everything(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	ctl_usage(f);
	fclose(f);
	for (const struct ctl_command_info *c = ctl_commands; c->name; c++)
		assert_non_null(strstr(text, c->synopsis));
	assert_non_null(strstr(text, "--config"));
	assert_non_null(strstr(text, "--socket"));
	assert_non_null(strstr(text, "--json"));
	assert_non_null(strstr(text, "--help"));
	assert_non_null(strstr(text, "Exit status"));
	assert_non_null(strstr(text, "relative"));
	free(text);
}

static void test_default_config_path(void **state)
{
	(void)state;
	const char *def;

	setenv(CTL_CONFIG_ENV, "/somewhere/t.json", 1);
	assert_string_equal(ctl_default_config_path(), "/somewhere/t.json");
	setenv(CTL_CONFIG_ENV, "", 1);
	def = ctl_default_config_path();
	assert_true(strcmp(def, CTL_SYSTEM_CONFIG) == 0 || strcmp(def, CTL_LOCAL_CONFIG) == 0);
	unsetenv(CTL_CONFIG_ENV);
	assert_string_equal(ctl_default_config_path(), def);
}

static void socket_of(const char *text, const char *want)
{
	struct config cfg;
	char path[256];

	if (config_load_text(&cfg, "test.json", text, strlen(text), CONFIG_KEYS_ONLY) < 0) {
		config_print_errors(&cfg, stderr);
		fail();
	}
	assert_int_equal(ctl_socket_path(&cfg, path, sizeof(path)), 0);
	assert_string_equal(path, want);
	assert_int_equal(ctl_socket_path(&cfg, path, strlen(want)), -1);
	config_free(&cfg);
}

static void test_socket_path(void **state)
{
	(void)state;
	socket_of("{}", "./var/run/tradingd.sock");
	socket_of("{\"run_dir\": \"/run/tradingd/\"}", "/run/tradingd/tradingd.sock");
	socket_of("{\"run_dir\": \"rel\"}", "rel/tradingd.sock");
	socket_of("{\"run_dir\": \"/\"}", "/tradingd.sock");
	socket_of("{\"run_dir\": \"/r\", \"control\": {\"socket\": \"/tmp/ctl.sock\"}}",
		  "/tmp/ctl.sock");
	socket_of("{\"run_dir\": \"/r\", \"control\": {\"socket\": \"\"}}", "/r/tradingd.sock");
}

static void test_trading_reports(void **state)
{
	(void)state;
	char *a1[] = {"tradectl", "orders"};
	char *a2[] = {"tradectl", "orders", "--open", "--days", "3"};
	char *a3[] = {"tradectl", "--json", "trades", "--days=30"};
	char *a4[] = {"tradectl", "pnl", "--days", "1", "--json"};
	char *b1[] = {"tradectl", "orders", "--days", "0"};
	char *b2[] = {"tradectl", "trades", "--open"};
	char *b3[] = {"tradectl", "pnl", "--days", "x"};
	char *b4[] = {"tradectl", "orders", "--days", "2", "--days", "3"};
	char *b5[] = {"tradectl", "orders", "BTC"};
	char *b6[] = {"tradectl", "pnl", "--days"};

	expect_request(ARGC(a1), a1, "{\"cmd\":\"orders\",\"args\":[]}");
	expect_request(ARGC(a2), a2, "{\"cmd\":\"orders\",\"args\":[\"--open\",\"--days\",\"3\"]}");
	expect_request(ARGC(a3), a3, "{\"cmd\":\"trades\",\"args\":[\"--days=30\"]}");
	expect_request(ARGC(a4), a4, "{\"cmd\":\"pnl\",\"args\":[\"--days\",\"1\"]}");
	expect_usage_error(ARGC(b1), b1, "--days needs a number of days 1..3650");
	expect_usage_error(ARGC(b2), b2, "unexpected '--open'");
	expect_usage_error(ARGC(b3), b3, "not 'x'");
	expect_usage_error(ARGC(b4), b4, "unexpected '--days'");
	expect_usage_error(ARGC(b5), b5, "unexpected 'BTC'");
	expect_usage_error(ARGC(b6), b6, "unexpected '--days'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_maintenance_requests),
		cmocka_unit_test(test_trading_reports),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_top_once),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_command_table),
		cmocka_unit_test(test_usage_lists_everything),
		cmocka_unit_test(test_default_config_path),
		cmocka_unit_test(test_socket_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
