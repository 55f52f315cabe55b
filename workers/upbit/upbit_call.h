/* One Upbit API call as the client core sees it (internal to workers/upbit): the endpoint files
 * build it, the core queues, sends, retries and finally hands it back to the endpoint to emit. */
#ifndef TD_UPBIT_CALL_H
#define TD_UPBIT_CALL_H

#include "workers/upbit/upbit_client.h"
#include "workers/upbit/upbit_query.h"

enum upbit_endpoint {
	UPBIT_EP_MARKETS,
	UPBIT_EP_TICKER,
	UPBIT_EP_CANDLES,
	UPBIT_EP_ORDERBOOK,
	UPBIT_EP_INSTRUMENTS,
	UPBIT_EP_ACCOUNTS,
	UPBIT_EP_CHANCE,
	UPBIT_EP_ORDER_NEW,
	UPBIT_EP_ORDER_GET,
	UPBIT_EP_ORDER_CANCEL,
	UPBIT_EP_ORDERS_OPEN,
	UPBIT_EP_ORDERS_CLOSED,
	UPBIT_EP_COUNT
};

const char *upbit_endpoint_name(enum upbit_endpoint ep);

struct upbit_call;

/* Parses a 2xx body into the call (list/n or one); 0 or a negative upbit_parse_err. */
typedef int (*upbit_parse_fn)(struct upbit_call *call, const char *body, size_t len,
			      const struct upbit_parse_opts *o, struct upbit_parse_error *e);
/* Calls the user's callback with what parse stored (or nothing on error) and frees it. */
typedef void (*upbit_emit_fn)(struct upbit_call *call, const struct upbit_result *r);

struct upbit_call {
	struct upbit_client *client;
	struct upbit_call *prev, *next; /* in its group's queue */
	enum upbit_endpoint ep;
	enum upbit_group group;
	int exchange;	/* private API: signed, exchange_urls */
	int idempotent; /* GET: retried; POST/DELETE: never */
	const char *method;
	char path[96];
	struct upbit_query q;
	unsigned attempts;
	int64_t not_before_ms;
	int base_idx;
	char market[UPBIT_MARKET_LEN]; /* parse check: the market asked for, "" for any */
	int unit_min;
	upbit_parse_fn parse;
	upbit_emit_fn emit;
	union {
		upbit_markets_cb markets;
		upbit_tickers_cb tickers;
		upbit_candles_cb candles;
		upbit_orderbooks_cb orderbooks;
		upbit_instruments_cb instruments;
		upbit_accounts_cb accounts;
		upbit_chance_cb chance;
		upbit_order_cb order;
		upbit_orders_cb orders;
	} cb;
	void *arg;
	/* Parsed data, owned by the call until emit frees it. */
	void *list;
	size_t n;
	struct upbit_chance *chance;
	struct upbit_order *order;
};

/* calloc'd call with an empty query; NULL on allocation failure. */
struct upbit_call *upbit_call_new(struct upbit_client *c, enum upbit_endpoint ep,
				  enum upbit_group g, const char *method, int exchange);
/* Frees the call and its query (not parsed data: emit owns that). */
void upbit_call_free(struct upbit_call *call);
/* Queues the call. On failure it is freed and a negative errno returned; the callback never
 * fires. */
int upbit_call_submit(struct upbit_call *call);

#endif
