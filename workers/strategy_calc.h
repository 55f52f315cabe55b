/* The strategy worker's arithmetic, free of I/O so that it is tested alone: the breakout target,
 * the trading window in a zone, the trading day, sizing and the minimum order. */
#ifndef TD_STRATEGY_CALC_H
#define TD_STRATEGY_CALC_H

#include <stdint.h>

#include "common/dec8.h"
#include "common/tzone.h"

/* Upbit's minimum order total in KRW. */
#define STRAT_MIN_ORDER_E8 (INT64_C(5000) * DEC8_ONE)

/* open + k x (high - low), rounded up onto the KRW tick grid (a buy at or above it is a
 * breakout). -1 when high < low, a price is not positive, or on overflow. */
int strat_target(dec8 open, dec8 high, dec8 low, dec8 k, dec8 *out);
/* 1 when now_ms falls inside [open_min, close_min) of the local day in z; a window whose close
 * is before its open spans midnight; equal times mean always closed. */
int strat_window_is_open(const struct tzone *z, int open_min, int close_min, int64_t now_ms);
/* The trading day of now_ms as YYYY-MM-DD and its start: Upbit's day begins 09:00 KST. */
void strat_trading_day(int64_t now_ms, char day[16], int64_t *start_ms);

struct strat_sizing {
	int share;	 /* 0: fixed order_krw; 1: share of the KRW balance */
	dec8 order_krw;	 /* fixed total */
	dec8 share_e8;	 /* share of the balance, 0..1 in units of 1e-8 */
	dec8 max_market; /* largest position cost in one market */
	dec8 max_total;	 /* largest cost of all positions */
};

/* The KRW total of an entry: the sizing rule, capped by the balance and the room left under
 * both position limits, whole won (rounded down). 0 with *funds, or -1 with why (under the
 * 5,000 KRW minimum after the caps, no balance, ...). */
int strat_entry_funds(const struct strat_sizing *sz, dec8 krw_balance, int have_balance,
		      dec8 market_cost, dec8 total_cost, dec8 *funds, const char **why);
/* A limit buy at the target: price on the tick grid (up), volume = funds / price (down);
 * -1 with why when the order's total price x volume is under the minimum. */
int strat_limit_order(dec8 funds, dec8 target, dec8 *price, dec8 *volume, const char **why);
/* 1 when the day's realised result (negative: a loss) has reached -limit; limit 0: never. */
int strat_loss_limit_hit(dec8 day_result, dec8 limit);

#endif
