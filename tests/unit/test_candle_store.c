/* market-data's candle store on a real SQLite file: duplicates ignored and reported as not
 * fresh, sync marks only move forward, a failed batch stores nothing, and a full disk is
 * reported as a full disk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/db.h"
#include "tests/unit/tmp_db.h"
#include "workers/candle_store.h"

static int setup(void **state)
{
	return tmp_db_setup(state, "cs");
}

static struct upbit_candle candle(const char *market, int64_t start, dec8 close)
{
	struct upbit_candle c;

	memset(&c, 0, sizeof(c));
	snprintf(c.market, sizeof(c.market), "%s", market);
	c.start_ms = start;
	c.last_tick_ms = start + 30000;
	c.open_e8 = c.high_e8 = c.low_e8 = c.close_e8 = close;
	snprintf(c.volume, sizeof(c.volume), "1.5");
	snprintf(c.quote_volume, sizeof(c.quote_volume), "123456789012.12345678");
	return c;
}

static void test_duplicates_are_ignored_and_not_fresh(void **state)
{
	sqlite3 *db = *state;
	struct candle_store cs;
	struct upbit_candle batch[3] = {candle("KRW-BTC", 60000, 1), candle("KRW-BTC", 120000, 2),
					candle("KRW-ETH", 60000, 3)};
	unsigned char fresh[3];

	assert_int_equal(candle_store_open(&cs, db), 0);
	assert_int_equal(candle_store_put(&cs, batch, 3, 1, fresh), 0);
	assert_memory_equal(fresh, "\1\1\1", 3);
	batch[1].close_e8 = 99; /* a re-sent candle never overwrites the stored one */
	assert_int_equal(candle_store_put(&cs, batch, 3, 1, fresh), 0);
	assert_memory_equal(fresh, "\0\0\0", 3);
	assert_int_equal(cs.inserted, 3);
	assert_int_equal(cs.duplicates, 3);
	assert_int_equal(candle_store_put(&cs, batch, 1, 1440, fresh), 0);
	assert_int_equal(fresh[0], 1);
	assert_int_equal(tmp_db_count(db, "SELECT count(*) FROM candles"), 4);
	/* Stored exactly: integer units of 1e-8 and the volumes' decimal text. */
	assert_int_equal(tmp_db_count(db, "SELECT close_e8 FROM candles WHERE market = 'KRW-BTC'"
					  " AND unit = 1 AND start_ms = 120000"),
			 2);
	assert_int_equal(tmp_db_count(db,
				      "SELECT count(*) FROM candles WHERE quote_volume ="
				      " '123456789012.12345678' AND typeof(open_e8) = 'integer'"),
			 4);
	candle_store_close(&cs);
}

/* Rows stored as REAL by schema 3 become exact integer units: prices with up to 8 places,
 * small and large, and volumes beyond dec8's range as text. */
static void test_migration_converts_real_rows_exactly(void **state)
{
	sqlite3 *db;
	char dir[sizeof(tmp_db_dir) + 8];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/old", tmp_db_dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	db = db_open(dir, 1000);
	assert_non_null(db);
	for (int v = 1; v <= 3; v++)
		assert_int_equal(db_exec(db, db_migration_sql(v)), 0);
	assert_int_equal(db_exec(db, "PRAGMA user_version=3;"
				     "INSERT INTO candles VALUES('KRW-BTC', 1440, 0, 145000000.0,"
				     " 150123000, 0.00001234, 149999999.5, 1234.56789012,"
				     " 345678901234.5, 5, 6);"
				     "INSERT INTO candles VALUES('KRW-DOGE', 1, 60000, 0.12345678,"
				     " 0.9, 0.1, 0.3, 100, 0, 7, 8);"),
			 0);
	assert_int_equal(db_migrate(db), 0);
	assert_int_equal(db_user_version(db), db_schema_version());
	sqlite3_stmt *st;
	assert_int_equal(
		sqlite3_prepare_v2(db,
				   "SELECT open_e8, high_e8, low_e8, close_e8, volume,"
				   " quote_volume, last_trade_ms FROM candles ORDER BY market",
				   -1, &st, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_true(sqlite3_column_int64(st, 0) == INT64_C(14500000000000000));
	assert_true(sqlite3_column_int64(st, 1) == INT64_C(15012300000000000));
	assert_true(sqlite3_column_int64(st, 2) == 1234);
	assert_true(sqlite3_column_int64(st, 3) == INT64_C(14999999950000000));
	assert_string_equal((const char *)sqlite3_column_text(st, 4), "1234.56789012");
	assert_string_equal((const char *)sqlite3_column_text(st, 5), "345678901234.5");
	assert_int_equal(sqlite3_column_int64(st, 6), 5);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_true(sqlite3_column_int64(st, 0) == 12345678);
	assert_true(sqlite3_column_int64(st, 1) == 90000000);
	assert_string_equal((const char *)sqlite3_column_text(st, 4), "100");
	assert_string_equal((const char *)sqlite3_column_text(st, 5), "0");
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	/* STRICT: a REAL price is refused from now on. */
	assert_int_not_equal(sqlite3_exec(db,
					  "INSERT INTO candles VALUES('KRW-X', 1, 0, 1.5, 1,"
					  " 1, 1, '1', '1', 0, 0)",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	sqlite3_close(db);
}

static void test_sync_mark_only_moves_forward(void **state)
{
	struct candle_store cs;

	assert_int_equal(candle_store_open(&cs, *state), 0);
	assert_int_equal(candle_store_synced_until(&cs, "KRW-XRP", 1), 0);
	assert_int_equal(candle_store_set_synced(&cs, "KRW-XRP", 1, 600000), 0);
	assert_int_equal(candle_store_set_synced(&cs, "KRW-XRP", 1, 300000), 0);
	assert_int_equal(candle_store_synced_until(&cs, "KRW-XRP", 1), 600000);
	assert_int_equal(candle_store_synced_until(&cs, "KRW-XRP", 1440), 0);
	candle_store_close(&cs);
}

static void test_failed_batch_stores_nothing(void **state)
{
	sqlite3 *db = *state;
	struct candle_store cs;
	struct upbit_candle batch[2] = {candle("KRW-SOL", 60000, 1), candle("KRW-SOL", 120000, 2)};
	int before = tmp_db_count(db, "SELECT count(*) FROM candles");

	assert_int_equal(candle_store_open(&cs, db), 0);
	/* Another connection holds the write lock: the batch must fail whole. */
	sqlite3 *other = db_open(tmp_db_dir, 1000);
	assert_int_equal(db_exec(other, "BEGIN IMMEDIATE"), 0);
	sqlite3_busy_timeout(db, 10);
	assert_int_equal(candle_store_put(&cs, batch, 2, 1, NULL), -1);
	assert_int_equal(candle_store_set_synced(&cs, "KRW-SOL", 1, 180000), -1);
	assert_int_equal(cs.errors, 2);
	assert_int_equal(cs.busy, 2);
	assert_int_equal(cs.failing, SQLITE_BUSY);
	db_exec(other, "ROLLBACK");
	sqlite3_close(other);
	assert_int_equal(tmp_db_count(db, "SELECT count(*) FROM candles"), before);
	assert_int_equal(candle_store_synced_until(&cs, "KRW-SOL", 1), 0);
	/* The retry of the next pass stores it all. */
	assert_int_equal(candle_store_put(&cs, batch, 2, 1, NULL), 0);
	assert_int_equal(cs.failing, 0);
	assert_int_equal(tmp_db_count(db, "SELECT count(*) FROM candles"), before + 2);
	candle_store_close(&cs);
}

/* Runs fn with stderr (where the log goes) in a file; returns what was logged. */
static char *logged(void (*fn)(void *), void *arg)
{
	static char text[8192];
	char path[96];
	int saved = dup(2), fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stderr", tmp_db_dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	return text;
}

struct full_case {
	struct candle_store *cs;
	int rc;
};

static void put_until_full(void *arg)
{
	struct full_case *fc = arg;
	static struct upbit_candle batch[200];

	for (int round = 0; round < 50 && fc->rc == 0; round++) {
		for (int i = 0; i < 200; i++)
			batch[i] = candle("KRW-ADA", (int64_t)(round * 200 + i) * 60000, 1 + i);
		fc->rc = candle_store_put(fc->cs, batch, 200, 1, NULL);
	}
}

static void test_full_disk_is_reported_as_such(void **state)
{
	sqlite3 *db = *state;
	struct candle_store cs;
	struct full_case fc = {.cs = &cs, .rc = 0};
	char *text;
	int before = tmp_db_count(db, "SELECT count(*) FROM candles");

	assert_int_equal(candle_store_open(&cs, db), 0);
	/* The file may not grow: SQLite rolls the transaction back by itself on SQLITE_FULL. */
	assert_int_equal(db_exec(db, "PRAGMA max_page_count=40"), 0);
	text = logged(put_until_full, &fc);
	assert_int_equal(fc.rc, -1);
	assert_non_null(strstr(text, "database or disk is full"));
	assert_null(strstr(text, "cannot rollback"));
	assert_int_equal(cs.busy, 0);
	assert_int_equal(cs.failing, SQLITE_FULL);
	assert_int_equal(sqlite3_get_autocommit(db), 1);
	/* Nothing of the refused batch is kept; space back, the store works again. */
	int stored = tmp_db_count(db, "SELECT count(*) FROM candles");
	assert_int_equal((stored - before) % 200, 0);
	assert_int_equal(db_exec(db, "PRAGMA max_page_count=1073741823"), 0);
	put_until_full(&(struct full_case){.cs = &cs, .rc = 0});
	assert_true(tmp_db_count(db, "SELECT count(*) FROM candles") > stored);
	candle_store_close(&cs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_duplicates_are_ignored_and_not_fresh, setup,
						tmp_db_teardown),
		cmocka_unit_test_setup_teardown(test_migration_converts_real_rows_exactly, setup,
						tmp_db_teardown),
		cmocka_unit_test_setup_teardown(test_sync_mark_only_moves_forward, setup,
						tmp_db_teardown),
		cmocka_unit_test_setup_teardown(test_failed_batch_stores_nothing, setup,
						tmp_db_teardown),
		cmocka_unit_test_setup_teardown(test_full_disk_is_reported_as_such, setup,
						tmp_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
