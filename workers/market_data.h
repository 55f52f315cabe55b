/* The market-data worker's state, shared by its files: market_data.c (life cycle, status),
 * md_ticker.c (prices and staleness) and md_candles.c (candle sync and backfill). */
#ifndef TD_MARKET_DATA_H
#define TD_MARKET_DATA_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdint.h>
#include <uv.h>

#include "common/close_count.h"
#include "common/outbox.h"
#include "workers/candle_store.h"
#include "workers/upbit/upbit_client.h"
#include "workers/worker.h"

/* Candle syncs in flight at once: enough to keep the candle group busy, few enough that a
 * few hundred markets never overflow the client's queue. */
#define MD_SYNC_CONCURRENCY 4
/* Real-time floor of the poll timers, so that a fast test clock cannot hammer the exchange. */
#define MD_MIN_TIMER_MS 100
/* Closed candles younger than this are published to the strategy; older ones (a backfill)
 * are only stored: the strategy reads history from SQLite. */
#define MD_PUBLISH_WINDOW_MS (5 * 60 * 1000)
#define MD_DAY_BACKFILL 30

enum md_series { MD_MINUTES, MD_DAYS, MD_SERIES_COUNT };

struct md_sync {
	int busy;
	int64_t from_ms, to_ms, cursor_ms; /* fetching [from, to), pages end at cursor */
	int pages;
	int loaded;	   /* synced_ms has been read from candle_sync */
	int64_t synced_ms; /* candles before this are complete (a cache of candle_sync) */
};

struct md_market {
	char name[UPBIT_MARKET_LEN];
	int64_t last_valid_ms; /* daemon time of the last valid price */
	int64_t last_trade_ms; /* exchange time of that price: must not go backwards */
	int64_t last_price_e8; /* dec8 */
	int stale;
	int unlisted;	    /* not on the exchange's market list: not followed */
	uint64_t reply_seq; /* the last ticker reply that published it */
	struct md_sync sync[MD_SERIES_COUNT];
};

struct market_data {
	struct worker *w;
	struct upbit_client *client;
	sqlite3 *db;
	struct candle_store store;
	struct outbox outbox; /* alerts, kept while the database is locked */
	struct md_market *markets;
	const char **names; /* the listed markets, for the ticker query */
	size_t n, n_names;
	char *urls[UPBIT_MAX_BASES];
	uv_timer_t ticker_timer, candle_timer, stale_timer;
	struct close_count closing; /* the timers and the client, after md_stop */
	int ticker_busy;
	uint64_t reply_seq; /* ticker replies accepted, for publish()'s once per reply */
	int following;	    /* the market list is settled and the polls run */
	int syncs_busy;
	size_t next_sync; /* round robin over markets × series */
	int64_t stale_after_ms, backfill_ms, candle_grace_ms;

	uint64_t ticker_ok, ticker_failed, ticks_published, ticks_out_of_order;
	uint64_t candle_pages, candle_failures, candles_published;
	uint64_t alerts;
	FILE *trace; /* TRADINGD_FAULT=market-data:trace-ticks (benchmarks): every price seen */
};

/* market_data.c */
void md_follow(struct market_data *md);
void md_alert(struct market_data *md, const char *severity, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* md_ticker.c */
void md_ticker_start(struct market_data *md);
void md_stale_start(struct market_data *md);
void md_stale_check(uv_timer_t *timer);

/* md_candles.c */
void md_candles_start(struct market_data *md);
int64_t md_series_step_ms(enum md_series series);

#endif
