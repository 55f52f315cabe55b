/* market-data's candle store on a real SQLite file: duplicates ignored and reported as not
 * fresh, sync marks only move forward, a failed batch stores nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/db.h"
#include "workers/candle_store.h"

static char dir[64];

static int setup(void **state)
{
	sqlite3 *db;

	snprintf(dir, sizeof(dir), "/tmp/td-cs-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	db = db_open(dir);
	if (!db || db_migrate(db) < 0)
		return -1;
	*state = db;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	sqlite3_close(*state);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct upbit_candle candle(const char *market, int64_t start, double close)
{
	struct upbit_candle c;

	memset(&c, 0, sizeof(c));
	snprintf(c.market, sizeof(c.market), "%s", market);
	c.start_ms = start;
	c.last_tick_ms = start + 30000;
	c.open = c.high = c.low = c.close = close;
	c.acc_trade_volume = 1.5;
	c.acc_trade_price = 1.5 * close;
	return c;
}

static int count_rows(sqlite3 *db)
{
	sqlite3_stmt *st;
	int n = -1;

	sqlite3_prepare_v2(db, "SELECT count(*) FROM candles", -1, &st, NULL);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
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
	batch[1].close = 99; /* a re-sent candle never overwrites the stored one */
	assert_int_equal(candle_store_put(&cs, batch, 3, 1, fresh), 0);
	assert_memory_equal(fresh, "\0\0\0", 3);
	assert_int_equal(cs.inserted, 3);
	assert_int_equal(cs.duplicates, 3);
	assert_int_equal(candle_store_put(&cs, batch, 1, 1440, fresh), 0);
	assert_int_equal(fresh[0], 1);
	assert_int_equal(count_rows(db), 4);
	candle_store_close(&cs);
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
	int before = count_rows(db);

	assert_int_equal(candle_store_open(&cs, db), 0);
	/* Another connection holds the write lock: the batch must fail whole. */
	sqlite3 *other = db_open(dir);
	assert_int_equal(db_exec(other, "BEGIN IMMEDIATE"), 0);
	sqlite3_busy_timeout(db, 10);
	assert_int_equal(candle_store_put(&cs, batch, 2, 1, NULL), -1);
	assert_int_equal(cs.errors, 1);
	db_exec(other, "ROLLBACK");
	sqlite3_close(other);
	assert_int_equal(count_rows(db), before);
	assert_int_equal(candle_store_put(&cs, batch, 2, 1, NULL), 0);
	assert_int_equal(count_rows(db), before + 2);
	candle_store_close(&cs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_duplicates_are_ignored_and_not_fresh, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sync_mark_only_moves_forward, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_batch_stores_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
