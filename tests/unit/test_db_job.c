/* Long SQLite work in steps on a real file: a prune of 100k rows in batches of 1000 while
 * another process keeps writing (none of its writes waits long or fails), and a job that
 * meets a lock waits and finishes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <fcntl.h>

#include "common/clock.h"
#include "common/db.h"
#include "tests/unit/tmp_db.h"
#include "common/db_job.h"

#define OLD_ROWS 100000
#define BATCH 1000

static int setup(void **state)
{
	return tmp_db_setup(state, "job");
}

static int count(sqlite3 *db, const char *kind)
{
	sqlite3_stmt *st;
	int n = -1;

	sqlite3_prepare_v2(db, "SELECT count(*) FROM notifications WHERE kind = ?", -1, &st, NULL);
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void fill_old_rows(sqlite3 *db)
{
	assert_int_equal(db_exec(db, "BEGIN"), 0);
	assert_int_equal(db_exec(db,
				 "WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
				 "FROM i LIMIT 100000) "
				 "INSERT INTO notifications(created_ms, severity, source, kind, "
				 "text) SELECT x, 'info', 'test', 'old', 'an old alert' FROM i"),
			 0);
	assert_int_equal(db_exec(db, "COMMIT"), 0);
	assert_int_equal(count(db, "old"), OLD_ROWS);
}

static sqlite3_stmt *prune_stmt(sqlite3 *db)
{
	sqlite3_stmt *st;
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE "
		 "kind = 'old' LIMIT %d)",
		 BATCH);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	return st;
}

struct run {
	struct db_job job;
	uv_timer_t beat;
	int64_t last_beat, longest_gap;
	int rc;
};

static void on_beat(uv_timer_t *t)
{
	struct run *r = t->data;
	int64_t now = clock_mono_ms();

	if (r->last_beat && now - r->last_beat > r->longest_gap)
		r->longest_gap = now - r->last_beat;
	r->last_beat = now;
}

static void on_done(struct db_job *job, int rc)
{
	struct run *r = (struct run *)job;

	r->rc = rc;
	uv_timer_stop(&r->beat);
}

/* Runs a job on a fresh loop with a 5 ms "heartbeat" timer that measures the loop's stalls. */
static void run_job(struct run *r, db_job_step_fn step, void *arg)
{
	uv_loop_t loop;

	assert_int_equal(uv_loop_init(&loop), 0);
	r->rc = -1;
	assert_int_equal(db_job_init(&r->job, &loop, step, arg, on_done), 0);
	uv_timer_init(&loop, &r->beat);
	r->beat.data = r;
	uv_timer_start(&r->beat, on_beat, 5, 5);
	assert_int_equal(db_job_start(&r->job), 0);
	assert_int_equal(db_job_start(&r->job), -1);
	uv_run(&loop, UV_RUN_DEFAULT);
	db_job_close(&r->job, NULL);
	uv_close((uv_handle_t *)&r->beat, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* The other process: inserts a row every 2 ms until told to stop on its pipe, then reports
 * how many it wrote, how many failed and its longest wait, and exits. */
struct writer_report {
	int written, failed;
	int64_t longest_ms;
};

static void writer(int stop_fd, int report_fd)
{
	sqlite3 *db = db_open(tmp_db_dir, 2000);
	struct writer_report rep = {0};
	char c;

	if (!db)
		_exit(1);
	for (;;) {
		int64_t t0 = clock_mono_ms();
		int rc = sqlite3_exec(db,
				      "INSERT INTO notifications(created_ms, severity, source, "
				      "kind, text) VALUES(1, 'info', 'writer', 'new', 'live')",
				      NULL, NULL, NULL);
		int64_t took = clock_mono_ms() - t0;

		if (rc == SQLITE_OK)
			rep.written++;
		else
			rep.failed++;
		if (took > rep.longest_ms)
			rep.longest_ms = took;
		if (read(stop_fd, &c, 1) != -1)
			break;
		usleep(2000);
	}
	sqlite3_close(db);
	_exit(write(report_fd, &rep, sizeof(rep)) == sizeof(rep) ? 0 : 1);
}

static void test_prune_in_batches_beside_a_writer(void **state)
{
	sqlite3 *db = *state;
	struct db_prune prune = {.stmt = prune_stmt(db)};
	struct writer_report rep;
	struct run r;
	int stop[2], report[2], status;
	pid_t pid;

	fill_old_rows(db);
	assert_int_equal(pipe(stop), 0);
	assert_int_equal(pipe(report), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(stop[1]);
		close(report[0]);
		/* Non-blocking: the writer checks for the stop byte between inserts. */
		if (fcntl(stop[0], F_SETFL, O_NONBLOCK) < 0)
			_exit(1);
		writer(stop[0], report[1]);
	}
	close(stop[0]);
	close(report[1]);
	/* Let the writer get going, so that the whole prune runs beside it. */
	while (count(db, "new") < 5)
		usleep(2000);
	memset(&r, 0, sizeof(r));
	run_job(&r, db_prune_step, &prune);
	int during = count(db, "new");

	assert_int_equal(write(stop[1], "x", 1), 1);
	assert_int_equal(read(report[0], &rep, sizeof(rep)), sizeof(rep));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(stop[1]);
	close(report[0]);
	sqlite3_finalize(prune.stmt);

	print_message("prune: %llu steps in %llu turns, longest turn %lld ms, longest loop gap "
		      "%lld ms; writer: %d rows (%d during the prune), longest wait %lld ms\n",
		      (unsigned long long)r.job.steps, (unsigned long long)r.job.turns,
		      (long long)r.job.longest_turn_ms, (long long)r.longest_gap, rep.written,
		      during, (long long)rep.longest_ms);
	assert_int_equal(r.rc, SQLITE_DONE);
	assert_int_equal(prune.changed, OLD_ROWS);
	assert_int_equal(count(db, "old"), 0);
	/* One batch per step, and the last step finds nothing left. */
	assert_true(r.job.steps >= OLD_ROWS / BATCH + 1);
	assert_true(r.job.turns > 1);
	/* The writer was never refused and lost nothing; it kept writing during the prune. */
	assert_int_equal(rep.failed, 0);
	assert_int_equal(count(db, "new"), rep.written);
	assert_true(during >= 20);
	/* Generous bounds for a loaded machine: a turn is meant to last ~5 ms, a wait a batch. */
	assert_true(rep.longest_ms < 1500);
	assert_true(r.longest_gap < 1000);
}

struct unlock {
	sqlite3 *other;
	uv_timer_t timer;
};

static void on_unlock(uv_timer_t *t)
{
	struct unlock *u = t->data;

	db_exec(u->other, "COMMIT");
	uv_close((uv_handle_t *)t, NULL);
}

static void test_job_waits_out_a_lock(void **state)
{
	sqlite3 *db = *state;
	struct db_prune prune;
	struct unlock u;
	struct run r;
	uv_loop_t loop;

	fill_old_rows(db);
	prune = (struct db_prune){.stmt = prune_stmt(db)};
	sqlite3_busy_timeout(db, 20);
	u.other = db_open(tmp_db_dir, 1000);
	assert_int_equal(db_exec(u.other, "BEGIN IMMEDIATE"), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	memset(&r, 0, sizeof(r));
	r.rc = -1;
	assert_int_equal(db_job_init(&r.job, &loop, db_prune_step, &prune, on_done), 0);
	r.job.busy_pause_ms = 50;
	uv_timer_init(&loop, &r.beat);
	uv_timer_init(&loop, &u.timer);
	u.timer.data = &u;
	uv_timer_start(&u.timer, on_unlock, 300, 0);
	assert_int_equal(db_job_start(&r.job), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.rc, SQLITE_DONE);
	assert_true(r.job.busy_steps >= 2);
	assert_int_equal(prune.changed, OLD_ROWS);
	db_job_close(&r.job, NULL);
	uv_close((uv_handle_t *)&r.beat, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	sqlite3_finalize(prune.stmt);
	sqlite3_close(u.other);
}

static int failing_step(void *arg)
{
	int *calls = arg;

	return ++*calls == 3 ? SQLITE_IOERR : SQLITE_OK;
}

static void test_failed_step_ends_the_job(void **state)
{
	int calls = 0;
	struct run r;

	(void)state;
	memset(&r, 0, sizeof(r));
	run_job(&r, failing_step, &calls);
	assert_int_equal(r.rc, SQLITE_IOERR);
	assert_int_equal(calls, 3);
	assert_int_equal(r.job.running, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prune_in_batches_beside_a_writer, setup,
						tmp_db_teardown),
		cmocka_unit_test_setup_teardown(test_job_waits_out_a_lock, setup, tmp_db_teardown),
		cmocka_unit_test_setup_teardown(test_failed_step_ends_the_job, setup,
						tmp_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
