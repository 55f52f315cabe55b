/* tradectl's output: uptimes as supervisorctl prints them, status lines in exact 33/10 columns,
 * every reply rendered or rejected, and each outcome's exit code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/ctl.h"

static void expect_uptime(int64_t seconds, const char *want)
{
	char buf[64];

	ctl_format_uptime(seconds, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_uptime(void **state)
{
	(void)state;
	expect_uptime(0, "0:00:00");
	expect_uptime(59, "0:00:59");
	expect_uptime(192, "0:03:12");
	expect_uptime(3599, "0:59:59");
	expect_uptime(3600, "1:00:00");
	expect_uptime(86399, "23:59:59");
	expect_uptime(86400, "1 day, 0:00:00");
	expect_uptime(86400 + 7384, "1 day, 2:03:04");
	expect_uptime(2 * 86400 + 3661, "2 days, 1:01:01");
	expect_uptime(400 * 86400, "400 days, 0:00:00");
	expect_uptime(-5, "0:00:00");
	expect_uptime(INT64_MAX, "106751991167300 days, 15:30:07");
}

/* Formats the worker given as JSON text and compares with want. */
static void expect_line(const char *worker_json, const char *want)
{
	json_error_t jerr;
	json_t *w = json_loads(worker_json, 0, &jerr);
	char line[1024];

	assert_non_null(w);
	ctl_format_status_line(w, line, sizeof(line));
	assert_string_equal(line, want);
	json_decref(w);
}

static void test_status_columns(void **state)
{
	(void)state;
	json_t *w = json_pack("{s:s, s:s, s:i, s:i}", "name", "market-data", "state", "RUNNING",
			      "pid", 4242, "uptime_s", 192);
	char line[256];

	ctl_format_status_line(w, line, sizeof(line));
	json_decref(w);
	/* name in exactly 33 columns, state in exactly 10, then the description */
	assert_memory_equal(line, "market-data", 11);
	for (int i = 11; i < 33; i++)
		assert_int_equal(line[i], ' ');
	assert_memory_equal(line + 33, "RUNNING   ", 10);
	assert_string_equal(line + 43, "pid 4242, uptime 0:03:12");
}

static void test_status_descriptions(void **state)
{
	(void)state;
	expect_line("{\"name\":\"market-data\",\"state\":\"RUNNING\",\"pid\":4242,\"uptime_s\":"
		    "93784,\"description\":\"ignored while running\"}",
		    "market-data                      RUNNING   pid 4242, uptime 1 day, 2:03:04");
	expect_line("{\"name\":\"strategy\",\"state\":\"STARTING\",\"pid\":77}",
		    "strategy                         STARTING  pid 77");
	expect_line("{\"name\":\"notifier\",\"state\":\"STOPPING\",\"pid\":78}",
		    "notifier                         STOPPING  pid 78");
	expect_line(
		"{\"name\":\"strategy\",\"state\":\"BACKOFF\",\"pid\":0,\"last_exit\":\"exit 1\","
		"\"description\":\"exited: exit 1\"}",
		"strategy                         BACKOFF   exited: exit 1");
	expect_line("{\"name\":\"strategy\",\"state\":\"EXITED\",\"pid\":null,\"last_exit\":"
		    "\"signal 9\"}",
		    "strategy                         EXITED    exited: signal 9");
	expect_line("{\"name\":\"order-execution\",\"state\":\"FATAL\",\"pid\":0,\"last_exit\":"
		    "\"exit 1\",\"description\":\"crash loop: 6 restarts in 60 s\"}",
		    "order-execution                  FATAL     crash loop: 6 restarts in 60 s");
	expect_line("{\"name\":\"order-execution\",\"state\":\"FATAL\",\"last_exit\":null}",
		    "order-execution                  FATAL     unknown error");
	expect_line("{\"name\":\"maintenance\",\"state\":\"STOPPED\",\"pid\":0,\"last_exit\":null}",
		    "maintenance                      STOPPED   Not started");
	expect_line("{\"name\":\"maintenance\",\"state\":\"STOPPED\",\"description\":\"\"}",
		    "maintenance                      STOPPED   Not started");
	expect_line("{\"name\":\"maintenance\",\"state\":\"STOPPED\",\"description\":"
		    "\"Nov 25 07:46 PM\"}",
		    "maintenance                      STOPPED   Nov 25 07:46 PM");
	/* The state is said once: a description that repeats it (an older daemon's) is left
	 * out for the last exit, or for nothing. */
	expect_line("{\"name\":\"strategy\",\"state\":\"STOPPED\",\"last_exit\":\"exit 0\","
		    "\"description\":\"Stopped\"}",
		    "strategy                         STOPPED   exit 0");
	expect_line("{\"name\":\"strategy\",\"state\":\"STOPPED\",\"last_exit\":\"exit 0\"}",
		    "strategy                         STOPPED   exit 0");
	expect_line("{\"name\":\"strategy\",\"state\":\"STOPPED\",\"description\":\"stopped\"}",
		    "strategy                         STOPPED   Not started");
	expect_line("{\"name\":\"strategy\",\"state\":\"STOPPED\",\"last_exit\":\"exit 0\","
		    "\"description\":\"exit 0, 0:01:02 ago\"}",
		    "strategy                         STOPPED   exit 0, 0:01:02 ago");
	expect_line("{\"name\":\"strategy\",\"state\":\"FATAL\",\"last_exit\":\"exit 1\","
		    "\"description\":\"fatal\"}",
		    "strategy                         FATAL     exited: exit 1");
}

static void expect_pending(const char *line, int64_t want)
{
	assert_int_equal(ctl_pending_wait_ms(line, strlen(line)), want);
}

static void test_pending_notice(void **state)
{
	(void)state;
	expect_pending("{\"pending\":true,\"wait_ms\":7000}", 7000);
	expect_pending("{\"wait_ms\":0,\"pending\":true}", 0);
	expect_pending("{\"pending\":true,\"wait_ms\":3600000}", 3600000);
	/* Not a notice: a reply, or anything else, is left to the reply parser. */
	expect_pending("{\"ok\":true,\"results\":[]}", -1);
	expect_pending("{\"pending\":false,\"wait_ms\":5}", -1);
	expect_pending("{\"pending\":1,\"wait_ms\":5}", -1);
	expect_pending("garbage", -1);
	expect_pending("", -1);
	expect_pending("[true]", -1);
	/* A notice with a wait that cannot be used. */
	expect_pending("{\"pending\":true}", -2);
	expect_pending("{\"pending\":true,\"wait_ms\":-1}", -2);
	expect_pending("{\"pending\":true,\"wait_ms\":3600001}", -2);
	expect_pending("{\"pending\":true,\"wait_ms\":1.5}", -2);
	expect_pending("{\"pending\":true,\"wait_ms\":\"5\"}", -2);
}

static void test_status_bad_workers(void **state)
{
	(void)state;
	/* Whatever the daemon sends, a line comes out and nothing breaks. */
	expect_line("{}", "?                                UNKNOWN   ");
	expect_line("{\"name\":5,\"state\":[],\"pid\":\"x\",\"uptime_s\":-4}",
		    "?                                UNKNOWN   ");
	expect_line("{\"name\":\"a\",\"state\":\"RUNNING\",\"pid\":\"x\",\"uptime_s\":-4}",
		    "a                                RUNNING   pid 0, uptime 0:00:00");
	expect_line(
		"{\"name\":\"a\\nb\",\"state\":\"EXITED\",\"description\":\"line\\none\\u001b[\"}",
		"a?b                              EXITED    line?one?[");
	/* An overlong name or state still leaves one space. */
	expect_line("{\"name\":\"a-name-that-is-longer-than-the-column\",\"state\":\"STOPPED\"}",
		    "a-name-that-is-longer-than-the-column STOPPED   Not started");
	expect_line("{\"name\":\"a\",\"state\":\"SOMETHINGNEW\"}",
		    "a                                SOMETHINGNEW ");
}

static void test_status_truncates(void **state)
{
	(void)state;
	json_t *w = json_pack("{s:s, s:s}", "name", "market-data", "state", "STOPPED");
	char line[20];

	ctl_format_status_line(w, line, sizeof(line));
	assert_int_equal(strlen(line), sizeof(line) - 1);
	json_decref(w);
}

static void test_reply_parse(void **state)
{
	(void)state;
	char err[256];
	json_t *r;
	const char *ok = "{\"ok\":true,\"pid\":1}";

	r = ctl_reply_parse(ok, strlen(ok), err, sizeof(err));
	assert_non_null(r);
	json_decref(r);
	r = ctl_reply_parse("{\"ok\":false,\"error\":\"x\"}", 24, err, sizeof(err));
	assert_non_null(r);
	json_decref(r);

	assert_null(ctl_reply_parse("garbage", 7, err, sizeof(err)));
	assert_non_null(strstr(err, "not JSON"));
	assert_null(ctl_reply_parse("", 0, err, sizeof(err)));
	assert_non_null(strstr(err, "not JSON"));
	assert_null(ctl_reply_parse("[true]", 6, err, sizeof(err)));
	assert_string_equal(err, "not a JSON object");
	assert_null(ctl_reply_parse("{\"pid\":1}", 9, err, sizeof(err)));
	assert_string_equal(err, "no boolean \"ok\" member");
	assert_null(ctl_reply_parse("{\"ok\":1}", 8, err, sizeof(err)));
	assert_string_equal(err, "no boolean \"ok\" member");
	assert_null(ctl_reply_parse("{\"ok\":true", 10, err, sizeof(err)));
	assert_null(ctl_reply_parse("{\"ok\":true}\0x", 13, err, sizeof(err)));
}

struct rendered {
	enum ctl_outcome outcome;
	char *out, *err;
};

static struct rendered render(const char *command, int json, const char *reply_json)
{
	struct ctl_options opt = {.command = ctl_command_find(command), .json = json};
	struct rendered r;
	size_t outlen, errlen;
	FILE *out = open_memstream(&r.out, &outlen);
	FILE *err = open_memstream(&r.err, &errlen);
	json_error_t jerr;
	json_t *reply = json_loads(reply_json, 0, &jerr);

	assert_non_null(opt.command);
	assert_non_null(out);
	assert_non_null(err);
	assert_non_null(reply);
	r.outcome = ctl_render(&opt, "test.sock", reply, out, err);
	fclose(out);
	fclose(err);
	json_decref(reply);
	return r;
}

static void expect_render(const char *command, int json, const char *reply,
			  enum ctl_outcome outcome, const char *want_out, const char *want_err)
{
	struct rendered r = render(command, json, reply);

	assert_int_equal(r.outcome, outcome);
	assert_string_equal(r.out, want_out);
	assert_string_equal(r.err, want_err);
	free(r.out);
	free(r.err);
}

static void test_render_status(void **state)
{
	(void)state;
	const char *reply =
		"{\"ok\":true,\"workers\":[{\"name\":\"market-data\",\"state\":\"RUNNING\","
		"\"pid\":4242,\"uptime_s\":192,\"restarts\":0,\"last_exit\":null},{\"name\":"
		"\"strategy\",\"state\":\"BACKOFF\",\"pid\":0,\"last_exit\":\"exit 1\"}],"
		"\"daemon\":{\"pid\":1,\"uptime_s\":5,\"version\":\"0.1.0\",\"mode\":\"sim\"}}";

	expect_render("status", 0, reply, CTL_OK,
		      "market-data                      RUNNING   pid 4242, uptime 0:03:12\n"
		      "strategy                         BACKOFF   exited: exit 1\n",
		      "");
	expect_render(
		"status", 1, reply, CTL_OK,
		"{\"workers\": [{\"name\": \"market-data\", \"state\": \"RUNNING\", \"pid\": "
		"4242, \"uptime_s\": 192, \"restarts\": 0, \"last_exit\": null}, {\"name\": "
		"\"strategy\", \"state\": \"BACKOFF\", \"pid\": 0, \"last_exit\": \"exit 1\"}], "
		"\"daemon\": {\"pid\": 1, \"uptime_s\": 5, \"version\": \"0.1.0\", \"mode\": "
		"\"sim\"}}\n",
		"");
	expect_render("status", 0, "{\"ok\":true,\"workers\":[]}", CTL_OK, "", "");
	expect_render("status", 1, "{\"ok\":true,\"workers\":[]}", CTL_OK, "{\"workers\": []}\n",
		      "");
	expect_render("status", 0, "{\"ok\":true}", CTL_BAD_REPLY, "",
		      "tradectl: malformed reply to status from test.sock: no \"workers\" array\n");
	expect_render("status", 1, "{\"ok\":true,\"workers\":[1]}", CTL_BAD_REPLY, "",
		      "tradectl: malformed reply to status from test.sock: a worker that is not an "
		      "object\n");
}

static void test_render_refusals(void **state)
{
	(void)state;
	expect_render("status", 0, "{\"ok\":false,\"error\":\"no such process: foo\"}", CTL_REFUSED,
		      "", "tradectl: no such process: foo\n");
	expect_render("start", 1, "{\"ok\":false,\"error\":\"already started\"}", CTL_REFUSED,
		      "{\"ok\": false, \"error\": \"already started\"}\n",
		      "tradectl: already started\n");
	expect_render("reload", 0, "{\"ok\":false,\"error\":\"a.json:3:4: mode: bad\\nnext\"}",
		      CTL_REFUSED, "", "tradectl: a.json:3:4: mode: bad?next\n");
	expect_render("pid", 0, "{\"ok\":false}", CTL_REFUSED, "",
		      "tradectl: refused, without a reason\n");
	expect_render(
		"version", 0, "{\"ok\":false,\"error\":\"permission denied\"}", CTL_REFUSED, "",
		"tradectl: permission denied (run as root, as the daemon's user or as a member "
		"of its control_group)\n");
}

static void test_render_results(void **state)
{
	(void)state;
	expect_render("start", 0,
		      "{\"ok\":true,\"results\":[{\"name\":\"strategy\",\"result\":\"started\"},"
		      "{\"name\":\"notifier\",\"result\":\"started\"}]}",
		      CTL_OK, "strategy: started\nnotifier: started\n", "");
	expect_render("stop", 0,
		      "{\"ok\":true,\"results\":[{\"name\":\"strategy\",\"result\":\"stopped\"},"
		      "{\"name\":\"notifier\",\"error\":\"not running\"}]}",
		      CTL_REFUSED, "strategy: stopped\nnotifier: ERROR (not running)\n", "");
	expect_render(
		"restart", 1,
		"{\"ok\":true,\"results\":[{\"name\":\"strategy\",\"result\":\"restarted\"}]}",
		CTL_OK,
		"{\"ok\": true, \"results\": [{\"name\": \"strategy\", \"result\": "
		"\"restarted\"}]}\n",
		"");
	expect_render("start", 0, "{\"ok\":true}", CTL_BAD_REPLY, "",
		      "tradectl: malformed reply to start from test.sock: no \"results\" array\n");
	expect_render("stop", 0, "{\"ok\":true,\"results\":[{\"name\":\"x\"}]}", CTL_BAD_REPLY, "",
		      "tradectl: malformed reply to stop from test.sock: a result without \"name\" "
		      "and \"result\"\n");
}

static void test_render_others(void **state)
{
	(void)state;
	expect_render("pid", 0, "{\"ok\":true,\"pid\":1234}", CTL_OK, "1234\n", "");
	expect_render("pid", 0, "{\"ok\":true,\"pid\":0}", CTL_OK, "0\n", "");
	expect_render("pid", 1, "{\"ok\":true,\"pid\":1234}", CTL_OK,
		      "{\"ok\": true, \"pid\": 1234}\n", "");
	expect_render("pid", 0, "{\"ok\":true,\"pid\":\"1234\"}", CTL_BAD_REPLY, "",
		      "tradectl: malformed reply to pid from test.sock: no integer \"pid\"\n");
	expect_render("version", 0,
		      "{\"ok\":true,\"version\":\"0.2.0\",\"ipc_version\":1,\"schema_version\":1}",
		      CTL_OK, "tradectl " CTL_VERSION " / tradingd 0.2.0\n", "");
	expect_render("version", 0, "{\"ok\":true}", CTL_BAD_REPLY, "",
		      "tradectl: malformed reply to version from test.sock: no \"version\" "
		      "string\n");
	expect_render("reload", 0, "{\"ok\":true,\"result\":\"reloaded\"}", CTL_OK, "reloaded\n",
		      "");
	expect_render("shutdown", 0, "{\"ok\":true,\"result\":\"shutting down\"}", CTL_OK,
		      "shutting down\n", "");
	expect_render("shutdown", 1, "{\"ok\":true,\"result\":\"shutting down\"}", CTL_OK,
		      "{\"ok\": true, \"result\": \"shutting down\"}\n", "");
	expect_render("reload", 0, "{\"ok\":true}", CTL_OK, "", "");
}

static void test_render_maintenance(void **state)
{
	(void)state;
	expect_render("backups", 0,
		      "{\"ok\":true,\"backups\":[{\"id\":3,\"file\":\"/b/t.db\",\"size\":4096,"
		      "\"created_ms\":1767744000000,\"verified\":true,\"error\":\"\"},{\"id\":4,"
		      "\"file\":\"/b/u.db\",\"size\":0,\"created_ms\":1767830400000,\"verified\":"
		      "false,\"error\":\"disk\\nfull\"}]}",
		      CTL_OK,
		      "ID    CREATED                      BYTES VERIFIED FILE\n"
		      "3     2026-01-07 00:00:00Z          4096 yes      /b/t.db\n"
		      "4     2026-01-08 00:00:00Z             0 FAILED   /b/u.db (disk?full)\n",
		      "");
	expect_render("cleanup", 0,
		      "{\"ok\":false,\"error\":\"a step failed (see results)\",\"results\":["
		      "{\"action\":\"backup\",\"result\":\"transient\",\"message\":\"full\"},"
		      "{\"action\":\"prune\",\"result\":\"ok\",\"message\":\"pruned\"}]}",
		      CTL_REFUSED,
		      "backup         transient full\nprune          ok        pruned\n",
		      "tradectl: a step failed (see results)\n");
	expect_render("config", 0, "{\"ok\":true,\"from\":1,\"to\":2,\"diff\":[]}", CTL_OK,
		      "no difference\n", "");
	expect_render("config", 0,
		      "{\"ok\":true,\"from\":1,\"to\":2,\"diff\":[\"~ log_level: \\\"info\\\" -> "
		      "\\\"debug\\\"\"]}",
		      CTL_OK, "~ log_level: \"info\" -> \"debug\"\n", "");
	expect_render("restore", 0, "{\"ok\":false,\"error\":\"refused: not ours\"}", CTL_REFUSED,
		      "", "tradectl: refused: not ours\n");
	expect_render("backups", 1, "{\"ok\":true,\"backups\":[]}", CTL_OK,
		      "{\"ok\": true, \"backups\": []}\n", "");
}

static void test_render_top(void **state)
{
	(void)state;
	const char *reply =
		"{\"ok\":true,\"processes\":[{\"name\":\"tradingd\",\"state\":\"RUNNING\","
		"\"pid\":10,\"cpu_pct\":1.25,\"rss_kb\":4096,\"fds\":22,\"restarts\":0},"
		"{\"name\":\"strat\\u001begy\",\"state\":\"BACKOFF\",\"pid\":0,\"cpu_pct\":0,"
		"\"rss_kb\":0,\"fds\":0,\"restarts\":3}],\"system\":{\"sampled\":true,"
		"\"cpu_pct\":12.5,\"load1\":0.5,\"load5\":0.25,\"load15\":0.125,"
		"\"mem_total_kb\":2097152,\"mem_avail_kb\":1048576,\"disk_total_kb\":10240,"
		"\"disk_free_kb\":5120,\"data_dir\":\"/var/lib/tradingd\"}}";

	expect_render("top", 0, reply, CTL_OK,
		      "system: CPU 12.5%, load 0.50 0.25 0.12, memory 1024 of 2048 MB available, "
		      "disk 5 of 10 MB free (/var/lib/tradingd)\n\n"
		      "NAME               STATE          PID    CPU%    RSS(kB)    FDS RESTARTS\n"
		      "tradingd           RUNNING         10     1.2       4096     22        0\n"
		      "strat?egy          BACKOFF          0     0.0          0      0        3\n",
		      "");
	expect_render("top", 0, "{\"ok\":true,\"processes\":{}}", CTL_BAD_REPLY, "",
		      "tradectl: malformed reply to top from test.sock: no \"processes\" array or "
		      "\"system\" object\n");
}

static void test_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(ctl_exit_code(CTL_OK), 0);
	assert_int_equal(ctl_exit_code(CTL_REFUSED), 1);
	assert_int_equal(ctl_exit_code(CTL_BAD_REPLY), 1);
	assert_int_equal(ctl_exit_code(CTL_NO_REPLY), 1);
	assert_int_equal(ctl_exit_code(CTL_USAGE), 2);
	assert_int_equal(ctl_exit_code(CTL_CONFIG_ERROR), 2);
	assert_int_equal(ctl_exit_code(CTL_CONNECT_FAILED), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uptime),
		cmocka_unit_test(test_status_columns),
		cmocka_unit_test(test_status_descriptions),
		cmocka_unit_test(test_status_bad_workers),
		cmocka_unit_test(test_status_truncates),
		cmocka_unit_test(test_reply_parse),
		cmocka_unit_test(test_pending_notice),
		cmocka_unit_test(test_render_status),
		cmocka_unit_test(test_render_refusals),
		cmocka_unit_test(test_render_results),
		cmocka_unit_test(test_render_others),
		cmocka_unit_test(test_render_top),
		cmocka_unit_test(test_render_maintenance),
		cmocka_unit_test(test_exit_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
