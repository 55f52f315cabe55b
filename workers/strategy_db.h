/* The strategy worker's SQLite statements: the kill switch, signals and intents in one
 * transaction, positions and balances, the day's levels from candles, and its checkpoints. */
#ifndef TD_STRATEGY_DB_H
#define TD_STRATEGY_DB_H

#include <sqlite3.h>
#include <stdint.h>

#include "common/dec8.h"
#include "workers/strategy_api.h"

enum sdb_stmt {
	SDB_CTL_GET,
	SDB_CTL_SET,
	SDB_SIGNAL_INSERT,
	SDB_SIGNAL_EXISTS,
	SDB_INTENT_INSERT,
	SDB_POSITION,
	SDB_POSITIONS_TOTAL,
	SDB_BALANCE_KRW,
	SDB_ENTRIES_SINCE,
	SDB_MARKET_BIDS_SINCE,
	SDB_DAY_RESULT,
	SDB_DAY_CANDLE,
	SDB_MINUTES_RANGE,
	SDB_FIRST_MINUTE,
	SDB_MA,
	SDB_STATE_PUT,
	SDB_STATE_GET,
	SDB_BEGIN,
	SDB_COMMIT,
	SDB_STMT_COUNT,
};

struct sdb {
	sqlite3 *db;
	sqlite3_stmt *st[SDB_STMT_COUNT];
};

int sdb_open(struct sdb *s, sqlite3 *db);
void sdb_close(struct sdb *s);

/* trading_control: 1 paused, 0 not, -1 unreadable (treated as paused by the caller). */
int sdb_paused(struct sdb *s, char *reason, size_t len);
int sdb_set_paused(struct sdb *s, int paused, const char *reason, const char *by);
/* Pauses trading and writes its alert in one transaction: the alert's id, -1 when neither
 * was written (logged). */
int64_t sdb_pause_with_alert(struct sdb *s, const char *reason, const char *source,
			     const char *severity, const char *kind, const char *text);
int sdb_signal_exists(struct sdb *s, const char *strategy, const char *market, const char *day,
		      const char *kind);
/* Records the signal and its intent in one transaction: the intent id, 0 when the signal
 * existed already (nothing written), -1 on error. price/volume/funds 0 mean NULL. */
int64_t sdb_signal_intent(struct sdb *s, const char *strategy, const char *market, const char *day,
			  const char *kind, const char *detail, const char *side,
			  const char *ord_type, dec8 price, dec8 volume, dec8 funds);
int sdb_position(struct sdb *s, const char *market, dec8 *volume, dec8 *cost);
dec8 sdb_positions_total(struct sdb *s);
/* 1 with the balance, 0 when order-execution has written none. */
int sdb_balance_krw(struct sdb *s, dec8 *balance);
int64_t sdb_entries_since(struct sdb *s, int64_t since_ms);
/* Buy intents of market since since_ms whatever made them (-1 when unreadable): an order
 * recovered from the exchange after a restore has no signal, yet it is the day's entry. */
int64_t sdb_market_bids_since(struct sdb *s, const char *market, int64_t since_ms);
/* Realised PnL of the day's fills (order-execution books fees into it: a buy's fee into the
 * cost, a sell's out of its proceeds). */
dec8 sdb_day_result(struct sdb *s, const char *day);
int sdb_levels(struct sdb *s, const char *market, int64_t day_start_ms, int ma_days,
	       struct strat_levels *out);
int sdb_state_put(struct sdb *s, const char *strategy, const char *market, const char *state);
/* The saved state (malloc'd) or NULL. */
char *sdb_state_get(struct sdb *s, const char *strategy, const char *market);

#endif
