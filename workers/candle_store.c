/* market-data's tables: candles (INSERT OR IGNORE per market, unit, start) and candle_sync, how
 * far back from now each market's history is known to be complete. */
#include "workers/candle_store.h"

#include <stdio.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"

static const char *const candle_sql[CANDLE_STMT_COUNT] = {
	[CANDLE_INSERT] = "INSERT OR IGNORE INTO candles(market, unit, start_ms, open_e8, high_e8,"
			  " low_e8, close_e8, volume, quote_volume, last_trade_ms, stored_ms)"
			  " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[CANDLE_SYNC_GET] = "SELECT synced_until_ms FROM candle_sync WHERE market = ? AND unit = ?",
	[CANDLE_SYNC_SET] = "INSERT INTO candle_sync(market, unit, synced_until_ms) VALUES(?, ?, ?)"
			    " ON CONFLICT(market, unit) DO UPDATE SET synced_until_ms ="
			    " max(synced_until_ms, excluded.synced_until_ms)",
	[CANDLE_BEGIN] = "BEGIN IMMEDIATE",
	[CANDLE_COMMIT] = "COMMIT",
};

int candle_store_open(struct candle_store *cs, sqlite3 *db)
{
	cs->db = db;
	cs->inserted = cs->duplicates = cs->errors = cs->busy = cs->refused = 0;
	cs->failing = 0;
	return db_prepare_all(db, candle_sql, cs->st, CANDLE_STMT_COUNT);
}

void candle_store_close(struct candle_store *cs)
{
	db_finalize_all(cs->st, CANDLE_STMT_COUNT);
}

/* A failed write: rc and msg were taken before any ROLLBACK. A locked database or a full disk
 * lasts a while: it is logged when it starts and when it ends, not at every pass. */
static void write_failed(struct candle_store *cs, int rc, const char *what, const char *msg)
{
	cs->errors++;
	cs->refused++;
	if (rc == SQLITE_BUSY)
		cs->busy++;
	if (rc == cs->failing)
		return;
	cs->failing = rc;
	if (rc == SQLITE_BUSY)
		log_warnx("candles: cannot %s: %s (another connection holds the write lock): kept "
			  "unsynced, fetched and stored again on the next pass",
			  what, msg);
	else
		log_errx("candles: cannot %s: %s: kept unsynced, retried on every pass", what, msg);
}

static void write_done(struct candle_store *cs)
{
	if (!cs->failing)
		return;
	log_notice("candles: the database takes writes again (%llu refused)",
		   (unsigned long long)cs->refused);
	cs->failing = 0;
	cs->refused = 0;
}

int candle_store_put(struct candle_store *cs, const struct upbit_candle *c, size_t n, int unit,
		     unsigned char *fresh)
{
	sqlite3_stmt *ins = cs->st[CANDLE_INSERT];
	uint64_t added = 0;
	int64_t now = clock_now_ms();
	char msg[256], what[96];
	int rc;

	if (n == 0)
		return 0;
	if (db_step_reset(cs->st[CANDLE_BEGIN]) != SQLITE_DONE)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_text(ins, 1, c[i].market, -1, SQLITE_STATIC);
		sqlite3_bind_int(ins, 2, unit);
		sqlite3_bind_int64(ins, 3, c[i].start_ms);
		sqlite3_bind_int64(ins, 4, c[i].open_e8);
		sqlite3_bind_int64(ins, 5, c[i].high_e8);
		sqlite3_bind_int64(ins, 6, c[i].low_e8);
		sqlite3_bind_int64(ins, 7, c[i].close_e8);
		sqlite3_bind_text(ins, 8, c[i].volume, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 9, c[i].quote_volume, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 10, c[i].last_tick_ms);
		sqlite3_bind_int64(ins, 11, now);
		if (db_step_reset(ins) != SQLITE_DONE)
			goto fail;
		int changed = sqlite3_changes(cs->db) == 1;

		if (fresh)
			fresh[i] = (unsigned char)changed;
		added += (uint64_t)changed;
	}
	if (db_step_reset(cs->st[CANDLE_COMMIT]) != SQLITE_DONE)
		goto fail;
	cs->inserted += added;
	cs->duplicates += n - added;
	write_done(cs);
	return 0;
fail:
	/* The error first: SQLite may have rolled back already (a full disk), and a ROLLBACK
	 * would replace "database or disk is full" with "no transaction is active". */
	rc = db_rollback_keep_error(cs->db, msg, sizeof(msg));
	snprintf(what, sizeof(what), "store %zu candles of %s", n, c[0].market);
	write_failed(cs, rc, what, msg);
	return -1;
}

int64_t candle_store_synced_until(struct candle_store *cs, const char *market, int unit)
{
	sqlite3_stmt *st = cs->st[CANDLE_SYNC_GET];
	int64_t until = 0;

	sqlite3_bind_text(st, 1, market, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, unit);
	if (sqlite3_step(st) == SQLITE_ROW)
		until = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return until;
}

int candle_store_set_synced(struct candle_store *cs, const char *market, int unit, int64_t ms)
{
	sqlite3_stmt *st = cs->st[CANDLE_SYNC_SET];

	sqlite3_bind_text(st, 1, market, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, unit);
	sqlite3_bind_int64(st, 3, ms);
	if (db_step_reset(st) != SQLITE_DONE) {
		char msg[256], what[64];
		int rc = db_rollback_keep_error(cs->db, msg, sizeof(msg));

		snprintf(what, sizeof(what), "record the sync of %s", market);
		write_failed(cs, rc, what, msg);
		return -1;
	}
	write_done(cs);
	return 0;
}
