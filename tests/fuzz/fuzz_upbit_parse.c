/* libFuzzer harness for the Upbit response parsers: the first byte picks the endpoint, the rest
 * is the body. Whatever a server sends, a parser must return a code, never crash or leak, and
 * hand back nothing when it refuses. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "workers/upbit/upbit_parse.h"

/* 2025-01-15T04:00:00Z, just after the seeds' timestamps (as in test_upbit_parse.c). */
#define NOW_MS 1736913600000LL

/* A refusal returns no list; garbage in the outputs makes a parser that skips them crash. */
static void check_refusal(int rc, const void *list, size_t n)
{
	if (rc < 0 && (list || n))
		abort();
}

static void parse_list(uint8_t ep, const char *body, size_t len, struct upbit_parse_opts *o,
		       struct upbit_parse_error *e)
{
	void *list;
	size_t n;
	int rc;

	memset(&list, 0xa5, sizeof(list));
	memset(&n, 0xa5, sizeof(n));
	switch (ep) {
	case 0:
		rc = upbit_parse_markets(body, len, o, (struct upbit_market_info **)&list, &n, e);
		break;
	case 1:
		rc = upbit_parse_tickers(body, len, o, (struct upbit_ticker **)&list, &n, e);
		break;
	case 2:
		o->market = "KRW-BTC";
		o->unit_min = 1;
		rc = upbit_parse_candles(body, len, o, (struct upbit_candle **)&list, &n, e);
		break;
	case 3:
		o->market = "KRW-BTC";
		rc = upbit_parse_candles(body, len, o, (struct upbit_candle **)&list, &n, e);
		break;
	case 4: /* minute candles of any market */
		o->unit_min = 1;
		rc = upbit_parse_candles(body, len, o, (struct upbit_candle **)&list, &n, e);
		break;
	case 5:
		rc = upbit_parse_orderbooks(body, len, o, (struct upbit_orderbook **)&list, &n, e);
		break;
	case 6:
		rc = upbit_parse_instruments(body, len, o, (struct upbit_instrument **)&list, &n,
					     e);
		break;
	case 7:
		rc = upbit_parse_accounts(body, len, o, (struct upbit_account **)&list, &n, e);
		break;
	default:
		rc = upbit_parse_orders(body, len, o, (struct upbit_order **)&list, &n, e);
		check_refusal(rc, list, n);
		upbit_orders_free(list, n);
		return;
	}
	check_refusal(rc, list, n);
	free(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upbit_parse_opts o = {.now_ms = NOW_MS, .max_body = 1 << 20};
	struct upbit_parse_error e;
	uint8_t ep;
	char *body;

	if (size < 1)
		return 0;
	ep = data[0] % 12;
	/* An exact-size copy: ASan then catches a parser reading past len. */
	body = malloc(size - 1 ? size - 1 : 1);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	memset(&e, 0, sizeof(e));
	if (ep < 9) {
		parse_list(ep, body, size - 1, &o, &e);
	} else if (ep == 9) {
		struct upbit_chance ch;

		(void)upbit_parse_chance(body, size - 1, &o, &ch, &e);
	} else if (ep == 10) {
		struct upbit_order ord;

		memset(&ord, 0xa5, sizeof(ord));
		o.market = (size & 1) ? "KRW-BTC" : NULL;
		(void)upbit_parse_order(body, size - 1, &o, &ord, &e);
		upbit_order_clear(&ord);
	} else {
		struct upbit_api_error api;

		(void)upbit_parse_api_error(body, size - 1, &api);
	}
	(void)upbit_parse_err_name(e.code);
	free(body);
	return 0;
}
