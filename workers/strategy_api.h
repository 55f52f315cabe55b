/* The strategy interface: what a strategy implements (built in, or a plugin loaded with dlopen)
 * and what the strategy worker offers it. A plugin exports STRATEGY_PLUGIN_SYMBOL. */
#ifndef TD_STRATEGY_API_H
#define TD_STRATEGY_API_H

#include <stddef.h>
#include <stdint.h>

#include "common/dec8.h"

/* Bump when a struct below or the meaning of a call changes: a plugin built for another
 * version is refused at load. */
#define STRATEGY_API_VERSION 1
/* A plugin exports: const struct strategy_impl *tradingd_strategy(void); */
#define STRATEGY_PLUGIN_SYMBOL "tradingd_strategy"

struct strat_market;

/* The day's levels, from the candles table: today's open (the first minute candle of the day,
 * else yesterday's close: open_final 0), yesterday's high and low, the N-day average close. */
struct strat_levels {
	dec8 today_open, prev_high, prev_low, ma;
	int open_final;
	int have_ma;
};

struct strat_candle {
	int64_t start_ms;
	int unit_min;
	dec8 open, high, low, close;
};

struct strategy_host {
	/* A buy for today's entry signal at reference price ref (the limit price of a limit
	 * buy). The worker checks window, pause, staleness, peers, risk and size, and records
	 * the signal and the intent in one transaction: 1 placed, 0 refused (logged), -1 error. */
	int (*enter)(struct strat_market *m, dec8 ref, const char *detail);
	/* A market sell of the whole position under signal kind ("exit", "stop"); same codes. */
	int (*exit)(struct strat_market *m, const char *kind, const char *detail);
	/* 0 with the levels of m's current day, or -1 when the candles are not there yet. */
	int (*levels)(struct strat_market *m, int ma_days, struct strat_levels *out);
	/* 1 when the signal (m's day, kind) exists. */
	int (*signal_exists)(struct strat_market *m, const char *kind);
	/* Saves the strategy's own state (JSON text) for a restart (strategy_state). */
	void (*checkpoint)(struct strat_market *m, const char *state);
	/* A parameter of m's config entry, or NULL. */
	const char *(*param)(struct strat_market *m, const char *key);
};

struct strat_market {
	char market[24];
	char day[16];	      /* trading day YYYY-MM-DD: 09:00 KST (00:00 UTC) to the next */
	int64_t day_start_ms; /* its start */
	dec8 price;	      /* last price; 0 until the first tick */
	int stale;	      /* market-data says the price is stale */
	int window_open;
	dec8 position, cost; /* positions row (order-execution writes it) */
	dec8 entry_price;    /* cost / volume of the position, 0 when flat */
	const struct strategy_host *host;
	const struct strategy_impl *impl;
	const char *saved_state; /* strategy_state at start, or NULL (valid during init) */
	void *priv;		 /* the strategy's own */
};

struct strategy_impl {
	uint32_t api_version; /* STRATEGY_API_VERSION: first, so any version can be read */
	const char *name;
	int (*init)(struct strat_market *m, char *err, size_t len);
	void (*on_tick)(struct strat_market *m, int64_t now_ms);
	void (*on_candle)(struct strat_market *m, const struct strat_candle *c);
	void (*on_fill)(struct strat_market *m);
	void (*on_window)(struct strat_market *m, int open);
	void (*on_check)(struct strat_market *m, int64_t now_ms);
	void (*fini)(struct strat_market *m);
};

#endif
