/* Upbit's quotation (public) REST endpoints: markets, tickers, candles, order books, tick
 * sizes and recent trades. Prices are JSON numbers; errors name the HTTP status as a number. */
#include "sim/sim_state.h"

#include "common/clock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

static const char MISSING[] = "Missing request parameter error. Check the required parameters!";
static const char INVALID[] = "Invalid parameter. Check the given value!";

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Resolves a comma-separated market list; 0, or -1 after replying with the error. */
static int market_list(struct sim *s, const char *param, int *idx, int *n, struct sim_reply *rp)
{
	char buf[8192], *save = NULL, *tok;

	*n = 0;
	if (!param || !*param) {
		reply_error_code(rp, 400, MISSING);
		return -1;
	}
	if (strlen(param) >= sizeof(buf)) {
		reply_error_code(rp, 400, INVALID);
		return -1;
	}
	strcpy(buf, param);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int i = sim_market_index(s, tok);

		if (i < 0 || *n >= SIM_MAX_MARKETS) {
			reply_error_code(rp, 404, "Code not found");
			return -1;
		}
		idx[(*n)++] = i;
	}
	if (*n == 0) {
		reply_error_code(rp, 400, INVALID);
		return -1;
	}
	return 0;
}

static void route_market_all(struct sim *s, struct sim_request *rq, struct sim_reply *rp)
{
	const char *d = query_get(&rq->q, "is_details");
	int details, i;
	json_t *arr = json_array();

	if (!d)
		d = query_get(&rq->q, "isDetails");
	details = d && strcmp(d, "true") == 0;
	for (i = 0; i < s->nmarkets; i++) {
		json_t *o = json_pack("{s:s,s:s,s:s}", "market", s->markets[i].code, "korean_name",
				      s->markets[i].korean_name, "english_name",
				      s->markets[i].english_name);

		if (details)
			json_object_set_new(
				o, "market_event",
				json_pack("{s:b,s:{s:b,s:b,s:b,s:b,s:b}}", "warning", 0, "caution",
					  "PRICE_FLUCTUATIONS", 0, "TRADING_VOLUME_SOARING", 0,
					  "DEPOSIT_AMOUNT_SOARING", 0, "PRICE_DIFFERENCES", 0,
					  "CONCENTRATION_OF_SMALL_ACCOUNTS", 0));
		json_array_append_new(arr, o);
	}
	reply_json(rp, 200, arr);
}

static void fmt_compact(int64_t ms, int offset_min, char *date, char *tm)
{
	char iso[32];

	clock_format(ms, offset_min, iso, sizeof(iso)); /* YYYY-MM-DDTHH:MM:SS */
	snprintf(date, 9, "%.4s%.2s%.2s", iso, iso + 5, iso + 8);
	snprintf(tm, 7, "%.2s%.2s%.2s", iso + 11, iso + 14, iso + 17);
}

static json_t *ticker_json(struct sim_market *m, int64_t now)
{
	struct sim_candle today, partial, c;
	int64_t day = floor_div(now, DAY_MS), d, i, hi_day = -1, lo_day = -1;
	double prev_close = 0, hi = 0, lo = 0, acc24v = 0, acc24p = 0, change;
	char td[9], tt[7], tdk[9], ttk[7], hid[16], lod[16];
	int have_partial = market_partial(m, &partial) == 0;
	struct sim_candle *dc;

	memset(&today, 0, sizeof(today));
	if ((dc = candle_ring_at(&m->days, day)))
		today = *dc;
	if (have_partial && floor_div(m->cur_min, 1440) == day)
		candle_merge(&today, &partial);
	for (d = day - 1; d > day - 400; d--) {
		if ((dc = candle_ring_at(&m->days, d)) && dc->has_trade) {
			prev_close = dc->close;
			break;
		}
		if (!dc && d < m->days.head - (int64_t)m->days.count)
			break;
	}
	if (prev_close <= 0)
		prev_close = today.has_trade ? today.open : m->last_price;
	if (!today.has_trade) {
		today.open = today.high = today.low = today.close = prev_close;
	}
	/* 52 weeks from the day ring, today included. */
	for (d = day; d > day - 365; d--) {
		struct sim_candle x;

		memset(&x, 0, sizeof(x));
		if ((dc = candle_ring_at(&m->days, d)))
			x = *dc;
		if (d == day)
			x = today;
		if (!x.has_trade && d != day)
			continue;
		if (hi_day < 0 || x.high > hi) {
			hi = x.high;
			hi_day = d;
		}
		if (lo_day < 0 || x.low < lo) {
			lo = x.low;
			lo_day = d;
		}
	}
	for (i = m->cur_min - 1440 + 1; i < m->cur_min; i++) {
		const struct sim_candle *mc = candle_ring_at(&m->minutes, i);

		if (mc && mc->has_trade) {
			acc24v += mc->volume;
			acc24p += mc->value;
		}
	}
	if (have_partial) {
		acc24v += partial.volume;
		acc24p += partial.value;
	}
	fmt_compact(m->last_trade_ms, 0, td, tt);
	fmt_compact(m->last_trade_ms, 540, tdk, ttk);
	clock_format(hi_day * DAY_MS, 0, hid, sizeof(hid));
	clock_format(lo_day * DAY_MS, 0, lod, sizeof(lod));
	hid[10] = lod[10] = '\0';
	change = m->last_price - prev_close;
	memset(&c, 0, sizeof(c));
	{
		json_t *j = json_object();

		json_object_set_new(j, "market", json_string(m->code));
		json_object_set_new(j, "trade_date", json_string(td));
		json_object_set_new(j, "trade_time", json_string(tt));
		json_object_set_new(j, "trade_date_kst", json_string(tdk));
		json_object_set_new(j, "trade_time_kst", json_string(ttk));
		json_object_set_new(j, "trade_timestamp", json_integer(m->last_trade_ms));
		json_object_set_new(j, "opening_price", json_real(today.open));
		json_object_set_new(j, "high_price", json_real(today.high));
		json_object_set_new(j, "low_price", json_real(today.low));
		json_object_set_new(j, "trade_price", json_real(m->last_price));
		json_object_set_new(j, "prev_closing_price", json_real(prev_close));
		json_object_set_new(j, "change",
				    json_string(change > 0   ? "RISE"
						: change < 0 ? "FALL"
							     : "EVEN"));
		json_object_set_new(j, "change_price", json_real(round8(fabs(change))));
		json_object_set_new(j, "change_rate", json_real(fabs(change) / prev_close));
		json_object_set_new(j, "signed_change_price", json_real(round8(change)));
		json_object_set_new(j, "signed_change_rate", json_real(change / prev_close));
		json_object_set_new(j, "trade_volume", json_real(m->last_volume));
		json_object_set_new(j, "acc_trade_price", json_real(round8(today.value)));
		json_object_set_new(j, "acc_trade_price_24h", json_real(round8(acc24p)));
		json_object_set_new(j, "acc_trade_volume", json_real(round8(today.volume)));
		json_object_set_new(j, "acc_trade_volume_24h", json_real(round8(acc24v)));
		json_object_set_new(j, "highest_52_week_price", json_real(hi));
		json_object_set_new(j, "highest_52_week_date", json_string(hid));
		json_object_set_new(j, "lowest_52_week_price", json_real(lo));
		json_object_set_new(j, "lowest_52_week_date", json_string(lod));
		json_object_set_new(j, "timestamp", json_integer(now));
		return j;
	}
}

static void route_ticker(struct sim *s, struct sim_request *rq, struct sim_reply *rp, int all)
{
	int idx[SIM_MAX_MARKETS], n = 0, i;
	int64_t now = clock_now_ms();
	json_t *arr;

	if (all) {
		const char *q = query_get(&rq->q, "quote_currencies");

		if (q && !strstr(q, "KRW")) {
			reply_json(rp, 200, json_array());
			return;
		}
		for (i = 0; i < s->nmarkets; i++)
			idx[n++] = i;
	} else if (market_list(s, query_get(&rq->q, "markets"), idx, &n, rp) < 0) {
		return;
	}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, ticker_json(&s->markets[idx[i]], now));
	reply_json(rp, 200, arr);
}

static int parse_count(const char *s, int max, int dflt, int *out)
{
	char *end;
	long v;

	if (!s) {
		*out = dflt;
		return 0;
	}
	v = strtol(s, &end, 10);
	if (end == s || *end || v < 1 || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

/* The market and count every per-market history endpoint takes; answers the error itself. */
static int market_and_count(struct sim *s, struct sim_request *rq, struct sim_reply *rp, int max,
			    int *mi, int *count)
{
	const char *market = query_get(&rq->q, "market");

	if (!market || !*market) {
		reply_error_code(rp, 400, MISSING);
		return -1;
	}
	if ((*mi = sim_market_index(s, market)) < 0) {
		reply_error_code(rp, 404, "Code not found");
		return -1;
	}
	if (parse_count(query_get(&rq->q, "count"), max, 1, count) < 0) {
		reply_error_code(rp, 400, INVALID);
		return -1;
	}
	return 0;
}

static void route_candles(struct sim *s, struct sim_request *rq, struct sim_reply *rp, int unit)
{
	const char *to = query_get(&rq->q, "to");
	struct sim_candle out[201];
	int64_t starts[201], to_ms;
	int count, mi;
	size_t n, i;
	json_t *arr;

	if (market_and_count(s, rq, rp, 200, &mi, &count) < 0)
		return;
	if (to && *to) {
		if (clock_parse_iso8601(to, 1, &to_ms) < 0) {
			reply_error_code(rp, 400, INVALID);
			return;
		}
	} else {
		to_ms = clock_now_ms() + 1;
	}
	/* Never show trades from the future, even when `to` is later than now. */
	if (to_ms > clock_now_ms() + 1)
		to_ms = clock_now_ms() + 1;
	n = candles_query(&s->markets[mi], unit, to_ms, (size_t)count + (unit == 0), out, starts);
	arr = json_array();
	for (i = 0; i < n && i < (size_t)count; i++)
		json_array_append_new(arr, candle_json(&s->markets[mi], unit, starts[i], &out[i],
						       i + 1 < n ? out[i + 1].close : out[i].open));
	reply_json(rp, 200, arr);
}

static void route_orderbook(struct sim *s, struct sim_request *rq, struct sim_reply *rp)
{
	int idx[SIM_MAX_MARKETS], n, i, k, levels = SIM_BOOK_LEVELS;
	const char *cnt = query_get(&rq->q, "count");
	int64_t now = clock_now_ms();
	json_t *arr;

	if (market_list(s, query_get(&rq->q, "markets"), idx, &n, rp) < 0)
		return;
	if (cnt && parse_count(cnt, SIM_BOOK_LEVELS, SIM_BOOK_LEVELS, &levels) < 0) {
		reply_error_code(rp, 400, INVALID);
		return;
	}
	arr = json_array();
	for (i = 0; i < n; i++) {
		struct book_level book[SIM_BOOK_LEVELS];
		double ta = 0, tb = 0;
		json_t *units = json_array();

		book_build(&s->markets[idx[i]], now, book);
		for (k = 0; k < levels; k++) {
			ta += book[k].ask_size;
			tb += book[k].bid_size;
			json_array_append_new(units, json_pack("{s:f,s:f,s:f,s:f}", "ask_price",
							       book[k].ask_price, "bid_price",
							       book[k].bid_price, "ask_size",
							       book[k].ask_size, "bid_size",
							       book[k].bid_size));
		}
		json_array_append_new(arr, json_pack("{s:s,s:I,s:f,s:f,s:o,s:f}", "market",
						     s->markets[idx[i]].code, "timestamp",
						     (json_int_t)now, "total_ask_size", round8(ta),
						     "total_bid_size", round8(tb),
						     "orderbook_units", units, "level", 0.0));
	}
	reply_json(rp, 200, arr);
}

static void route_instruments(struct sim *s, struct sim_request *rq, struct sim_reply *rp)
{
	int idx[SIM_MAX_MARKETS], n, i;
	json_t *arr;

	if (market_list(s, query_get(&rq->q, "markets"), idx, &n, rp) < 0)
		return;
	arr = json_array();
	for (i = 0; i < n; i++) {
		char tick[32];

		dec_format(tick_size_krw(s->markets[idx[i]].last_price), tick, sizeof(tick));
		/* "1000.0" reads oddly as a tick; Upbit prints integral ticks without decimals. */
		if (strlen(tick) > 2 && !strcmp(tick + strlen(tick) - 2, ".0"))
			tick[strlen(tick) - 2] = '\0';
		json_array_append_new(arr,
				      json_pack("{s:s,s:s,s:s,s:[s]}", "market",
						s->markets[idx[i]].code, "quote_currency", "KRW",
						"tick_size", tick, "supported_levels", "0"));
	}
	reply_json(rp, 200, arr);
}

static json_t *trade_json(const struct sim_market *m, int64_t ms, double price, double volume,
			  double prev_close, uint64_t seq)
{
	char iso[32], date[16], tm[16];

	clock_format(ms, 0, iso, sizeof(iso));
	snprintf(date, sizeof(date), "%.10s", iso);
	snprintf(tm, sizeof(tm), "%.8s", iso + 11);
	return json_pack("{s:s,s:s,s:s,s:I,s:f,s:f,s:f,s:f,s:s,s:I}", "market", m->code,
			 "trade_date_utc", date, "trade_time_utc", tm, "timestamp", (json_int_t)ms,
			 "trade_price", price, "trade_volume", volume, "prev_closing_price",
			 prev_close, "change_price", round8(price - prev_close), "ask_bid",
			 (seq & 1) ? "ASK" : "BID", "sequential_id", (json_int_t)seq);
}

/* Recent trades: the live minute's ticks, then one trade per earlier minute (its close). */
static void route_trades(struct sim *s, struct sim_request *rq, struct sim_reply *rp)
{
	int mi, count, k;
	int64_t i;
	struct sim_market *m;
	json_t *arr;

	if (market_and_count(s, rq, rp, 500, &mi, &count) < 0)
		return;
	m = &s->markets[mi];
	arr = json_array();
	for (k = m->visible - 1; k >= 0 && (int)json_array_size(arr) < count; k--)
		json_array_append_new(arr,
				      trade_json(m, m->ticks[k].ms, m->ticks[k].price,
						 m->ticks[k].volume, m->start_price,
						 (uint64_t)m->ticks[k].ms * 100 + (uint64_t)k));
	for (i = m->cur_min - 1;
	     (int)json_array_size(arr) < count && candle_ring_at(&m->minutes, i); i--) {
		const struct sim_candle *c = candle_ring_at(&m->minutes, i);

		if (c->has_trade)
			json_array_append_new(arr, trade_json(m, c->last_ms, c->close, c->volume,
							      m->start_price,
							      (uint64_t)c->last_ms * 100 + 99));
	}
	reply_json(rp, 200, arr);
}

int routes_quotation(struct sim *s, struct sim_request *rq, struct sim_reply *rp)
{
	static const int units[] = {1, 3, 5, 10, 15, 30, 60, 240};
	const char *p = rq->path;
	size_t i;

	if (strcmp(rq->method, "GET") != 0)
		return -1;
	if (strcmp(p, "/v1/market/all") == 0)
		route_market_all(s, rq, rp);
	else if (strcmp(p, "/v1/ticker") == 0)
		route_ticker(s, rq, rp, 0);
	else if (strcmp(p, "/v1/ticker/all") == 0)
		route_ticker(s, rq, rp, 1);
	else if (strcmp(p, "/v1/candles/days") == 0)
		route_candles(s, rq, rp, 0);
	else if (strncmp(p, "/v1/candles/minutes/", 20) == 0) {
		char *end;
		long u = strtol(p + 20, &end, 10);

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (!*end && end != p + 20 && u == units[i])
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			reply_error_code(rp, 400, INVALID);
		else
			route_candles(s, rq, rp, (int)u);
	} else if (strcmp(p, "/v1/orderbook") == 0)
		route_orderbook(s, rq, rp);
	else if (strcmp(p, "/v1/orderbook/instruments") == 0)
		route_instruments(s, rq, rp);
	else if (strcmp(p, "/v1/trades/ticks") == 0)
		route_trades(s, rq, rp);
	else
		return -1;
	return 0;
}
