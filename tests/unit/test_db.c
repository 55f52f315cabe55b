/* The database module on a real file: WAL, migrations that run once, a newer schema refused,
 * and the prepared-statement table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

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
	sqlite3 *db = db_open(dir);
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
	sqlite3_close(db);
}

static void test_candles_are_unique_per_market_unit_start(void **state)
{
	static const char *const sql[] = {
		"INSERT OR IGNORE INTO candles VALUES(?, 1, ?, 1, 2, 0.5, 1.5, 10, 15, ?, 0)",
		"SELECT count(*) FROM candles",
	};
	sqlite3_stmt *st[2];
	sqlite3 *db = db_open(dir);

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
	sqlite3 *db = db_open(dir);
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
	sqlite3 *db = db_open(dir);

	(void)state;
	assert_int_equal(db_prepare_all(db, sql, st, 2), -1);
	assert_null(st[0]);
	assert_int_equal(db_exec(db, "NOT SQL"), -1);
	sqlite3_close(db);
	assert_null(db_open("/nonexistent/dir"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrate_is_idempotent_and_wal),
		cmocka_unit_test(test_candles_are_unique_per_market_unit_start),
		cmocka_unit_test(test_newer_schema_is_refused),
		cmocka_unit_test(test_bad_statement_and_dir),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
