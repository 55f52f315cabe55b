/* The scheduler's pure parts: retry backoff with its cap and jitter bounds, job parsing and
 * dependency cycles with their messages, the order of waiting runs, and the ledger's key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/job_spec.h"
#include "supervisor/sched.h"
#include "tests/unit/tmp_db.h"

static char errors[2048];

static void collect(void *arg, const char *key, const char *msg)
{
	size_t used = strlen(errors);

	(void)arg;
	snprintf(errors + used, sizeof(errors) - used, "%s: %s\n", key, msg);
}

static int load(struct job_table *t, const char *json)
{
	json_error_t jerr;
	json_t *defs = json_loads(json, 0, &jerr);
	int rc;

	assert_non_null(defs);
	errors[0] = '\0';
	rc = job_table_load(t, defs, collect, NULL);
	json_decref(defs);
	return rc;
}

static void test_backoff_doubles_up_to_the_cap_and_jitter_only_shortens(void **state)
{
	struct job_spec j = {.backoff_ms = 1000, .backoff_max_ms = 5000, .jitter = 0};

	(void)state;
	assert_int_equal(job_backoff_ms(&j, 2, 0.99), 1000);
	assert_int_equal(job_backoff_ms(&j, 3, 0.5), 2000);
	assert_int_equal(job_backoff_ms(&j, 4, 0.5), 4000);
	assert_int_equal(job_backoff_ms(&j, 5, 0.5), 5000);
	assert_int_equal(job_backoff_ms(&j, 60, 0.5), 5000); /* no overflow far out */
	j.jitter = 0.25;
	for (int attempt = 2; attempt < 10; attempt++) {
		int64_t base = job_backoff_ms(
			&(struct job_spec){.backoff_ms = 1000, .backoff_max_ms = 5000}, attempt, 0);
		for (double r = 0; r < 1; r += 0.125) {
			int64_t d = job_backoff_ms(&j, attempt, r);

			assert_true(d <= base);
			assert_true(d >= base - base / 4);
		}
	}
	assert_int_equal(job_backoff_ms(&j, 2, 0.999999), 751); /* never below 750 */
}

static void test_dependency_order_and_cycles(void **state)
{
	struct job_table t = {0};

	(void)state;
	assert_int_equal(load(&t,
			      "{\"backup\": {\"schedule\": \"@daily\", \"worker\": "
			      "\"maintenance\", \"action\": \"checkpoint\"},"
			      "\"verify\": {\"schedule\": \"@daily\", \"worker\": \"maintenance\","
			      " \"action\": \"checkpoint\", \"depends_on\": [\"backup\"]},"
			      "\"prune\": {\"schedule\": \"@daily\", \"worker\": \"maintenance\","
			      " \"action\": \"checkpoint\", \"depends_on\": [\"verify\"],"
			      " \"fallback\": \"backup\"}}"),
			 0);
	assert_int_equal(t.n, 3);
	assert_int_equal(t.v[job_table_find(&t, "prune")].deps[0], job_table_find(&t, "verify"));
	assert_int_equal(t.v[job_table_find(&t, "prune")].fallback, job_table_find(&t, "backup"));
	assert_string_equal(t.v[0].zone, "Asia/Seoul"); /* the schema's default */
	job_table_free(&t);

	assert_int_equal(load(&t, "{\"a\": {\"schedule\": \"@daily\", \"worker\": \"maintenance\","
				  " \"action\": \"checkpoint\", \"depends_on\": [\"c\"]},"
				  "\"b\": {\"schedule\": \"@daily\", \"worker\": \"maintenance\","
				  " \"action\": \"checkpoint\", \"depends_on\": [\"a\"]},"
				  "\"c\": {\"schedule\": \"@daily\", \"worker\": \"maintenance\","
				  " \"action\": \"checkpoint\", \"depends_on\": [\"b\"]}}"),
			 -1);
	assert_non_null(
		strstr(errors, "jobs.defs.a.depends_on: dependency cycle: a -> c -> b -> a"));
	assert_int_equal(t.n, 0);

	assert_int_equal(load(&t, "{\"x\": {\"schedule\": \"61 * * * *\", \"worker\": \"ghost\","
				  " \"action\": \"checkpoint\", \"zone\": \"Nowhere/City\","
				  " \"depends_on\": [\"nobody\"]}}"),
			 -1);
	assert_non_null(strstr(errors, "jobs.defs.x.schedule: invalid cron expression"));
	assert_non_null(strstr(errors, "jobs.defs.x.zone: unknown time zone \"Nowhere/City\""));
	assert_non_null(strstr(errors, "jobs.defs.x.worker: unknown worker \"ghost\""));
	assert_int_equal(load(&t, "{\"y\": {\"schedule\": \"@every 5m\", \"worker\": \"strategy\","
				  " \"action\": \"fly\"}}"),
			 -1);
	assert_non_null(
		strstr(errors, "jobs.defs.y.action: worker strategy has no action \"fly\""));
	assert_int_equal(load(&t,
			      "{\"z\": {\"schedule\": \"@every 0m\", \"worker\": \"supervisor\","
			      " \"action\": \"system_check\"}}"),
			 -1);
	assert_non_null(strstr(errors, "jobs.defs.z.schedule: \"@every 0m\" is not an interval"));
}

static void test_intervals_and_cron_due_times(void **state)
{
	struct job_table t = {0};

	(void)state;
	assert_int_equal(job_parse_interval("@every 90s"), 90000);
	assert_int_equal(job_parse_interval("@every 2h"), 7200000);
	assert_int_equal(job_parse_interval("@every 5"), -1);
	assert_int_equal(job_parse_interval("@every 1w"), -1);
	assert_int_equal(load(&t, "{\"i\": {\"schedule\": \"@every 5m\", \"worker\": "
				  "\"supervisor\", \"action\": \"system_check\"},"
				  "\"c\": {\"schedule\": \"0 9 * * *\", \"worker\": \"supervisor\","
				  " \"action\": \"system_check\"}}"),
			 0);
	/* Intervals are aligned to the epoch: the same due times after any restart. */
	assert_int_equal(job_next_due(&t.v[job_table_find(&t, "i")], 1767571140000), 1767571200000);
	/* 09:00 in Seoul is 00:00 UTC: 2026-01-05T23:59Z is followed by 2026-01-06T00:00Z. */
	assert_int_equal(job_next_due(&t.v[job_table_find(&t, "c")], 1767657540000), 1767657600000);
	job_table_free(&t);
}

static void test_waiting_runs_go_urgent_then_priority_then_due(void **state)
{
	struct sched_order_key low = {0, 10, 1000, 1}, high = {0, 90, 2000, 2};
	struct sched_order_key urgent_low = {1, 5, 3000, 3}, high_later = {0, 90, 2500, 4};
	struct sched_order_key same_due = {0, 90, 2000, 5};

	(void)state;
	assert_true(sched_order_cmp(&high, &low) < 0);
	assert_true(sched_order_cmp(&low, &high) > 0);
	assert_true(sched_order_cmp(&urgent_low, &high) < 0); /* a deadline near beats priority */
	assert_true(sched_order_cmp(&high, &high_later) < 0);
	assert_true(sched_order_cmp(&high, &same_due) < 0); /* then by ledger id */
	assert_int_equal(sched_order_cmp(&high, &high), 0);
}

static void test_ledger_key_admits_one_row_per_due_time(void **state)
{
	sqlite3 *db = *state;
	const char *ins = "INSERT OR IGNORE INTO job_runs(job, due_ms, trigger, state) "
			  "VALUES('backup', 1767571200000, 'schedule', 'queued')";

	assert_int_equal(db_exec(db, ins), 0);
	assert_int_equal(sqlite3_changes(db), 1);
	assert_int_equal(db_exec(db, ins), 0);
	assert_int_equal(sqlite3_changes(db), 0);
	assert_int_equal(db_exec(db, "INSERT INTO job_runs(job, due_ms, trigger, state) VALUES("
				     "'backup', 1767571200000, 'catch_up', 'queued')"),
			 -1);
	assert_int_equal(db_exec(db, "INSERT INTO job_runs(job, due_ms, trigger, state) VALUES("
				     "'prune', 1767571200000, 'schedule', 'bogus')"),
			 -1); /* states are a closed set */
	assert_int_equal(db_exec(db, "INSERT INTO job_runs(job, due_ms, trigger, state) VALUES("
				     "'prune', 1767571200000, 'schedule', 'missed')"),
			 0);
}

static int setup(void **state)
{
	return tmp_db_setup(state, "sched");
}

static int teardown(void **state)
{
	return tmp_db_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_doubles_up_to_the_cap_and_jitter_only_shortens),
		cmocka_unit_test(test_dependency_order_and_cycles),
		cmocka_unit_test(test_intervals_and_cron_due_times),
		cmocka_unit_test(test_waiting_runs_go_urgent_then_priority_then_due),
		cmocka_unit_test(test_ledger_key_admits_one_row_per_due_time),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
