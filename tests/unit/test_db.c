/* The database module on a real file: WAL, migrations that run once, a newer schema refused,
 * owner-only files, a busy wait that stays short, errors kept across a ROLLBACK, and the
 * prepared-statement table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/db.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/td-db-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_migrate_is_idempotent_and_wal(void **state)
{
	sqlite3 *db = db_open(dir, 1000);
	sqlite3_stmt *st;

	(void)state;
	assert_non_null(db);
	assert_int_equal(db_user_version(db), 0);
	assert_int_equal(db_migrate(db), 0);
	assert_int_equal(db_user_version(db), db_schema_version());
	assert_int_equal(db_migrate(db), 0);
	assert_int_equal(db_user_version(db), db_schema_version());
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	/* Ours, by its header: a backup carries it, a foreign file does not. */
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA application_id", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), DB_APPLICATION_ID);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_candles_are_unique_per_market_unit_start(void **state)
{
	static const char *const sql[] = {
		"INSERT OR IGNORE INTO candles VALUES(?, 1, ?, 100000000, 200000000, 50000000, "
		"150000000, '10', '15', ?, 0)",
		"SELECT count(*) FROM candles",
	};
	sqlite3_stmt *st[2];
	sqlite3 *db = db_open(dir, 1000);

	(void)state;
	assert_int_equal(db_migrate(db), 0);
	assert_int_equal(db_prepare_all(db, sql, st, 2), 0);
	for (int i = 0; i < 3; i++) {
		sqlite3_bind_text(st[0], 1, "KRW-BTC", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st[0], 2, 60000);
		sqlite3_bind_int64(st[0], 3, 60500 + i);
		assert_int_equal(db_step_reset(st[0]), SQLITE_DONE);
	}
	assert_int_equal(sqlite3_step(st[1]), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st[1], 0), 1);
	sqlite3_reset(st[1]);
	db_finalize_all(st, 2);
	assert_null(st[0]);
	sqlite3_close(db);
}

static void test_newer_schema_is_refused(void **state)
{
	sqlite3 *db = db_open(dir, 1000);
	char sql[64];

	(void)state;
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", db_schema_version() + 1);
	assert_int_equal(db_exec(db, sql), 0);
	assert_int_equal(db_migrate(db), -1);
	sqlite3_close(db);
}

static void test_bad_statement_and_dir(void **state)
{
	static const char *const sql[] = {"SELECT 1", "SELEC nonsense"};
	sqlite3_stmt *st[2];
	sqlite3 *db = db_open(dir, 1000);

	(void)state;
	assert_int_equal(db_prepare_all(db, sql, st, 2), -1);
	assert_null(st[0]);
	assert_int_equal(db_exec(db, "NOT SQL"), -1);
	sqlite3_close(db);
	assert_null(db_open("/nonexistent/dir", 1000));
}

static void test_worker_open_checks_the_schema_version(void **state)
{
	sqlite3 *db = db_open(dir, 1000);
	char sql[64];

	(void)state;
	/* Not migrated yet: a worker must not run on it. */
	assert_null(db_open_worker(dir, 1000));
	assert_int_equal(db_migrate(db), 0);
	sqlite3 *w = db_open_worker(dir, 1000);
	assert_non_null(w);
	sqlite3_close(w);
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", db_schema_version() + 1);
	assert_int_equal(db_exec(db, sql), 0);
	assert_null(db_open_worker(dir, 1000));
	sqlite3_close(db);
}

static unsigned file_mode(const char *suffix)
{
	char path[128];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s%s", dir, DB_FILE_NAME, suffix);
	if (stat(path, &sb) < 0)
		return 01000; /* missing */
	return (unsigned)(sb.st_mode & 0777);
}

static void test_files_are_owner_only(void **state)
{
	char path[128];
	mode_t old = umask(022);
	sqlite3 *db = db_open(dir, 1000);

	(void)state;
	assert_non_null(db);
	assert_int_equal(db_migrate(db), 0);
	/* WAL and SHM exist while a connection is open; SQLite gives them the main file's mode. */
	assert_int_equal(file_mode(""), 0600);
	assert_int_equal(file_mode("-wal"), 0600);
	assert_int_equal(file_mode("-shm"), 0600);
	sqlite3_close(db);
	/* A database an older build left group- and world-readable is tightened when opened. */
	snprintf(path, sizeof(path), "%s/%s", dir, DB_FILE_NAME);
	assert_int_equal(chmod(path, 0644), 0);
	db = db_open(dir, 1000);
	assert_non_null(db);
	assert_int_equal(file_mode(""), 0600);
	assert_int_equal(file_mode("-wal"), 0600);
	sqlite3_close(db);
	umask(old);
}

static int insert_config_row(sqlite3 *db)
{
	return sqlite3_exec(db,
			    "INSERT INTO config_versions(applied_ms, path, text) "
			    "VALUES(1, 'p', 't')",
			    NULL, NULL, NULL);
}

static void test_busy_wait_is_bounded_and_not_repeated(void **state)
{
	sqlite3 *db = db_open(dir, 200);
	sqlite3 *other = db_open(dir, 200);
	int64_t t0, waited;

	(void)state;
	assert_int_equal(db_migrate(db), 0);
	assert_int_equal(db_exec(other, "BEGIN IMMEDIATE"), 0);
	t0 = clock_mono_ms();
	assert_int_equal(insert_config_row(db), SQLITE_BUSY);
	waited = clock_mono_ms() - t0;
	assert_true(waited >= 190);
	assert_true(waited < 3000);
	/* Right after a timeout the next write gives up at once: a loop turn with many writes
	 * must stall for one busy time, not for one per write. */
	t0 = clock_mono_ms();
	assert_int_equal(insert_config_row(db), SQLITE_BUSY);
	assert_int_equal(insert_config_row(db), SQLITE_BUSY);
	assert_true(clock_mono_ms() - t0 < 150);
	usleep(250 * 1000);
	t0 = clock_mono_ms();
	assert_int_equal(insert_config_row(db), SQLITE_BUSY);
	assert_true(clock_mono_ms() - t0 >= 190);
	assert_int_equal(db_exec(other, "COMMIT"), 0);
	usleep(250 * 1000);
	assert_int_equal(insert_config_row(db), SQLITE_OK);
	sqlite3_close(other);
	sqlite3_close(db);
}

static void test_lock_released_during_the_wait_is_taken(void **state)
{
	sqlite3 *db = db_open(dir, 2000);
	int fds[2], status;
	char c;
	pid_t pid;
	int64_t t0;

	(void)state;
	assert_int_equal(db_migrate(db), 0);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Another process holds the write lock for 300 ms. */
		sqlite3 *o = db_open(dir, 2000);

		if (!o || db_exec(o, "BEGIN IMMEDIATE") < 0 || insert_config_row(o) != SQLITE_OK)
			_exit(1);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		usleep(300 * 1000);
		_exit(db_exec(o, "COMMIT") < 0 ? 1 : 0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	t0 = clock_mono_ms();
	assert_int_equal(insert_config_row(db), SQLITE_OK);
	assert_true(clock_mono_ms() - t0 >= 100);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sqlite3_close(db);
}

static void test_error_survives_the_rollback(void **state)
{
	sqlite3 *db = db_open(dir, 1000);
	sqlite3_stmt *st;
	char msg[256];
	int rc = SQLITE_OK;

	(void)state;
	assert_int_equal(db_migrate(db), 0);
	/* A constraint error leaves the transaction open: rolled back, message kept. */
	assert_int_equal(db_exec(db, "BEGIN IMMEDIATE"), 0);
	assert_int_not_equal(sqlite3_exec(db, "INSERT INTO config_versions(applied_ms) VALUES(1)",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_equal(sqlite3_get_autocommit(db), 0);
	assert_int_equal(db_rollback_keep_error(db, msg, sizeof(msg)), SQLITE_CONSTRAINT);
	assert_non_null(strstr(msg, "NOT NULL constraint failed"));
	assert_int_equal(sqlite3_get_autocommit(db), 1);
	/* A full database: SQLite rolls the transaction back itself, and a ROLLBACK would say
	 * "cannot rollback - no transaction is active" instead of what happened. */
	assert_int_equal(db_exec(db, "PRAGMA max_page_count=16"), 0);
	assert_int_equal(db_exec(db, "BEGIN IMMEDIATE"), 0);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "INSERT INTO config_versions(applied_ms, path, text) "
					    "VALUES(1, 'p', zeroblob(3000))",
					    -1, &st, NULL),
			 SQLITE_OK);
	for (int i = 0; i < 100 && rc != SQLITE_FULL; i++)
		rc = db_step_reset(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
	sqlite3_finalize(st);
	assert_int_equal(rc, SQLITE_FULL);
	assert_int_equal(db_rollback_keep_error(db, msg, sizeof(msg)), SQLITE_FULL);
	assert_string_equal(msg, "database or disk is full");
	assert_int_equal(sqlite3_get_autocommit(db), 1);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_is_idempotent_and_wal, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_candles_are_unique_per_market_unit_start,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_statement_and_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_open_checks_the_schema_version, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_files_are_owner_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_wait_is_bounded_and_not_repeated, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lock_released_during_the_wait_is_taken, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_error_survives_the_rollback, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
