/* The strategy worker's own state, shared by its files: markets with their strategies, the
 * trading window, the database, and the entry and exit paths every strategy goes through. */
#ifndef TD_STRATEGY_INT_H
#define TD_STRATEGY_INT_H

#include <uv.h>

#include "common/close_count.h"
#include "common/db_ckpt.h"
#include "common/outbox.h"
#include "common/strategy_conf.h"
#include "common/tzone.h"
#include "workers/strategy_api.h"
#include "workers/strategy_calc.h"
#include "workers/strategy_db.h"
#include "workers/worker.h"

#define STRATEGY_MAX_MARKETS 400

struct strategy;

/* m comes first: a strategy's struct strat_market * is its slot. */
struct strategy_slot {
	struct strat_market m;
	struct strategy *owner;
	struct strat_entry entry;
	void *dl; /* dlopen handle of a plugin, or NULL */
	int64_t trade_ts_ms;
	char last_refusal[160]; /* logged once until it changes */
	char param_buf[32];	/* a strategy-section default handed out by param() */
	uint64_t entries, exits, refusals;
};

/* Every market market-data reports, traded or not: its latest price and stale flag. */
#define STRATEGY_MAX_VIEWS 512

struct market_view {
	char market[24];
	dec8 price;
	int64_t trade_ts_ms;
	int stale;
};

struct strategy {
	struct worker *w;
	sqlite3 *db;
	struct db_ckpt *ckpt; /* checkpoints after ORDER_INTENT, not inside the intent's commit */
	struct sdb sdb;
	struct outbox outbox;
	struct tzone *tz;
	int open_min, close_min;
	int window_open;  /* the state in force (the clock's, or an action's until the next edge) */
	int window_clock; /* what the clock said at the last look */
	dec8 k;
	struct strat_sizing sizing;
	dec8 loss_limit;
	uv_timer_t check_timer, edge_timer;
	struct close_count closing; /* the timers, after strategy_stop */
	struct strategy_slot *slots;
	size_t n;
	struct market_view views[STRATEGY_MAX_VIEWS];
	size_t n_views;
	/* Where the last tick's market was found: ticks come in the same order every reply. */
	size_t slot_hint, view_hint;
	int day_set; /* every slot has the day of day_start_ms (set_day) */
	int64_t day_start_ms;
	uint64_t view_overflow;
	uint64_t ticks, candles, fills, checks, alerts;
};

/* strategy_impls.c: a built-in strategy by name, or NULL. */
const struct strategy_impl *strategy_builtin(const char *name);
/* strategy_plugin.c: loads path, checks its interface version; NULL with err filled. */
const struct strategy_impl *strategy_plugin_load(const char *path, void **handle, char *err,
						 size_t len);
/* strategy_entry.c: the host calls (entry, exit, levels, ...) every strategy uses. */
extern const struct strategy_host strategy_host;
struct strategy *strategy_of(struct strat_market *m);
/* Rereads the market's positions row. */
void strategy_refresh_position(struct strategy *s, struct strat_market *m);
/* Alerts (a notifications row, then IPC_ALERT). */
void strategy_alert(struct strategy *s, const char *severity, const char *kind, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));
/* The name a strategy's signals and checkpoints are recorded under. */
const char *strategy_key(const struct strat_market *m);

#endif
