/* The strategy worker's SQLite statements: the kill switch, signals and intents in one
 * transaction, positions and balances, the day's levels from candles, and its checkpoints. */
#include "workers/strategy_db.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "common/outbox.h"

#define DAY_MS INT64_C(86400000)

static const char *const sdb_sql[SDB_STMT_COUNT] = {
	[SDB_CTL_GET] = "SELECT paused, reason FROM trading_control WHERE id = 1",
	[SDB_CTL_SET] = "UPDATE trading_control SET paused = ?, reason = ?, changed_ms = ?,"
			" changed_by = ? WHERE id = 1",
	[SDB_SIGNAL_INSERT] = "INSERT INTO signals(strategy, market, day, kind, created_ms, detail)"
			      " VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
	[SDB_SIGNAL_EXISTS] = "SELECT 1 FROM signals WHERE strategy = ? AND market = ? AND day = ?"
			      " AND kind = ?",
	[SDB_INTENT_INSERT] = "INSERT INTO order_intents(signal_id, market, side, ord_type,"
			      " price_e8, volume_e8, funds_e8, state, created_ms, updated_ms)"
			      " VALUES(?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
	[SDB_POSITION] = "SELECT volume_e8, cost_e8 FROM positions WHERE market = ?",
	[SDB_POSITIONS_TOTAL] = "SELECT coalesce(sum(cost_e8), 0) FROM positions",
	[SDB_BALANCE_KRW] = "SELECT balance_e8 FROM balances WHERE currency = 'KRW'",
	[SDB_ENTRIES_SINCE] = "SELECT count(*) FROM order_intents WHERE side = 'bid' AND"
			      " created_ms >= ?",
	[SDB_MARKET_BIDS_SINCE] = "SELECT count(*) FROM order_intents WHERE market = ? AND"
				  " side = 'bid' AND created_ms >= ?",
	[SDB_DAY_RESULT] = "SELECT coalesce(sum(realized_e8), 0) FROM fills WHERE day = ?",
	[SDB_DAY_CANDLE] = "SELECT high_e8, low_e8, close_e8 FROM candles WHERE market = ? AND"
			   " unit = 1440 AND start_ms = ?",
	[SDB_MINUTES_RANGE] = "SELECT max(high_e8), min(low_e8), count(*) FROM candles WHERE"
			      " market = ? AND unit = 1 AND start_ms >= ? AND start_ms < ?",
	[SDB_FIRST_MINUTE] = "SELECT open_e8 FROM candles WHERE market = ? AND unit = 1 AND"
			     " start_ms >= ? AND start_ms < ? ORDER BY start_ms LIMIT 1",
	[SDB_MA] = "SELECT count(*), coalesce(sum(close_e8), 0) FROM (SELECT close_e8 FROM candles"
		   " WHERE market = ? AND unit = 1440 AND start_ms < ? ORDER BY start_ms DESC"
		   " LIMIT ?)",
	[SDB_STATE_PUT] = "INSERT INTO strategy_state(strategy, market, state, updated_ms)"
			  " VALUES(?, ?, ?, ?) ON CONFLICT(strategy, market) DO UPDATE SET"
			  " state = excluded.state, updated_ms = excluded.updated_ms",
	[SDB_STATE_GET] = "SELECT state FROM strategy_state WHERE strategy = ? AND market = ?",
	[SDB_BEGIN] = "BEGIN IMMEDIATE",
	[SDB_COMMIT] = "COMMIT",
};

int sdb_open(struct sdb *s, sqlite3 *db)
{
	s->db = db;
	return db_prepare_all(db, sdb_sql, s->st, SDB_STMT_COUNT);
}

void sdb_close(struct sdb *s)
{
	db_finalize_all(s->st, SDB_STMT_COUNT);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void bind_dec(sqlite3_stmt *st, int i, dec8 v)
{
	if (v)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int sdb_paused(struct sdb *s, char *reason, size_t len)
{
	sqlite3_stmt *st = s->st[SDB_CTL_GET];
	int paused = -1;

	if (sqlite3_step(st) == SQLITE_ROW) {
		paused = sqlite3_column_int(st, 0) != 0;
		if (reason)
			snprintf(reason, len, "%s", (const char *)sqlite3_column_text(st, 1));
	} else if (reason) {
		snprintf(reason, len, "trading_control unreadable: %s", sqlite3_errmsg(s->db));
	}
	done(st);
	return paused;
}

int sdb_set_paused(struct sdb *s, int paused, const char *reason, const char *by)
{
	sqlite3_stmt *st = s->st[SDB_CTL_SET];

	sqlite3_bind_int(st, 1, paused);
	bind_text(st, 2, reason);
	sqlite3_bind_int64(st, 3, clock_now_ms());
	bind_text(st, 4, by);
	if (db_step_reset(st) != SQLITE_DONE) {
		log_warnx("strategy: cannot write trading_control: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

int64_t sdb_pause_with_alert(struct sdb *s, const char *reason, const char *source,
			     const char *severity, const char *kind, const char *text)
{
	int64_t id;
	char msg[256];

	if (db_step_reset(s->st[SDB_BEGIN]) != SQLITE_DONE)
		goto fail;
	if (sdb_set_paused(s, 1, reason, "strategy") < 0)
		goto fail;
	id = outbox_add(s->db, clock_now_ms(), source, severity, kind, text);
	if (id < 0 || db_step_reset(s->st[SDB_COMMIT]) != SQLITE_DONE)
		goto fail;
	return id;
fail:
	db_rollback_keep_error(s->db, msg, sizeof(msg));
	log_warnx("strategy: cannot pause trading (%s): %s", reason, msg);
	return -1;
}

int sdb_signal_exists(struct sdb *s, const char *strategy, const char *market, const char *day,
		      const char *kind)
{
	sqlite3_stmt *st = s->st[SDB_SIGNAL_EXISTS];
	int found;

	bind_text(st, 1, strategy);
	bind_text(st, 2, market);
	bind_text(st, 3, day);
	bind_text(st, 4, kind);
	found = sqlite3_step(st) == SQLITE_ROW;
	done(st);
	return found;
}

int64_t sdb_signal_intent(struct sdb *s, const char *strategy, const char *market, const char *day,
			  const char *kind, const char *detail, const char *side,
			  const char *ord_type, dec8 price, dec8 volume, dec8 funds)
{
	sqlite3_stmt *sig = s->st[SDB_SIGNAL_INSERT], *in = s->st[SDB_INTENT_INSERT];
	int64_t now = clock_now_ms(), signal_id, intent_id;
	char msg[256];

	if (db_step_reset(s->st[SDB_BEGIN]) != SQLITE_DONE)
		goto fail;
	bind_text(sig, 1, strategy);
	bind_text(sig, 2, market);
	bind_text(sig, 3, day);
	bind_text(sig, 4, kind);
	sqlite3_bind_int64(sig, 5, now);
	bind_text(sig, 6, detail);
	if (db_step_reset(sig) != SQLITE_DONE)
		goto fail;
	if (sqlite3_changes(s->db) != 1) {
		/* The signal key is taken: this entry (or exit) was decided before. */
		db_exec(s->db, "ROLLBACK");
		return 0;
	}
	signal_id = sqlite3_last_insert_rowid(s->db);
	sqlite3_bind_int64(in, 1, signal_id);
	bind_text(in, 2, market);
	bind_text(in, 3, side);
	bind_text(in, 4, ord_type);
	bind_dec(in, 5, price);
	bind_dec(in, 6, volume);
	bind_dec(in, 7, funds);
	sqlite3_bind_int64(in, 8, now);
	sqlite3_bind_int64(in, 9, now);
	if (db_step_reset(in) != SQLITE_DONE)
		goto fail;
	intent_id = sqlite3_last_insert_rowid(s->db);
	if (db_step_reset(s->st[SDB_COMMIT]) != SQLITE_DONE)
		goto fail;
	return intent_id;
fail:
	db_rollback_keep_error(s->db, msg, sizeof(msg));
	log_warnx("strategy: cannot record the %s signal of %s: %s", kind, market, msg);
	return -1;
}

int sdb_position(struct sdb *s, const char *market, dec8 *volume, dec8 *cost)
{
	sqlite3_stmt *st = s->st[SDB_POSITION];
	int rc;

	*volume = *cost = 0;
	bind_text(st, 1, market);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*volume = sqlite3_column_int64(st, 0);
		*cost = sqlite3_column_int64(st, 1);
	}
	done(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int64_t one_int(struct sdb *s, enum sdb_stmt i, int64_t dflt)
{
	sqlite3_stmt *st = s->st[i];
	int64_t v = dflt;

	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	done(st);
	return v;
}

dec8 sdb_positions_total(struct sdb *s)
{
	return one_int(s, SDB_POSITIONS_TOTAL, 0);
}

int sdb_balance_krw(struct sdb *s, dec8 *balance)
{
	sqlite3_stmt *st = s->st[SDB_BALANCE_KRW];
	int found = 0;

	if (sqlite3_step(st) == SQLITE_ROW) {
		*balance = sqlite3_column_int64(st, 0);
		found = 1;
	}
	done(st);
	return found;
}

int64_t sdb_entries_since(struct sdb *s, int64_t since_ms)
{
	sqlite3_bind_int64(s->st[SDB_ENTRIES_SINCE], 1, since_ms);
	return one_int(s, SDB_ENTRIES_SINCE, 0);
}

int64_t sdb_market_bids_since(struct sdb *s, const char *market, int64_t since_ms)
{
	bind_text(s->st[SDB_MARKET_BIDS_SINCE], 1, market);
	sqlite3_bind_int64(s->st[SDB_MARKET_BIDS_SINCE], 2, since_ms);
	return one_int(s, SDB_MARKET_BIDS_SINCE, -1);
}

dec8 sdb_day_result(struct sdb *s, const char *day)
{
	bind_text(s->st[SDB_DAY_RESULT], 1, day);
	return one_int(s, SDB_DAY_RESULT, 0);
}

/* Yesterday's high and low: its day candle, else the minute candles of that day. */
static int prev_range(struct sdb *s, const char *market, int64_t day_start, dec8 *high, dec8 *low,
		      dec8 *close)
{
	sqlite3_stmt *st = s->st[SDB_DAY_CANDLE];
	int ok = 0;

	*close = 0;
	bind_text(st, 1, market);
	sqlite3_bind_int64(st, 2, day_start - DAY_MS);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*high = sqlite3_column_int64(st, 0);
		*low = sqlite3_column_int64(st, 1);
		*close = sqlite3_column_int64(st, 2);
		ok = 1;
	}
	done(st);
	if (ok)
		return 0;
	st = s->st[SDB_MINUTES_RANGE];
	bind_text(st, 1, market);
	sqlite3_bind_int64(st, 2, day_start - DAY_MS);
	sqlite3_bind_int64(st, 3, day_start);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 2) > 0) {
		*high = sqlite3_column_int64(st, 0);
		*low = sqlite3_column_int64(st, 1);
		ok = 1;
	}
	done(st);
	return ok ? 0 : -1;
}

int sdb_levels(struct sdb *s, const char *market, int64_t day_start_ms, int ma_days,
	       struct strat_levels *out)
{
	sqlite3_stmt *st;
	dec8 close;

	memset(out, 0, sizeof(*out));
	if (prev_range(s, market, day_start_ms, &out->prev_high, &out->prev_low, &close) < 0)
		return -1;
	st = s->st[SDB_FIRST_MINUTE];
	bind_text(st, 1, market);
	sqlite3_bind_int64(st, 2, day_start_ms);
	sqlite3_bind_int64(st, 3, day_start_ms + DAY_MS);
	if (sqlite3_step(st) == SQLITE_ROW) {
		out->today_open = sqlite3_column_int64(st, 0);
		out->open_final = 1;
	}
	done(st);
	if (!out->open_final) {
		/* Until today's first minute candle is stored, Upbit's open is yesterday's close. */
		if (close <= 0)
			return -1;
		out->today_open = close;
	}
	if (ma_days > 0) {
		st = s->st[SDB_MA];
		bind_text(st, 1, market);
		sqlite3_bind_int64(st, 2, day_start_ms);
		sqlite3_bind_int(st, 3, ma_days);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == ma_days) {
			out->ma = sqlite3_column_int64(st, 1) / ma_days;
			out->have_ma = 1;
		}
		done(st);
	}
	return 0;
}

int sdb_state_put(struct sdb *s, const char *strategy, const char *market, const char *state)
{
	sqlite3_stmt *st = s->st[SDB_STATE_PUT];

	bind_text(st, 1, strategy);
	bind_text(st, 2, market);
	bind_text(st, 3, state);
	sqlite3_bind_int64(st, 4, clock_now_ms());
	if (db_step_reset(st) != SQLITE_DONE) {
		log_warnx("strategy: cannot checkpoint %s: %s", market, sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

char *sdb_state_get(struct sdb *s, const char *strategy, const char *market)
{
	sqlite3_stmt *st = s->st[SDB_STATE_GET];
	char *v = NULL;

	bind_text(st, 1, strategy);
	bind_text(st, 2, market);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = strdup((const char *)sqlite3_column_text(st, 0));
	done(st);
	return v;
}
