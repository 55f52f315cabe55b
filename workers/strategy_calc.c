/* The strategy worker's arithmetic, free of I/O so that it is tested alone: the breakout target,
 * the trading window in a zone, the trading day, sizing and the minimum order. */
#include "workers/strategy_calc.h"

#include <stdio.h>

#include "common/clock.h"

#define DAY_MS INT64_C(86400000)

int strat_target(dec8 open, dec8 high, dec8 low, dec8 k, dec8 *out)
{
	dec8 range, step, t;

	if (open <= 0 || low <= 0 || high < low || k < 0)
		return -1;
	range = high - low;
	if (dec8_mul(range, k, DEC8_UP, &step) < 0 || step > INT64_MAX - open)
		return -1;
	t = dec8_krw_round(open + step, DEC8_UP);
	if (t <= 0)
		return -1;
	*out = t;
	return 0;
}

int strat_window_is_open(const struct tzone *z, int open_min, int close_min, int64_t now_ms)
{
	int64_t s = now_ms / 1000 - (now_ms % 1000 < 0 ? 1 : 0);
	int64_t local = s + tzone_offset(z, s);
	int minute = (int)(((local % 86400) + 86400) % 86400 / 60);

	if (open_min == close_min)
		return 0;
	if (open_min < close_min)
		return minute >= open_min && minute < close_min;
	return minute >= open_min || minute < close_min;
}

void strat_trading_day(int64_t now_ms, char day[16], int64_t *start_ms)
{
	/* 09:00 KST is 00:00 UTC, and Korea keeps no summer time: the UTC date is the day. */
	int64_t days = now_ms >= 0 ? now_ms / DAY_MS : -((-now_ms + DAY_MS - 1) / DAY_MS);
	int64_t y;
	unsigned m, d;

	clock_civil_from_days(days, &y, &m, &d);
	snprintf(day, 16, "%04lld-%02u-%02u", (long long)y, m, d);
	*start_ms = days * DAY_MS;
}

static dec8 whole_won(dec8 v)
{
	return v / DEC8_ONE * DEC8_ONE;
}

int strat_entry_funds(const struct strat_sizing *sz, dec8 krw_balance, int have_balance,
		      dec8 market_cost, dec8 total_cost, dec8 *funds, const char **why)
{
	dec8 f;

	if (sz->share) {
		if (!have_balance) {
			*why = "no KRW balance known yet (order-execution writes balances)";
			return -1;
		}
		if (dec8_mul(krw_balance, sz->share_e8, DEC8_DOWN, &f) < 0) {
			*why = "balance share overflows";
			return -1;
		}
	} else {
		f = sz->order_krw;
	}
	if (have_balance && f > krw_balance)
		f = krw_balance;
	if (f > sz->max_market - market_cost)
		f = sz->max_market - market_cost;
	if (f > sz->max_total - total_cost)
		f = sz->max_total - total_cost;
	f = whole_won(f);
	if (f < STRAT_MIN_ORDER_E8) {
		*why = f <= 0 ? "no room under the position limits or the balance"
			      : "under Upbit's minimum order of 5,000 KRW";
		return -1;
	}
	*funds = f;
	return 0;
}

int strat_limit_order(dec8 funds, dec8 target, dec8 *price, dec8 *volume, const char **why)
{
	dec8 p = dec8_krw_round(target, DEC8_UP), v, total;

	if (p <= 0 || dec8_div(funds, p, DEC8_DOWN, &v) < 0 || v <= 0) {
		*why = "no volume at that price";
		return -1;
	}
	if (dec8_mul(p, v, DEC8_DOWN, &total) < 0 || total < STRAT_MIN_ORDER_E8) {
		*why = "under Upbit's minimum order of 5,000 KRW";
		return -1;
	}
	*price = p;
	*volume = v;
	return 0;
}

int strat_loss_limit_hit(dec8 day_result, dec8 limit)
{
	return limit > 0 && day_result <= -limit;
}
