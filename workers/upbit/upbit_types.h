/* What the Upbit client hands its callers: validated C structs for each endpoint's response.
 * Quotation values are doubles (JSON numbers) plus exact dec8 copies of the prices and volumes
 * the daemon stores or trades on; private amounts keep their exact decimal text. */
#ifndef TD_UPBIT_TYPES_H
#define TD_UPBIT_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "common/dec8.h"

#define UPBIT_MARKET_LEN 24
#define UPBIT_CURRENCY_LEN 16
#define UPBIT_NAME_LEN 128
#define UPBIT_DEC_LEN 40
#define UPBIT_UUID_LEN 40
#define UPBIT_IDENT_LEN 72
#define UPBIT_OB_MAX_UNITS 64

/* A decimal string from a private response: syntax-checked text plus its double value. */
struct upbit_dec {
	int present; /* 0 when the field was null or absent (allowed only where documented) */
	char text[UPBIT_DEC_LEN];
	double value;
};

struct upbit_market_info {
	char market[UPBIT_MARKET_LEN];
	char korean_name[UPBIT_NAME_LEN];
	char english_name[UPBIT_NAME_LEN];
	int warning; /* market_warning CAUTION or market_event.warning */
};

struct upbit_ticker {
	char market[UPBIT_MARKET_LEN];
	char change[8]; /* RISE, EVEN or FALL */
	int64_t trade_timestamp_ms;
	int64_t timestamp_ms;
	double opening_price, high_price, low_price, trade_price, prev_closing_price;
	double change_price, change_rate, signed_change_price, signed_change_rate;
	double trade_volume, acc_trade_price, acc_trade_price_24h;
	double acc_trade_volume, acc_trade_volume_24h;
	dec8 trade_price_e8;
	dec8 acc_trade_volume_24h_e8; /* -1 when beyond dec8's range */
};

struct upbit_candle {
	char market[UPBIT_MARKET_LEN];
	int64_t start_ms;     /* candle_date_time_utc: the candle's start, inclusive */
	int64_t last_tick_ms; /* timestamp: the last trade inside the candle */
	double open, high, low, close;
	double acc_trade_price, acc_trade_volume;
	dec8 open_e8, high_e8, low_e8, close_e8;
	/* Volumes as exact decimal text: a day's volume can exceed dec8's ±92e9. */
	char volume[UPBIT_DEC_LEN], quote_volume[UPBIT_DEC_LEN];
	int unit_min; /* 1..240 for minute candles, 0 for day candles */
};

struct upbit_ob_unit {
	double ask_price, bid_price, ask_size, bid_size;
};

struct upbit_orderbook {
	char market[UPBIT_MARKET_LEN];
	int64_t timestamp_ms;
	double total_ask_size, total_bid_size;
	double level;
	size_t n_units;
	struct upbit_ob_unit units[UPBIT_OB_MAX_UNITS];
};

struct upbit_instrument {
	char market[UPBIT_MARKET_LEN];
	char quote_currency[UPBIT_CURRENCY_LEN];
	struct upbit_dec tick_size;
};

struct upbit_account {
	char currency[UPBIT_CURRENCY_LEN];
	char unit_currency[UPBIT_CURRENCY_LEN];
	struct upbit_dec balance, locked, avg_buy_price;
	int avg_buy_price_modified;
};

struct upbit_chance {
	struct upbit_dec bid_fee, ask_fee, maker_bid_fee, maker_ask_fee;
	char market[UPBIT_MARKET_LEN];
	char state[16];
	char bid_currency[UPBIT_CURRENCY_LEN], ask_currency[UPBIT_CURRENCY_LEN];
	struct upbit_dec bid_min_total, ask_min_total, max_total;
	struct upbit_account bid_account, ask_account;
};

struct upbit_trade {
	char market[UPBIT_MARKET_LEN];
	char uuid[UPBIT_UUID_LEN];
	char side[8];
	struct upbit_dec price, volume, funds;
	int64_t created_ms;
};

struct upbit_order {
	char uuid[UPBIT_UUID_LEN];
	char identifier[UPBIT_IDENT_LEN]; /* "" when absent */
	char market[UPBIT_MARKET_LEN];
	char side[8];	   /* bid, ask */
	char ord_type[16]; /* limit, price, market, best */
	char state[16];	   /* wait, watch, done, cancel */
	char time_in_force[16];
	int64_t created_ms;
	struct upbit_dec price, volume; /* null for market sells / price buys */
	struct upbit_dec avg_price, remaining_volume, reserved_fee, remaining_fee, paid_fee, locked;
	struct upbit_dec executed_volume, executed_funds;
	long trades_count;
	size_t n_trades;
	struct upbit_trade *trades; /* owned; NULL when the response had none */
};

/* The {"error":{"name","message"}} envelope; a numeric name is rendered as its decimal. */
struct upbit_api_error {
	char name[64];
	char message[256];
};

void upbit_order_clear(struct upbit_order *o);
void upbit_orders_free(struct upbit_order *orders, size_t n);

#endif
