/* market-data's tables: candles (INSERT OR IGNORE per market, unit, start) and candle_sync, how
 * far back from now each market's history is known to be complete. */
#ifndef TD_CANDLE_STORE_H
#define TD_CANDLE_STORE_H

#include <sqlite3.h>
#include <stdint.h>

#include "workers/upbit/upbit_types.h"

enum candle_stmt {
	CANDLE_INSERT,
	CANDLE_SYNC_GET,
	CANDLE_SYNC_SET,
	CANDLE_BEGIN,
	CANDLE_COMMIT,
	CANDLE_STMT_COUNT,
};

struct candle_store {
	sqlite3 *db;
	sqlite3_stmt *st[CANDLE_STMT_COUNT];
	uint64_t inserted, duplicates, errors;
	uint64_t busy;	  /* errors that were a lock held by another connection */
	int failing;	  /* result code of the last failed write; 0 once one succeeds */
	uint64_t refused; /* writes failed since then (an episode is logged at start and end) */
};

int candle_store_open(struct candle_store *cs, sqlite3 *db);
void candle_store_close(struct candle_store *cs);

/* Stores a batch in one transaction. unit is minutes (1440 for day candles). Sets *fresh[i] to
 * 1 for each candle that was new (may be NULL). Returns 0, or -1 with nothing stored (the
 * caller does not mark the range synced, so the next pass fetches and stores it again). */
int candle_store_put(struct candle_store *cs, const struct upbit_candle *c, size_t n, int unit,
		     unsigned char *fresh);
/* The start (ms) up to which the market's candles are complete; 0 when never synced. */
int64_t candle_store_synced_until(struct candle_store *cs, const char *market, int unit);
int candle_store_set_synced(struct candle_store *cs, const char *market, int unit, int64_t ms);

#endif
