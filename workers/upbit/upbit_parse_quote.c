/* Parsers for the quotation endpoints: /market/all, /ticker, /candles/{minutes,days}, /orderbook and
 * /orderbook/instruments. Values are JSON numbers; each record is checked for consistency. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "upbit_parse_util.h"

#define PRICE (PU_POSITIVE | PU_PRICE)
#define KST_OFFSET_MS (9 * 3600 * 1000LL)

static int parse_market_item(json_t *item, void *dst, struct pctx *c)
{
	struct upbit_market_info *m = dst;
	json_t *event = json_object_get(item, "market_event");
	char warning[16];

	if (pu_market(item, "market", m->market, c) < 0 ||
	    pu_string(item, "korean_name", 0, m->korean_name, sizeof(m->korean_name), c) < 0 ||
	    pu_string(item, "english_name", 0, m->english_name, sizeof(m->english_name), c) < 0 ||
	    pu_string(item, "market_warning", PU_OPTIONAL, warning, sizeof(warning), c) < 0)
		return c->e->code;
	m->warning = strcmp(warning, "CAUTION") == 0;
	if (event) {
		int w = 0;

		if (!json_is_object(event))
			return pu_fail(c, UPBIT_PARSE_TYPE, "market_event", "not an object");
		if (pu_bool(event, "warning", PU_OPTIONAL, &w, c) < 0)
			return c->e->code;
		m->warning |= w;
	}
	return 0;
}

int upbit_parse_markets(const char *body, size_t len, const struct upbit_parse_opts *o,
			struct upbit_market_info **out, size_t *n, struct upbit_parse_error *err)
{
	return pu_parse_list(body, len, o, err, sizeof(**out), UPBIT_LIST_MAX, parse_market_item,
			     NULL, (void **)out, n);
}

/* open and close inside [low, high]: a bar that breaks this is corrupt. */
static int check_bar(double open, double high, double low, double close, struct pctx *c)
{
	if (high < low)
		return pu_fail(c, UPBIT_PARSE_RANGE, "high_price", "high %g < low %g", high, low);
	if (open < low || open > high)
		return pu_fail(c, UPBIT_PARSE_RANGE, "opening_price", "open %g outside [%g, %g]",
			       open, low, high);
	if (close < low || close > high)
		return pu_fail(c, UPBIT_PARSE_RANGE, "trade_price", "close %g outside [%g, %g]",
			       close, low, high);
	return 0;
}

static int parse_ticker_item(json_t *item, void *dst, struct pctx *c)
{
	static const char *const changes[] = {"RISE", "EVEN", "FALL", NULL};
	struct upbit_ticker *t = dst;

	if (pu_market(item, "market", t->market, c) < 0 ||
	    pu_timestamp(item, "trade_timestamp", &t->trade_timestamp_ms, c) < 0 ||
	    pu_timestamp(item, "timestamp", &t->timestamp_ms, c) < 0 ||
	    pu_number(item, "opening_price", PRICE, &t->opening_price, c) < 0 ||
	    pu_number(item, "high_price", PRICE, &t->high_price, c) < 0 ||
	    pu_number(item, "low_price", PRICE, &t->low_price, c) < 0 ||
	    pu_number(item, "trade_price", PRICE, &t->trade_price, c) < 0 ||
	    pu_number(item, "prev_closing_price", PRICE, &t->prev_closing_price, c) < 0 ||
	    pu_enum(item, "change", changes, t->change, sizeof(t->change), c) < 0 ||
	    pu_number(item, "change_price", PU_NONNEG | PU_PRICE, &t->change_price, c) < 0 ||
	    pu_number(item, "change_rate", PU_NONNEG, &t->change_rate, c) < 0 ||
	    pu_number(item, "signed_change_price", PU_PRICE, &t->signed_change_price, c) < 0 ||
	    pu_number(item, "signed_change_rate", 0, &t->signed_change_rate, c) < 0 ||
	    pu_number(item, "trade_volume", PU_NONNEG, &t->trade_volume, c) < 0 ||
	    pu_number(item, "acc_trade_price", PU_NONNEG, &t->acc_trade_price, c) < 0 ||
	    pu_number(item, "acc_trade_price_24h", PU_NONNEG, &t->acc_trade_price_24h, c) < 0 ||
	    pu_number(item, "acc_trade_volume", PU_NONNEG, &t->acc_trade_volume, c) < 0 ||
	    pu_number(item, "acc_trade_volume_24h", PU_NONNEG, &t->acc_trade_volume_24h, c) < 0 ||
	    pu_dec8(item, "trade_price", &t->trade_price_e8, c) < 0)
		return c->e->code;
	if (dec8_from_json(json_object_get(item, "acc_trade_volume_24h"),
			   &t->acc_trade_volume_24h_e8) < 0)
		t->acc_trade_volume_24h_e8 = -1;
	return check_bar(t->opening_price, t->high_price, t->low_price, t->trade_price, c);
}

int upbit_parse_tickers(const char *body, size_t len, const struct upbit_parse_opts *o,
			struct upbit_ticker **out, size_t *n, struct upbit_parse_error *err)
{
	return pu_parse_list(body, len, o, err, sizeof(**out), UPBIT_LIST_MAX, parse_ticker_item,
			     NULL, (void **)out, n);
}

static int parse_candle_item(json_t *item, void *dst, struct pctx *c)
{
	struct upbit_candle *k = dst;
	int unit = c->o ? c->o->unit_min : 0;
	int64_t kst = 0, span = unit > 0 ? (int64_t)unit * 60000 : 86400000;
	long unit_field = 0;

	if (pu_market(item, "market", k->market, c) < 0 ||
	    pu_iso_time(item, "candle_date_time_utc", 1, 0, &k->start_ms, c) < 0 ||
	    pu_iso_time(item, "candle_date_time_kst", 1, PU_OPTIONAL, &kst, c) < 0 ||
	    pu_timestamp(item, "timestamp", &k->last_tick_ms, c) < 0 ||
	    pu_number(item, "opening_price", PRICE, &k->open, c) < 0 ||
	    pu_number(item, "high_price", PRICE, &k->high, c) < 0 ||
	    pu_number(item, "low_price", PRICE, &k->low, c) < 0 ||
	    pu_number(item, "trade_price", PRICE, &k->close, c) < 0 ||
	    pu_number(item, "candle_acc_trade_price", PU_NONNEG, &k->acc_trade_price, c) < 0 ||
	    pu_number(item, "candle_acc_trade_volume", PU_NONNEG, &k->acc_trade_volume, c) < 0 ||
	    pu_integer(item, "unit", unit > 0 ? PU_POSITIVE : PU_OPTIONAL, &unit_field, c) < 0 ||
	    pu_dec8(item, "opening_price", &k->open_e8, c) < 0 ||
	    pu_dec8(item, "high_price", &k->high_e8, c) < 0 ||
	    pu_dec8(item, "low_price", &k->low_e8, c) < 0 ||
	    pu_dec8(item, "trade_price", &k->close_e8, c) < 0)
		return c->e->code;
	pu_decimal_text(item, "candle_acc_trade_volume", k->volume, sizeof(k->volume));
	pu_decimal_text(item, "candle_acc_trade_price", k->quote_volume, sizeof(k->quote_volume));
	if (unit > 0 && unit_field != unit)
		return pu_fail(c, UPBIT_PARSE_RANGE, "unit", "unit %ld, asked for %d", unit_field,
			       unit);
	k->unit_min = unit;
	/* Candles start on their unit's grid: minutes for minute candles, UTC days for days. */
	if (k->start_ms % (unit > 0 ? 60000 : 86400000) != 0)
		return pu_fail(c, UPBIT_PARSE_TIME, "candle_date_time_utc", "off the grid");
	if (kst && kst - k->start_ms != KST_OFFSET_MS)
		return pu_fail(c, UPBIT_PARSE_TIME, "candle_date_time_kst", "not UTC+9 of utc");
	/* The last tick lies inside the candle; a second of slack for rounding. */
	if (k->last_tick_ms < k->start_ms - 1000 || k->last_tick_ms > k->start_ms + span + 1000)
		return pu_fail(c, UPBIT_PARSE_TIME, "timestamp", "last tick outside the candle");
	return check_bar(k->open, k->high, k->low, k->close, c);
}

int upbit_parse_candles(const char *body, size_t len, const struct upbit_parse_opts *o,
			struct upbit_candle **out, size_t *n, struct upbit_parse_error *err)
{
	struct upbit_parse_error scratch;
	struct pctx c;
	int rc = pu_parse_list(body, len, o, err, sizeof(**out), 200, parse_candle_item, NULL,
			       (void **)out, n);

	if (rc < 0)
		return rc;
	pu_begin(&c, o, err, &scratch);
	/* Newest first, strictly: a repeat or a reversal means the page is corrupt. */
	for (size_t i = 1; i < *n; i++) {
		if ((*out)[i].start_ms >= (*out)[i - 1].start_ms) {
			free(*out);
			*out = NULL;
			*n = 0;
			c.e->index = (long)i;
			return pu_fail(&c, UPBIT_PARSE_TIME, "candle_date_time_utc",
				       "not strictly newest first");
		}
	}
	return 0;
}

static int parse_orderbook_item(json_t *item, void *dst, struct pctx *c)
{
	struct upbit_orderbook *b = dst;
	json_t *units = json_object_get(item, "orderbook_units");

	if (pu_market(item, "market", b->market, c) < 0 ||
	    pu_timestamp(item, "timestamp", &b->timestamp_ms, c) < 0 ||
	    pu_number(item, "total_ask_size", PU_NONNEG, &b->total_ask_size, c) < 0 ||
	    pu_number(item, "total_bid_size", PU_NONNEG, &b->total_bid_size, c) < 0 ||
	    pu_number(item, "level", PU_OPTIONAL | PU_NONNEG, &b->level, c) < 0)
		return c->e->code;
	if (!units)
		return pu_fail(c, UPBIT_PARSE_MISSING, "orderbook_units", "missing");
	if (!json_is_array(units))
		return pu_fail(c, UPBIT_PARSE_TYPE, "orderbook_units", "not an array");
	if (json_array_size(units) > UPBIT_OB_MAX_UNITS)
		return pu_fail(c, UPBIT_PARSE_COUNT, "orderbook_units", "%zu levels",
			       json_array_size(units));
	for (size_t i = 0; i < json_array_size(units); i++) {
		json_t *u = json_array_get(units, i);
		struct upbit_ob_unit *x = &b->units[i];

		if (!json_is_object(u))
			return pu_fail(c, UPBIT_PARSE_TYPE, "orderbook_units", "not an object");
		if (pu_number(u, "ask_price", PRICE, &x->ask_price, c) < 0 ||
		    pu_number(u, "bid_price", PRICE, &x->bid_price, c) < 0 ||
		    pu_number(u, "ask_size", PU_NONNEG, &x->ask_size, c) < 0 ||
		    pu_number(u, "bid_size", PU_NONNEG, &x->bid_size, c) < 0)
			return c->e->code;
		/* Asks rise and bids fall away from the touch. */
		if (i > 0 && (x->ask_price < b->units[i - 1].ask_price ||
			      x->bid_price > b->units[i - 1].bid_price))
			return pu_fail(c, UPBIT_PARSE_RANGE, "orderbook_units",
				       "level %zu unsorted", i);
	}
	b->n_units = json_array_size(units);
	return 0;
}

int upbit_parse_orderbooks(const char *body, size_t len, const struct upbit_parse_opts *o,
			   struct upbit_orderbook **out, size_t *n, struct upbit_parse_error *err)
{
	return pu_parse_list(body, len, o, err, sizeof(**out), 200, parse_orderbook_item, NULL,
			     (void **)out, n);
}

static int parse_instrument_item(json_t *item, void *dst, struct pctx *c)
{
	struct upbit_instrument *in = dst;

	if (pu_market(item, "market", in->market, c) < 0 ||
	    pu_currency(item, "quote_currency", in->quote_currency, c) < 0 ||
	    pu_decimal(item, "tick_size", PU_POSITIVE | PU_PRICE, &in->tick_size, c) < 0)
		return c->e->code;
	if (strncmp(in->market, in->quote_currency, strlen(in->quote_currency)) != 0 ||
	    in->market[strlen(in->quote_currency)] != '-')
		return pu_fail(c, UPBIT_PARSE_MARKET, "quote_currency", "does not match market");
	return 0;
}

int upbit_parse_instruments(const char *body, size_t len, const struct upbit_parse_opts *o,
			    struct upbit_instrument **out, size_t *n, struct upbit_parse_error *err)
{
	return pu_parse_list(body, len, o, err, sizeof(**out), UPBIT_LIST_MAX,
			     parse_instrument_item, NULL, (void **)out, n);
}
