/* Strict validation of Upbit responses: the UPBIT_API.md samples parse to exact values, and a
 * table of malformed variants per endpoint is each rejected with the expected reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "workers/upbit/upbit_parse.h"

/* 2025-01-15T04:00:00Z, just after the samples' timestamps. */
#define NOW_MS 1736913600000LL

static const char ticker_sample[] =
	"[{\"market\":\"KRW-BTC\",\"trade_date\":\"20250115\",\"trade_time\":\"034158\","
	"\"trade_date_kst\":\"20250115\",\"trade_time_kst\":\"124158\","
	"\"trade_timestamp\":1736912518512,\"opening_price\":144300000.0,\"high_price\":145600000."
	"0,"
	"\"low_price\":143800000.0,\"trade_price\":145000000.0,\"prev_closing_price\":144120000.0,"
	"\"change\":\"RISE\",\"change_price\":880000.0,\"change_rate\":0.0061060228,"
	"\"signed_change_price\":880000.0,\"signed_change_rate\":0.0061060228,"
	"\"trade_volume\":0.00210312,\"acc_trade_price\":98765432101.12345,"
	"\"acc_trade_price_24h\":245678901234.5678,\"acc_trade_volume\":681.23456789,"
	"\"acc_trade_volume_24h\":1702.98765432,\"highest_52_week_price\":163325000.0,"
	"\"highest_52_week_date\":\"2024-12-17\",\"lowest_52_week_price\":62300000.0,"
	"\"lowest_52_week_date\":\"2024-01-23\",\"timestamp\":1736912518893}]";

static const char candle_sample[] =
	"[{\"market\":\"KRW-BTC\",\"candle_date_time_utc\":\"2025-01-15T03:41:00\","
	"\"candle_date_time_kst\":\"2025-01-15T12:41:00\",\"opening_price\":144980000.0,"
	"\"high_price\":145010000.0,\"low_price\":144950000.0,\"trade_price\":145000000.0,"
	"\"timestamp\":1736912519873,\"candle_acc_trade_price\":304952.4,"
	"\"candle_acc_trade_volume\":0.00210312,\"unit\":1}]";

static const char ccxt_candle_sample[] =
	"[{\"market\":\"BTC-ETH\",\"candle_date_time_utc\":\"2018-11-22T13:47:00\","
	"\"candle_date_time_kst\":\"2018-11-22T22:47:00\",\"opening_price\":0.02915963,"
	"\"high_price\":0.02915963,\"low_price\":0.02915448,\"trade_price\":0.02915448,"
	"\"timestamp\":1542894473674,\"candle_acc_trade_price\":0.0981629437535248,"
	"\"candle_acc_trade_volume\":3.36693173,\"unit\":1}]";

static const char day_candle_sample[] =
	"[{\"market\":\"KRW-BTC\",\"candle_date_time_utc\":\"2025-01-15T00:00:00\","
	"\"candle_date_time_kst\":\"2025-01-15T09:00:00\",\"opening_price\":144300000,"
	"\"high_price\":145600000,\"low_price\":143800000,\"trade_price\":145000000,"
	"\"timestamp\":1736912518512,\"candle_acc_trade_price\":98765432101.12345,"
	"\"candle_acc_trade_volume\":681.23456789,\"prev_closing_price\":144120000.0,"
	"\"change_price\":880000.0,\"change_rate\":0.0061060228},"
	"{\"market\":\"KRW-BTC\",\"candle_date_time_utc\":\"2025-01-14T00:00:00\","
	"\"candle_date_time_kst\":\"2025-01-14T09:00:00\",\"opening_price\":144000000,"
	"\"high_price\":145000000,\"low_price\":143000000,\"trade_price\":144120000,"
	"\"timestamp\":1736899199000,\"candle_acc_trade_price\":1.5,"
	"\"candle_acc_trade_volume\":2.5}]";

static const char market_sample[] =
	"[{\"market\":\"KRW-BTC\",\"korean_name\":\"비트코인\",\"english_name\":\"Bitcoin\"},"
	"{\"market\":\"KRW-ETH\",\"korean_name\":\"이더리움\",\"english_name\":\"Ethereum\","
	"\"market_event\":{\"warning\":true,\"caution\":{\"PRICE_FLUCTUATIONS\":false}}},"
	"{\"market\":\"BTC-XRP\",\"korean_name\":\"리플\",\"english_name\":\"Ripple\","
	"\"market_warning\":\"CAUTION\"}]";

static const char orderbook_sample[] =
	"[{\"market\":\"KRW-BTC\",\"timestamp\":1736912518893,\"total_ask_size\":4.5,"
	"\"total_bid_size\":7.25,\"orderbook_units\":["
	"{\"ask_price\":145001000,\"bid_price\":145000000,\"ask_size\":0.5,\"bid_size\":1.25},"
	"{\"ask_price\":145002000.0,\"bid_price\":144999000.0,\"ask_size\":4,\"bid_size\":6}],"
	"\"level\":0}]";

static const char instruments_sample[] =
	"[{\"market\":\"KRW-BTC\",\"quote_currency\":\"KRW\",\"tick_size\":\"1000\","
	"\"supported_levels\":[0,10000,100000]},"
	"{\"market\":\"KRW-XRP\",\"quote_currency\":\"KRW\",\"tick_size\":\"1\"}]";

static const char accounts_sample[] =
	"[{\"currency\":\"KRW\",\"balance\":\"1000000.0\",\"locked\":\"0.0\",\"avg_buy_price\":"
	"\"0\","
	"\"avg_buy_price_modified\":false,\"unit_currency\":\"KRW\"},"
	"{\"currency\":\"BTC\",\"balance\":\"0.00048\",\"locked\":\"0.0\","
	"\"avg_buy_price\":\"20870000\",\"avg_buy_price_modified\":false,\"unit_currency\":\"KRW\"}"
	"]";

static const char chance_sample[] =
	"{\"bid_fee\":\"0.0005\",\"ask_fee\":\"0.0005\",\"maker_bid_fee\":\"0.0005\","
	"\"maker_ask_fee\":\"0.0005\",\"market\":{\"id\":\"KRW-BTC\",\"name\":\"BTC/KRW\","
	"\"order_types\":[\"limit\"],\"order_sides\":[\"ask\",\"bid\"],"
	"\"bid\":{\"currency\":\"KRW\",\"price_unit\":null,\"min_total\":5000},"
	"\"ask\":{\"currency\":\"BTC\",\"price_unit\":null,\"min_total\":5000},"
	"\"max_total\":\"1000000000.0\",\"state\":\"active\"},"
	"\"bid_account\":{\"currency\":\"KRW\",\"balance\":\"0.34202415\","
	"\"locked\":\"4999.99999922\",\"avg_buy_price\":\"0\",\"avg_buy_price_modified\":true,"
	"\"unit_currency\":\"KRW\"},"
	"\"ask_account\":{\"currency\":\"BTC\",\"balance\":\"0.00048\",\"locked\":\"0.0\","
	"\"avg_buy_price\":\"20870000\",\"avg_buy_price_modified\":false,"
	"\"unit_currency\":\"KRW\"}}";

static const char order_sample[] =
	"{\"uuid\":\"cdd92199-2897-4e14-9448-f923320408ad\",\"side\":\"bid\",\"ord_type\":"
	"\"limit\","
	"\"price\":\"100.0\",\"avg_price\":\"0.0\",\"state\":\"wait\",\"market\":\"KRW-BTC\","
	"\"created_at\":\"2018-04-10T15:42:23+09:00\",\"volume\":\"0.01\","
	"\"remaining_volume\":\"0.01\",\"reserved_fee\":\"0.0015\",\"remaining_fee\":\"0.0015\","
	"\"paid_fee\":\"0.0\",\"locked\":\"1.0015\",\"executed_volume\":\"0.0\",\"trades_count\":"
	"0}";

static const char order_with_trades_sample[] =
	"{\"uuid\":\"bd900ac3-c780-4454-b28e-f1030174ddba\",\"side\":\"ask\",\"ord_type\":"
	"\"market\","
	"\"price\":null,\"state\":\"done\",\"market\":\"KRW-ONT\","
	"\"created_at\":\"2020-07-20T02:36:25+09:00\",\"volume\":\"1.14660939\","
	"\"remaining_volume\":\"0.0\",\"reserved_fee\":\"0.0\",\"remaining_fee\":\"0.0\","
	"\"paid_fee\":\"0.51024117855\",\"locked\":\"0.0\",\"executed_volume\":\"1.14660939\","
	"\"trades_count\":1,\"identifier\":\"bot-1\",\"trades\":[{\"market\":\"KRW-ONT\","
	"\"uuid\":\"54f83c44-d346-4d5f-9098-44e68299152c\",\"price\":\"890.0\","
	"\"volume\":\"1.14660939\",\"funds\":\"1020.4823571\","
	"\"created_at\":\"2020-07-20T02:36:25+09:00\",\"side\":\"ask\"}]}";

enum endpoint {
	EP_MARKETS,
	EP_TICKER,
	EP_CANDLE,
	EP_DAYS,
	EP_BOOK,
	EP_INSTR,
	EP_ACCOUNTS,
	EP_CHANCE,
	EP_ORDER,
	EP_ORDERS
};

/* Runs the endpoint's parser, frees what it returned, and gives back the code. */
static int parse_as(enum endpoint ep, const char *body, size_t len, struct upbit_parse_error *e)
{
	struct upbit_parse_opts o = {.now_ms = NOW_MS, .max_body = 1 << 20};
	void *list = NULL;
	size_t n = 0;
	int rc = -100;

	switch (ep) {
	case EP_MARKETS:
		rc = upbit_parse_markets(body, len, &o, (struct upbit_market_info **)&list, &n, e);
		break;
	case EP_TICKER:
		rc = upbit_parse_tickers(body, len, &o, (struct upbit_ticker **)&list, &n, e);
		break;
	case EP_CANDLE:
		o.market = "KRW-BTC";
		o.unit_min = 1;
		rc = upbit_parse_candles(body, len, &o, (struct upbit_candle **)&list, &n, e);
		break;
	case EP_DAYS:
		o.market = "KRW-BTC";
		rc = upbit_parse_candles(body, len, &o, (struct upbit_candle **)&list, &n, e);
		break;
	case EP_BOOK:
		rc = upbit_parse_orderbooks(body, len, &o, (struct upbit_orderbook **)&list, &n, e);
		break;
	case EP_INSTR:
		rc = upbit_parse_instruments(body, len, &o, (struct upbit_instrument **)&list, &n,
					     e);
		break;
	case EP_ACCOUNTS:
		rc = upbit_parse_accounts(body, len, &o, (struct upbit_account **)&list, &n, e);
		break;
	case EP_CHANCE: {
		struct upbit_chance ch;

		rc = upbit_parse_chance(body, len, &o, &ch, e);
		break;
	}
	case EP_ORDER: {
		struct upbit_order ord;

		rc = upbit_parse_order(body, len, &o, &ord, e);
		upbit_order_clear(&ord);
		break;
	}
	case EP_ORDERS:
		rc = upbit_parse_orders(body, len, &o, (struct upbit_order **)&list, &n, e);
		upbit_orders_free(list, n);
		list = NULL;
		break;
	}
	if (rc < 0) {
		assert_null(list);
		assert_int_equal(n, 0);
	}
	free(list);
	return rc;
}

static const char *sample_of(enum endpoint ep)
{
	switch (ep) {
	case EP_MARKETS:
		return market_sample;
	case EP_TICKER:
		return ticker_sample;
	case EP_CANDLE:
		return candle_sample;
	case EP_DAYS:
		return day_candle_sample;
	case EP_BOOK:
		return orderbook_sample;
	case EP_INSTR:
		return instruments_sample;
	case EP_ACCOUNTS:
		return accounts_sample;
	case EP_CHANCE:
		return chance_sample;
	case EP_ORDER:
		return order_sample;
	case EP_ORDERS:
		return NULL;
	}
	return NULL;
}

/* A malformed case: the endpoint's sample with `from` replaced by `to` (first occurrence), or
 * `to` alone when from is NULL. */
struct bad_case {
	enum endpoint ep;
	const char *from, *to;
	int code;
	const char *field;
};

static char *make_body(const struct bad_case *bc)
{
	const char *base = sample_of(bc->ep);
	const char *at;
	char *out;
	size_t pre;

	if (!bc->from)
		return strdup(bc->to);
	at = strstr(base, bc->from);
	if (!at)
		fail_msg("'%s' not in the sample", bc->from);
	pre = (size_t)(at - base);
	out = malloc(strlen(base) + strlen(bc->to) + 1);
	memcpy(out, base, pre);
	strcpy(out + pre, bc->to);
	strcat(out, at + strlen(bc->from));
	return out;
}

static const struct bad_case bad_cases[] = {
	/* Shared screening, on every endpoint. */
	{EP_TICKER, NULL, "", UPBIT_PARSE_EMPTY, ""},
	{EP_TICKER, NULL, "  \n", UPBIT_PARSE_EMPTY, ""},
	{EP_TICKER, NULL, "[{\"market\":\"KRW-BTC\",\"trade_price\":14", UPBIT_PARSE_SYNTAX, ""},
	{EP_TICKER, "145000000.0", "NaN", UPBIT_PARSE_SYNTAX, ""},
	{EP_TICKER, "145000000.0", "Infinity", UPBIT_PARSE_SYNTAX, ""},
	{EP_TICKER, "145000000.0", "1e999", UPBIT_PARSE_SYNTAX, ""},
	{EP_TICKER, "1736912518893", "99999999999999999999999", UPBIT_PARSE_SYNTAX, ""},
	{EP_TICKER, "\"change\":\"RISE\",", "\"change\":\"RISE\",\"change\":\"FALL\",",
	 UPBIT_PARSE_SYNTAX, ""},
	{EP_MARKETS, "Bitcoin", "Bitc\xff\xfein", UPBIT_PARSE_ENCODING, ""},
	{EP_TICKER, NULL, "Too many API requests.", UPBIT_PARSE_SYNTAX, ""},
	{EP_TICKER, NULL, "{\"error\":{\"name\":400,\"message\":\"Missing request parameter\"}}",
	 UPBIT_PARSE_API_ERROR, "error"},
	{EP_ORDER, NULL, "{\"error\":{\"name\":\"invalid_query_payload\",\"message\":\"x\"}}",
	 UPBIT_PARSE_API_ERROR, "error"},
	{EP_TICKER, NULL, "{\"error\":{\"name\":[1],\"message\":\"x\"}}", UPBIT_PARSE_SHAPE,
	 "error"},
	{EP_TICKER, NULL, "{\"market\":\"KRW-BTC\"}", UPBIT_PARSE_SHAPE, ""},
	{EP_TICKER, NULL, "[1,2]", UPBIT_PARSE_SHAPE, ""},
	{EP_ORDER, NULL, "[]", UPBIT_PARSE_SHAPE, ""},
	{EP_CHANCE, NULL, "[]", UPBIT_PARSE_SHAPE, ""},
	/* Ticker fields. */
	{EP_TICKER, "\"market\":\"KRW-BTC\",", "", UPBIT_PARSE_MISSING, "market"},
	{EP_TICKER, "\"trade_price\":145000000.0", "\"trade_price\":\"145000000.0\"",
	 UPBIT_PARSE_TYPE, "trade_price"},
	{EP_TICKER, "\"trade_price\":145000000.0", "\"trade_price\":null", UPBIT_PARSE_MISSING,
	 "trade_price"},
	{EP_TICKER, "\"trade_price\":145000000.0", "\"trade_price\":0", UPBIT_PARSE_RANGE,
	 "trade_price"},
	{EP_TICKER, "\"low_price\":143800000.0", "\"low_price\":-1", UPBIT_PARSE_RANGE,
	 "low_price"},
	{EP_TICKER, "\"trade_price\":145000000.0", "\"trade_price\":1e300", UPBIT_PARSE_RANGE,
	 "trade_price"},
	{EP_TICKER, "\"trade_volume\":0.00210312", "\"trade_volume\":-0.5", UPBIT_PARSE_RANGE,
	 "trade_volume"},
	{EP_TICKER, "\"high_price\":145600000.0", "\"high_price\":143000000.0", UPBIT_PARSE_RANGE,
	 "high_price"},
	{EP_TICKER, "\"trade_price\":145000000.0", "\"trade_price\":146000000.0", UPBIT_PARSE_RANGE,
	 "trade_price"},
	{EP_TICKER, "\"market\":\"KRW-BTC\"", "\"market\":\"krw-btc\"", UPBIT_PARSE_MARKET,
	 "market"},
	{EP_TICKER, "\"market\":\"KRW-BTC\"", "\"market\":\"KRWBTC\"", UPBIT_PARSE_MARKET,
	 "market"},
	{EP_TICKER, "\"market\":\"KRW-BTC\"", "\"market\":42", UPBIT_PARSE_TYPE, "market"},
	{EP_TICKER, "\"timestamp\":1736912518893", "\"timestamp\":0", UPBIT_PARSE_TIME,
	 "timestamp"},
	{EP_TICKER, "\"timestamp\":1736912518893", "\"timestamp\":86400000", UPBIT_PARSE_TIME,
	 "timestamp"},
	{EP_TICKER, "\"timestamp\":1736912518893", "\"timestamp\":4102444800000", UPBIT_PARSE_TIME,
	 "timestamp"},
	{EP_TICKER, "\"timestamp\":1736912518893", "\"timestamp\":1736912518893.5",
	 UPBIT_PARSE_TYPE, "timestamp"},
	{EP_TICKER, "\"change\":\"RISE\"", "\"change\":\"UP\"", UPBIT_PARSE_ENUM, "change"},
	/* Candles. */
	{EP_CANDLE, "\"market\":\"KRW-BTC\"", "\"market\":\"KRW-ETH\"", UPBIT_PARSE_MARKET,
	 "market"},
	{EP_CANDLE, "2025-01-15T03:41:00\"", "1970-01-01T00:00:00\"", UPBIT_PARSE_TIME,
	 "candle_date_time_utc"},
	{EP_CANDLE, "2025-01-15T03:41:00\"", "2999-01-01T00:00:00\"", UPBIT_PARSE_TIME,
	 "candle_date_time_utc"},
	{EP_CANDLE, "2025-01-15T03:41:00\"", "2025-01-15 03:41\"", UPBIT_PARSE_TIME,
	 "candle_date_time_utc"},
	{EP_CANDLE, "2025-01-15T03:41:00\"", "2025-01-15T03:41:30\"", UPBIT_PARSE_TIME,
	 "candle_date_time_utc"},
	{EP_CANDLE, "2025-01-15T12:41:00", "2025-01-15T12:42:00", UPBIT_PARSE_TIME,
	 "candle_date_time_kst"},
	{EP_CANDLE, "\"timestamp\":1736912519873", "\"timestamp\":1736912000000", UPBIT_PARSE_TIME,
	 "timestamp"},
	{EP_CANDLE, "\"high_price\":145010000.0", "\"high_price\":144900000.0", UPBIT_PARSE_RANGE,
	 "high_price"},
	{EP_CANDLE, "\"opening_price\":144980000.0", "\"opening_price\":144000000.0",
	 UPBIT_PARSE_RANGE, "opening_price"},
	{EP_CANDLE, "\"unit\":1", "\"unit\":5", UPBIT_PARSE_RANGE, "unit"},
	{EP_CANDLE, "\"unit\":1", "\"unit\":\"1\"", UPBIT_PARSE_TYPE, "unit"},
	{EP_CANDLE, "\"candle_acc_trade_volume\":0.00210312,", "", UPBIT_PARSE_MISSING,
	 "candle_acc_trade_volume"},
	{EP_CANDLE, NULL, "{\"market\":\"KRW-BTC\"}", UPBIT_PARSE_SHAPE, ""},
	{EP_DAYS, "2025-01-14T00:00:00\",\"candle_date_time_kst\":\"2025-01-14T09:00:00",
	 "2025-01-15T00:00:00\",\"candle_date_time_kst\":\"2025-01-15T09:00:00", UPBIT_PARSE_TIME,
	 "candle_date_time_utc"},
	{EP_DAYS, "2025-01-14T00:00:00\",\"candle_date_time_kst\":\"2025-01-14T09:00:00",
	 "2025-01-14T01:00:00\",\"candle_date_time_kst\":\"2025-01-14T10:00:00", UPBIT_PARSE_TIME,
	 "candle_date_time_utc"},
	/* Order book. */
	{EP_BOOK, "\"ask_price\":145001000", "\"ask_price\":0", UPBIT_PARSE_RANGE, "ask_price"},
	{EP_BOOK, "\"bid_size\":1.25", "\"bid_size\":-1.25", UPBIT_PARSE_RANGE, "bid_size"},
	{EP_BOOK, "\"ask_price\":145002000.0", "\"ask_price\":144000000.0", UPBIT_PARSE_RANGE,
	 "orderbook_units"},
	{EP_BOOK, "\"orderbook_units\":[", "\"orderbook_units\":{\"a\":[", UPBIT_PARSE_SYNTAX, ""},
	{EP_BOOK, "\"total_ask_size\":4.5,", "", UPBIT_PARSE_MISSING, "total_ask_size"},
	{EP_BOOK, "\"market\":\"KRW-BTC\"", "\"market\":\"KRW-\"", UPBIT_PARSE_MARKET, "market"},
	/* Instruments. */
	{EP_INSTR, "\"tick_size\":\"1000\"", "\"tick_size\":1000", UPBIT_PARSE_TYPE, "tick_size"},
	{EP_INSTR, "\"tick_size\":\"1000\"", "\"tick_size\":\"0\"", UPBIT_PARSE_RANGE, "tick_size"},
	{EP_INSTR, "\"tick_size\":\"1000\"", "\"tick_size\":\"1e3\"", UPBIT_PARSE_DECIMAL,
	 "tick_size"},
	{EP_INSTR, "\"quote_currency\":\"KRW\"", "\"quote_currency\":\"BTC\"", UPBIT_PARSE_MARKET,
	 "quote_currency"},
	/* Markets. */
	{EP_MARKETS, "\"english_name\":\"Bitcoin\"", "\"english_name\":7", UPBIT_PARSE_TYPE,
	 "english_name"},
	{EP_MARKETS, "\"market_event\":{", "\"market_event\":[{", UPBIT_PARSE_SYNTAX, ""},
	{EP_MARKETS, "\"market_event\":{\"warning\":true", "\"market_event\":{\"warning\":\"yes\"",
	 UPBIT_PARSE_TYPE, "warning"},
	/* Accounts. */
	{EP_ACCOUNTS, "\"balance\":\"0.00048\"", "\"balance\":0.00048", UPBIT_PARSE_TYPE,
	 "balance"},
	{EP_ACCOUNTS, "\"balance\":\"0.00048\"", "\"balance\":\"-0.00048\"", UPBIT_PARSE_DECIMAL,
	 "balance"},
	{EP_ACCOUNTS, "\"balance\":\"0.00048\"", "\"balance\":\"NaN\"", UPBIT_PARSE_DECIMAL,
	 "balance"},
	{EP_ACCOUNTS, "\"balance\":\"0.00048\"", "\"balance\":\"1.\"", UPBIT_PARSE_DECIMAL,
	 "balance"},
	{EP_ACCOUNTS, "\"balance\":\"0.00048\"", "\"balance\":\"\"", UPBIT_PARSE_DECIMAL,
	 "balance"},
	{EP_ACCOUNTS, "\"balance\":\"0.00048\"",
	 "\"balance\":\"1000000000000000000000000000000.0\"", UPBIT_PARSE_RANGE, "balance"},
	{EP_ACCOUNTS, "\"currency\":\"BTC\"", "\"currency\":\"btc\"", UPBIT_PARSE_RANGE,
	 "currency"},
	{EP_ACCOUNTS, "\"locked\":\"0.0\",", "", UPBIT_PARSE_MISSING, "locked"},
	/* Chance. */
	{EP_CHANCE, "\"bid_fee\":\"0.0005\"", "\"bid_fee\":\"1.5\"", UPBIT_PARSE_RANGE, "bid_fee"},
	{EP_CHANCE, "\"id\":\"KRW-BTC\"", "\"id\":\"KRW_BTC\"", UPBIT_PARSE_MARKET, "id"},
	{EP_CHANCE, "\"state\":\"active\"", "\"state\":\"party\"", UPBIT_PARSE_ENUM, "state"},
	{EP_CHANCE, "\"min_total\":5000", "\"min_total\":-5000", UPBIT_PARSE_RANGE, "min_total"},
	{EP_CHANCE, "\"market\":{", "\"market\":[{", UPBIT_PARSE_SYNTAX, ""},
	{EP_CHANCE, "\"bid_account\":{", "\"bid_account\":7,\"x\":{", UPBIT_PARSE_TYPE,
	 "bid_account"},
	/* Orders. */
	{EP_ORDER, "\"uuid\":\"cdd92199-2897-4e14-9448-f923320408ad\"", "\"uuid\":\"cdd92199\"",
	 UPBIT_PARSE_RANGE, "uuid"},
	{EP_ORDER, "\"side\":\"bid\"", "\"side\":\"buy\"", UPBIT_PARSE_ENUM, "side"},
	{EP_ORDER, "\"state\":\"wait\"", "\"state\":\"filled\"", UPBIT_PARSE_ENUM, "state"},
	{EP_ORDER, "\"price\":\"100.0\"", "\"price\":\"0\"", UPBIT_PARSE_RANGE, "price"},
	{EP_ORDER, "\"price\":\"100.0\"", "\"price\":null", UPBIT_PARSE_MISSING, "price"},
	{EP_ORDER, "\"price\":\"100.0\"", "\"price\":100.0", UPBIT_PARSE_TYPE, "price"},
	{EP_ORDER, "2018-04-10T15:42:23+09:00", "2018-04-10T15:42:23", UPBIT_PARSE_TIME,
	 "created_at"},
	{EP_ORDER, "2018-04-10T15:42:23+09:00", "1970-01-01T00:00:00Z", UPBIT_PARSE_TIME,
	 "created_at"},
	{EP_ORDER, "\"trades_count\":0", "\"trades_count\":-1", UPBIT_PARSE_RANGE, "trades_count"},
	{EP_ORDER, "\"trades_count\":0", "\"trades_count\":0,\"trades\":{}", UPBIT_PARSE_TYPE,
	 "trades"},
	{EP_ORDER, "\"trades_count\":0",
	 "\"trades_count\":1,\"trades\":[{\"market\":\"KRW-ETH\","
	 "\"uuid\":\"54f83c44-d346-4d5f-9098-44e68299152c\",\"price\":\"890.0\",\"volume\":\"1\","
	 "\"funds\":\"890\",\"created_at\":\"2020-07-20T02:36:25+09:00\",\"side\":\"ask\"}]",
	 UPBIT_PARSE_MARKET, "trades"},
	{EP_ORDERS, NULL, "{}", UPBIT_PARSE_SHAPE, ""},
	{EP_ORDERS, NULL, "[{\"uuid\":\"x\"}]", UPBIT_PARSE_RANGE, "uuid"},
};

static void test_bad_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		struct upbit_parse_error e;
		char *body = make_body(bc);
		int rc = parse_as(bc->ep, body, strlen(body), &e);

		if (rc != bc->code || strcmp(e.field, bc->field) != 0)
			fail_msg("case %zu (ep %d, '%s'): got %s field '%s' (%s), want %s '%s'", i,
				 bc->ep, bc->to, upbit_parse_err_name(rc), e.field, e.detail,
				 upbit_parse_err_name(bc->code), bc->field);
		assert_int_equal(e.code, rc);
		free(body);
	}
}

static void test_error_envelope(void **state)
{
	struct upbit_parse_error e;
	struct upbit_api_error api;
	const char *numeric = "{\"error\":{\"message\":\"Missing request parameter error\","
			      "\"name\":400}}";

	(void)state;
	assert_int_equal(parse_as(EP_TICKER, numeric, strlen(numeric), &e), UPBIT_PARSE_API_ERROR);
	assert_string_equal(e.api.name, "400");
	assert_string_equal(e.api.message, "Missing request parameter error");
	const char *named = "{\"error\":{\"name\":\"order_not_found\","
			    "\"message\":\"주문을 찾지 못했습니다.\"}}";

	assert_int_equal(upbit_parse_api_error(named, strlen(named), &api), 0);
	assert_string_equal(api.name, "order_not_found");
	assert_int_equal(upbit_parse_api_error("Too many API requests.", 22, &api), -1);
	assert_int_equal(upbit_parse_api_error("{\"error\":\"x\"}", 13, &api), -1);
}

static void test_size_cap_and_non_utf8(void **state)
{
	struct upbit_parse_opts o = {.now_ms = NOW_MS, .max_body = 16};
	struct upbit_parse_error e;
	struct upbit_ticker *t;
	size_t n;

	(void)state;
	assert_int_equal(upbit_parse_tickers(ticker_sample, strlen(ticker_sample), &o, &t, &n, &e),
			 UPBIT_PARSE_TOO_BIG);
	assert_null(t);
	o.max_body = 0;
	assert_int_equal(upbit_parse_tickers("[\"\xc3\x28\"]", 6, &o, &t, &n, &e),
			 UPBIT_PARSE_ENCODING);
	assert_int_equal(upbit_parse_tickers("[]\0garbage", 10, &o, &t, &n, &e),
			 UPBIT_PARSE_SYNTAX);
	assert_int_equal(upbit_parse_tickers("[]", 2, &o, &t, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_null(t);
	assert_int_equal(upbit_parse_tickers(NULL, 0, &o, &t, &n, NULL), UPBIT_PARSE_EMPTY);
}

static void test_valid_ticker(void **state)
{
	struct upbit_parse_opts o = {.now_ms = NOW_MS};
	struct upbit_ticker *t;
	size_t n;

	(void)state;
	assert_int_equal(
		upbit_parse_tickers(ticker_sample, strlen(ticker_sample), &o, &t, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(t[0].market, "KRW-BTC");
	assert_string_equal(t[0].change, "RISE");
	assert_int_equal(t[0].trade_timestamp_ms, 1736912518512LL);
	assert_int_equal(t[0].timestamp_ms, 1736912518893LL);
	assert_true(t[0].opening_price == 144300000.0);
	assert_true(t[0].high_price == 145600000.0);
	assert_true(t[0].low_price == 143800000.0);
	assert_true(t[0].trade_price == 145000000.0);
	assert_true(t[0].prev_closing_price == 144120000.0);
	assert_true(t[0].change_price == 880000.0);
	assert_true(t[0].signed_change_rate == 0.0061060228);
	assert_true(t[0].trade_volume == 0.00210312);
	assert_true(t[0].acc_trade_price == 98765432101.12345);
	assert_true(t[0].acc_trade_volume_24h == 1702.98765432);
	free(t);
}

static void test_valid_candles(void **state)
{
	struct upbit_parse_opts o = {.now_ms = NOW_MS, .market = "KRW-BTC", .unit_min = 1};
	struct upbit_candle *k;
	size_t n;

	(void)state;
	assert_int_equal(
		upbit_parse_candles(candle_sample, strlen(candle_sample), &o, &k, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(k[0].market, "KRW-BTC");
	assert_int_equal(k[0].start_ms, 1736912460000LL); /* 2025-01-15T03:41:00Z */
	assert_int_equal(k[0].last_tick_ms, 1736912519873LL);
	assert_true(k[0].open == 144980000.0 && k[0].high == 145010000.0);
	assert_true(k[0].low == 144950000.0 && k[0].close == 145000000.0);
	assert_true(k[0].acc_trade_price == 304952.4);
	assert_true(k[0].acc_trade_volume == 0.00210312);
	assert_int_equal(k[0].unit_min, 1);
	free(k);
	o.market = "BTC-ETH";
	assert_int_equal(upbit_parse_candles(ccxt_candle_sample, strlen(ccxt_candle_sample), &o, &k,
					     &n, NULL),
			 0);
	assert_int_equal(k[0].start_ms, 1542894420000LL);
	assert_true(k[0].low == 0.02915448);
	free(k);
	o.market = "KRW-BTC";
	o.unit_min = 0;
	assert_int_equal(
		upbit_parse_candles(day_candle_sample, strlen(day_candle_sample), &o, &k, &n, NULL),
		0);
	assert_int_equal(n, 2);
	assert_int_equal(k[0].start_ms, 1736899200000LL);
	assert_int_equal(k[1].start_ms, 1736899200000LL - 86400000LL);
	assert_int_equal(k[0].unit_min, 0);
	free(k);
}

/* A page whose candles go oldest first (or repeat) is corrupt: rejected whole. */
static void test_candles_must_be_newest_first(void **state)
{
	struct upbit_parse_opts o = {.now_ms = NOW_MS, .market = "KRW-BTC", .unit_min = 0};
	struct upbit_parse_error e;
	struct upbit_candle *k = (struct upbit_candle *)1;
	const char *split = strstr(day_candle_sample, "},{");
	char body[2048];
	size_t n = 7;

	(void)state;
	assert_non_null(split);
	/* [{A},{B}] becomes [{B},{A}] */
	snprintf(body, sizeof(body), "[%.*s,%.*s]", (int)(strlen(split + 2) - 1), split + 2,
		 (int)(split - day_candle_sample), day_candle_sample + 1);
	assert_int_equal(upbit_parse_candles(body, strlen(body), &o, &k, &n, &e), UPBIT_PARSE_TIME);
	assert_null(k);
	assert_int_equal(n, 0);
	assert_int_equal(e.index, 1);
	assert_string_equal(e.field, "candle_date_time_utc");
}

static void test_valid_markets_book_instruments(void **state)
{
	struct upbit_parse_opts o = {.now_ms = NOW_MS};
	struct upbit_market_info *m;
	struct upbit_orderbook *b;
	struct upbit_instrument *in;
	size_t n;

	(void)state;
	assert_int_equal(
		upbit_parse_markets(market_sample, strlen(market_sample), &o, &m, &n, NULL), 0);
	assert_int_equal(n, 3);
	assert_string_equal(m[0].market, "KRW-BTC");
	assert_string_equal(m[0].korean_name, "비트코인");
	assert_string_equal(m[1].english_name, "Ethereum");
	assert_int_equal(m[0].warning, 0);
	assert_int_equal(m[1].warning, 1);
	assert_int_equal(m[2].warning, 1);
	free(m);
	assert_int_equal(upbit_parse_orderbooks(orderbook_sample, strlen(orderbook_sample), &o, &b,
						&n, NULL),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(b[0].n_units, 2);
	assert_true(b[0].units[0].ask_price == 145001000.0);
	assert_true(b[0].units[1].bid_price == 144999000.0);
	assert_true(b[0].units[0].bid_size == 1.25);
	assert_true(b[0].total_bid_size == 7.25);
	assert_int_equal(b[0].timestamp_ms, 1736912518893LL);
	free(b);
	assert_int_equal(upbit_parse_instruments(instruments_sample, strlen(instruments_sample), &o,
						 &in, &n, NULL),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(in[0].tick_size.text, "1000");
	assert_true(in[0].tick_size.value == 1000.0);
	assert_string_equal(in[1].quote_currency, "KRW");
	free(in);
}

static void test_valid_private(void **state)
{
	struct upbit_parse_opts o = {.now_ms = NOW_MS};
	struct upbit_account *a;
	struct upbit_chance ch;
	struct upbit_order ord;
	size_t n;

	(void)state;
	assert_int_equal(
		upbit_parse_accounts(accounts_sample, strlen(accounts_sample), &o, &a, &n, NULL),
		0);
	assert_int_equal(n, 2);
	assert_string_equal(a[0].currency, "KRW");
	assert_string_equal(a[0].balance.text, "1000000.0");
	assert_string_equal(a[1].avg_buy_price.text, "20870000");
	assert_true(a[1].balance.value == 0.00048);
	assert_string_equal(a[1].unit_currency, "KRW");
	free(a);

	assert_int_equal(upbit_parse_chance(chance_sample, strlen(chance_sample), &o, &ch, NULL),
			 0);
	assert_string_equal(ch.bid_fee.text, "0.0005");
	assert_string_equal(ch.market, "KRW-BTC");
	assert_string_equal(ch.state, "active");
	assert_true(ch.bid_min_total.value == 5000.0);
	assert_string_equal(ch.max_total.text, "1000000000.0");
	assert_string_equal(ch.bid_account.locked.text, "4999.99999922");
	assert_int_equal(ch.bid_account.avg_buy_price_modified, 1);
	assert_string_equal(ch.ask_currency, "BTC");

	assert_int_equal(upbit_parse_order(order_sample, strlen(order_sample), &o, &ord, NULL), 0);
	assert_string_equal(ord.uuid, "cdd92199-2897-4e14-9448-f923320408ad");
	assert_string_equal(ord.state, "wait");
	assert_string_equal(ord.price.text, "100.0");
	assert_string_equal(ord.locked.text, "1.0015");
	assert_int_equal(ord.created_ms, 1523342543000LL); /* 2018-04-10T06:42:23Z */
	assert_string_equal(ord.identifier, "");
	assert_int_equal(ord.n_trades, 0);
	upbit_order_clear(&ord);

	assert_int_equal(upbit_parse_order(order_with_trades_sample,
					   strlen(order_with_trades_sample), &o, &ord, NULL),
			 0);
	assert_int_equal(ord.price.present, 0);
	assert_string_equal(ord.identifier, "bot-1");
	assert_int_equal(ord.n_trades, 1);
	assert_string_equal(ord.trades[0].funds.text, "1020.4823571");
	assert_string_equal(ord.trades[0].side, "ask");
	upbit_order_clear(&ord);
}

static void test_valid_order_list(void **state)
{
	struct upbit_parse_opts o = {.now_ms = NOW_MS};
	struct upbit_order *list;
	size_t n, len = strlen(order_sample) * 2 + strlen(order_with_trades_sample) + 8;
	char *body = malloc(len);

	(void)state;
	snprintf(body, len, "[%s,%s]", order_sample, order_with_trades_sample);
	assert_int_equal(upbit_parse_orders(body, strlen(body), &o, &list, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_int_equal(list[1].n_trades, 1);
	upbit_orders_free(list, n);
	/* A bad second item frees the first's trades too (checked under ASan/valgrind). */
	snprintf(body, len, "[%s,%s]", order_with_trades_sample, "{\"uuid\":1}");
	assert_int_equal(upbit_parse_orders(body, strlen(body), &o, &list, &n, NULL),
			 UPBIT_PARSE_TYPE);
	free(body);
}

static void test_helpers(void **state)
{
	(void)state;
	assert_true(upbit_market_code_valid("KRW-BTC"));
	assert_true(upbit_market_code_valid("KRW-1INCH"));
	assert_true(upbit_market_code_valid("USDT-ETH"));
	assert_false(upbit_market_code_valid("KRW"));
	assert_false(upbit_market_code_valid("K-BTC"));
	assert_false(upbit_market_code_valid("KRW-BTC-X"));
	assert_false(upbit_market_code_valid("KRW-btc"));
	assert_false(upbit_market_code_valid("KRW- BTC"));
	assert_true(upbit_decimal_valid("0"));
	assert_true(upbit_decimal_valid("1000000.0"));
	assert_false(upbit_decimal_valid(".5"));
	assert_false(upbit_decimal_valid("+1"));
	assert_false(upbit_decimal_valid("1,000"));
	assert_false(upbit_decimal_valid("inf"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_table),
		cmocka_unit_test(test_candles_must_be_newest_first),
		cmocka_unit_test(test_error_envelope),
		cmocka_unit_test(test_size_cap_and_non_utf8),
		cmocka_unit_test(test_valid_ticker),
		cmocka_unit_test(test_valid_candles),
		cmocka_unit_test(test_valid_markets_book_instruments),
		cmocka_unit_test(test_valid_private),
		cmocka_unit_test(test_valid_order_list),
		cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
