/* Strict parsers for Upbit responses: types, required fields, finite in-range values, market
 * codes and timestamps are checked; anything else is rejected with a reason, never trusted. */
#ifndef TD_UPBIT_PARSE_H
#define TD_UPBIT_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "workers/upbit/upbit_types.h"

enum upbit_parse_err {
	UPBIT_PARSE_OK = 0,
	UPBIT_PARSE_EMPTY = -1,	    /* no body */
	UPBIT_PARSE_TOO_BIG = -2,   /* over max_body */
	UPBIT_PARSE_SYNTAX = -3,    /* not JSON: truncated, NaN, duplicate key, overflow */
	UPBIT_PARSE_ENCODING = -4,  /* not UTF-8 */
	UPBIT_PARSE_API_ERROR = -5, /* an error envelope; see upbit_parse_error.api */
	UPBIT_PARSE_SHAPE = -6,	    /* an array where an object belongs, or the reverse */
	UPBIT_PARSE_MISSING = -7,   /* a required field is absent or null */
	UPBIT_PARSE_TYPE = -8,	    /* a field of the wrong JSON type */
	UPBIT_PARSE_RANGE = -9,	    /* out of range or inconsistent (price <= 0, high < low...) */
	UPBIT_PARSE_MARKET = -10,   /* malformed market code, or not the one asked for */
	UPBIT_PARSE_TIME = -11,	    /* malformed, before 2017, or too far in the future */
	UPBIT_PARSE_DECIMAL = -12,  /* a decimal string with bad syntax */
	UPBIT_PARSE_ENUM = -13,	    /* an unknown side, state, change... */
	UPBIT_PARSE_COUNT = -14,    /* too many items */
	UPBIT_PARSE_NOMEM = -15,
};

const char *upbit_parse_err_name(int code);

/* Timestamps must fall in [2017-01-01, now + UPBIT_FUTURE_SLACK_MS]. */
#define UPBIT_EPOCH_MIN_MS 1483228800000LL
#define UPBIT_FUTURE_SLACK_MS 86400000LL
/* Prices above this are nonsense on any market (KRW-BTC is ~1.5e8). */
#define UPBIT_PRICE_MAX 1e15
#define UPBIT_AMOUNT_MAX 1e20
#define UPBIT_LIST_MAX 2000

struct upbit_parse_opts {
	int64_t now_ms;	    /* from clock_now_ms() */
	size_t max_body;    /* 0: no cap here (the HTTP layer caps too) */
	const char *market; /* candles/order: the market asked for, or NULL */
	int unit_min;	    /* candles: the unit asked for (0 = day candles) */
};

struct upbit_parse_error {
	int code;
	long index; /* item of the array, -1 for the top level */
	char field[40];
	char detail[160];
	struct upbit_api_error api; /* when code is UPBIT_PARSE_API_ERROR */
};

/* Parses an error envelope. Returns 0 when body is one. */
int upbit_parse_api_error(const char *body, size_t len, struct upbit_api_error *out);

/* Each returns 0 or a negative enum upbit_parse_err, filling err. Lists are malloc'd into *out
 * (NULL when empty) and owned by the caller: free() them, or upbit_orders_free for orders. */
int upbit_parse_markets(const char *body, size_t len, const struct upbit_parse_opts *o,
			struct upbit_market_info **out, size_t *n, struct upbit_parse_error *err);
int upbit_parse_tickers(const char *body, size_t len, const struct upbit_parse_opts *o,
			struct upbit_ticker **out, size_t *n, struct upbit_parse_error *err);
int upbit_parse_candles(const char *body, size_t len, const struct upbit_parse_opts *o,
			struct upbit_candle **out, size_t *n, struct upbit_parse_error *err);
int upbit_parse_orderbooks(const char *body, size_t len, const struct upbit_parse_opts *o,
			   struct upbit_orderbook **out, size_t *n, struct upbit_parse_error *err);
int upbit_parse_instruments(const char *body, size_t len, const struct upbit_parse_opts *o,
			    struct upbit_instrument **out, size_t *n,
			    struct upbit_parse_error *err);
int upbit_parse_accounts(const char *body, size_t len, const struct upbit_parse_opts *o,
			 struct upbit_account **out, size_t *n, struct upbit_parse_error *err);
int upbit_parse_chance(const char *body, size_t len, const struct upbit_parse_opts *o,
		       struct upbit_chance *out, struct upbit_parse_error *err);
/* One order (POST/GET/DELETE /v1/order); out->trades is owned: upbit_order_clear(out). */
int upbit_parse_order(const char *body, size_t len, const struct upbit_parse_opts *o,
		      struct upbit_order *out, struct upbit_parse_error *err);
int upbit_parse_orders(const char *body, size_t len, const struct upbit_parse_opts *o,
		       struct upbit_order **out, size_t *n, struct upbit_parse_error *err);

/* Field checks shared with callers that validate their own inputs. */
int upbit_market_code_valid(const char *s);
int upbit_decimal_valid(const char *s);

#endif
