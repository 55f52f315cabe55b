/* The Upbit endpoints: argument checks, parameters in send order, the rate-limit group of each,
 * and the glue from each parser to the caller's typed callback. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "workers/upbit/upbit_call.h"
#include "workers/upbit/upbit_client.h"

/* ccxt keeps the markets list under 4000 characters to stay clear of URL limits. */
#define MARKETS_QUERY_MAX 4000

/* ---- parse and emit, one pair per result type ---- */

static int ok(const struct upbit_result *r)
{
	return r->status == UPBIT_OK;
}

/* A list endpoint: its parser fills call->list, which its callback borrows and the call frees. */
#define LIST_ENDPOINT(name, type, parser)                                                          \
	static int parse_##name(struct upbit_call *call, const char *b, size_t l,                  \
				const struct upbit_parse_opts *o, struct upbit_parse_error *e)     \
	{                                                                                          \
		return parser(b, l, o, (type **)&call->list, &call->n, e);                         \
	}                                                                                          \
	static void emit_##name(struct upbit_call *call, const struct upbit_result *r)             \
	{                                                                                          \
		call->cb.name(call->arg, r, ok(r) ? call->list : NULL, ok(r) ? call->n : 0);       \
		free(call->list);                                                                  \
	}

LIST_ENDPOINT(markets, struct upbit_market_info, upbit_parse_markets)
LIST_ENDPOINT(tickers, struct upbit_ticker, upbit_parse_tickers)
LIST_ENDPOINT(candles, struct upbit_candle, upbit_parse_candles)
LIST_ENDPOINT(orderbooks, struct upbit_orderbook, upbit_parse_orderbooks)
LIST_ENDPOINT(instruments, struct upbit_instrument, upbit_parse_instruments)
LIST_ENDPOINT(accounts, struct upbit_account, upbit_parse_accounts)

static int parse_chance(struct upbit_call *call, const char *b, size_t l,
			const struct upbit_parse_opts *o, struct upbit_parse_error *e)
{
	int rc;

	call->chance = calloc(1, sizeof(*call->chance));
	if (!call->chance)
		return UPBIT_PARSE_NOMEM;
	rc = upbit_parse_chance(b, l, o, call->chance, e);
	if (rc < 0) {
		free(call->chance);
		call->chance = NULL;
	}
	return rc;
}

static void emit_chance(struct upbit_call *call, const struct upbit_result *r)
{
	call->cb.chance(call->arg, r, ok(r) ? call->chance : NULL);
	free(call->chance);
}

static int parse_order(struct upbit_call *call, const char *b, size_t l,
		       const struct upbit_parse_opts *o, struct upbit_parse_error *e)
{
	int rc;

	call->order = calloc(1, sizeof(*call->order));
	if (!call->order)
		return UPBIT_PARSE_NOMEM;
	rc = upbit_parse_order(b, l, o, call->order, e);
	if (rc < 0) {
		free(call->order);
		call->order = NULL;
	}
	return rc;
}

static void emit_order(struct upbit_call *call, const struct upbit_result *r)
{
	call->cb.order(call->arg, r, ok(r) ? call->order : NULL);
	if (call->order) {
		upbit_order_clear(call->order);
		free(call->order);
	}
}

static int parse_orders(struct upbit_call *call, const char *b, size_t l,
			const struct upbit_parse_opts *o, struct upbit_parse_error *e)
{
	return upbit_parse_orders(b, l, o, (struct upbit_order **)&call->list, &call->n, e);
}

static void emit_orders(struct upbit_call *call, const struct upbit_result *r)
{
	call->cb.orders(call->arg, r, ok(r) ? call->list : NULL, ok(r) ? call->n : 0);
	upbit_orders_free(call->list, call->n);
}

/* ---- parameter helpers ---- */

static struct upbit_call *make_call(struct upbit_client *c, enum upbit_endpoint ep,
				    enum upbit_group g, const char *method, int exchange,
				    const char *path, upbit_parse_fn parse, upbit_emit_fn emit,
				    void *arg)
{
	struct upbit_call *call = upbit_call_new(c, ep, g, method, exchange);

	if (!call)
		return NULL;
	snprintf(call->path, sizeof(call->path), "%s", path);
	call->parse = parse;
	call->emit = emit;
	call->arg = arg;
	return call;
}

/* Adds "markets=A,B,C" after checking every code. */
static int add_markets(struct upbit_query *q, const char *const *markets, size_t n)
{
	char buf[MARKETS_QUERY_MAX + 1];
	size_t used = 0;

	if (!markets || n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		size_t len;

		if (!markets[i] || !upbit_market_code_valid(markets[i]))
			return -EINVAL;
		len = strlen(markets[i]);
		if (used + len + 1 > MARKETS_QUERY_MAX)
			return -E2BIG;
		if (i > 0)
			buf[used++] = ',';
		memcpy(buf + used, markets[i], len);
		used += len;
	}
	buf[used] = '\0';
	return upbit_query_add(q, "markets", buf);
}

/* ISO-8601 with an explicit +00:00 zone; the query encoder escapes ':' and '+'. round_up
 * moves a sub-second instant to the next second (for an exclusive end). */
static int add_time(struct upbit_query *q, const char *key, int64_t ms, int round_up)
{
	char buf[40];
	size_t len;

	if (ms < UPBIT_EPOCH_MIN_MS)
		return -EINVAL;
	if (round_up)
		ms = (ms + 999) / 1000 * 1000;
	clock_format(ms, 0, buf, sizeof(buf));
	len = strlen(buf);
	snprintf(buf + len, sizeof(buf) - len, "+00:00");
	return upbit_query_add(q, key, buf);
}

static int add_int(struct upbit_query *q, const char *key, long v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%ld", v);
	return upbit_query_add(q, key, buf);
}

static int one_of(const char *s, const char *const *allowed)
{
	for (; s && *allowed; allowed++)
		if (strcmp(s, *allowed) == 0)
			return 1;
	return 0;
}

/* Frees the call on a failed build; submits it otherwise. */
static int submit_or_drop(struct upbit_call *call, int rc)
{
	if (rc < 0) {
		upbit_call_free(call);
		return rc;
	}
	return upbit_call_submit(call);
}

/* ---- quotation ---- */

int upbit_get_markets(struct upbit_client *c, int details, upbit_markets_cb cb, void *arg)
{
	struct upbit_call *call;

	if (!c || !cb)
		return -EINVAL;
	call = make_call(c, UPBIT_EP_MARKETS, UPBIT_GROUP_MARKET, "GET", 0, "/v1/market/all",
			 parse_markets, emit_markets, arg);
	if (!call)
		return -ENOMEM;
	call->cb.markets = cb;
	return submit_or_drop(call,
			      upbit_query_add(&call->q, "is_details", details ? "true" : "false"));
}

int upbit_get_tickers(struct upbit_client *c, const char *const *markets, size_t n,
		      upbit_tickers_cb cb, void *arg)
{
	struct upbit_call *call;

	if (!c || !cb)
		return -EINVAL;
	call = make_call(c, UPBIT_EP_TICKER, UPBIT_GROUP_TICKER, "GET", 0, "/v1/ticker",
			 parse_tickers, emit_tickers, arg);
	if (!call)
		return -ENOMEM;
	call->cb.tickers = cb;
	return submit_or_drop(call, add_markets(&call->q, markets, n));
}

static int get_candles(struct upbit_client *c, int unit, const char *market, int64_t to_ms,
		       int count, upbit_candles_cb cb, void *arg)
{
	struct upbit_call *call;
	char path[64];
	int rc;

	if (!c || !cb || !market || !upbit_market_code_valid(market) || count < 1 || count > 200 ||
	    to_ms < 0)
		return -EINVAL;
	if (unit > 0)
		snprintf(path, sizeof(path), "/v1/candles/minutes/%d", unit);
	else
		snprintf(path, sizeof(path), "/v1/candles/days");
	call = make_call(c, UPBIT_EP_CANDLES, UPBIT_GROUP_CANDLE, "GET", 0, path, parse_candles,
			 emit_candles, arg);
	if (!call)
		return -ENOMEM;
	call->cb.candles = cb;
	call->unit_min = unit;
	snprintf(call->market, sizeof(call->market), "%s", market);
	rc = upbit_query_add(&call->q, "market", market);
	if (rc == 0 && to_ms > 0)
		rc = add_time(&call->q, "to", to_ms, 1);
	if (rc == 0)
		rc = add_int(&call->q, "count", count);
	return submit_or_drop(call, rc);
}

int upbit_get_candles_minutes(struct upbit_client *c, int unit, const char *market, int64_t to_ms,
			      int count, upbit_candles_cb cb, void *arg)
{
	static const int units[] = {1, 3, 5, 10, 15, 30, 60, 240};
	int known = 0;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		known |= units[i] == unit;
	if (!known)
		return -EINVAL;
	return get_candles(c, unit, market, to_ms, count, cb, arg);
}

int upbit_get_candles_days(struct upbit_client *c, const char *market, int64_t to_ms, int count,
			   upbit_candles_cb cb, void *arg)
{
	return get_candles(c, 0, market, to_ms, count, cb, arg);
}

int upbit_get_orderbooks(struct upbit_client *c, const char *const *markets, size_t n,
			 upbit_orderbooks_cb cb, void *arg)
{
	struct upbit_call *call;

	if (!c || !cb)
		return -EINVAL;
	call = make_call(c, UPBIT_EP_ORDERBOOK, UPBIT_GROUP_ORDERBOOK, "GET", 0, "/v1/orderbook",
			 parse_orderbooks, emit_orderbooks, arg);
	if (!call)
		return -ENOMEM;
	call->cb.orderbooks = cb;
	return submit_or_drop(call, add_markets(&call->q, markets, n));
}

int upbit_get_instruments(struct upbit_client *c, const char *const *markets, size_t n,
			  upbit_instruments_cb cb, void *arg)
{
	struct upbit_call *call;

	if (!c || !cb)
		return -EINVAL;
	call = make_call(c, UPBIT_EP_INSTRUMENTS, UPBIT_GROUP_ORDERBOOK, "GET", 0,
			 "/v1/orderbook/instruments", parse_instruments, emit_instruments, arg);
	if (!call)
		return -ENOMEM;
	call->cb.instruments = cb;
	return submit_or_drop(call, add_markets(&call->q, markets, n));
}

/* ---- exchange ---- */

int upbit_get_accounts(struct upbit_client *c, upbit_accounts_cb cb, void *arg)
{
	struct upbit_call *call;

	if (!c || !cb)
		return -EINVAL;
	call = make_call(c, UPBIT_EP_ACCOUNTS, UPBIT_GROUP_DEFAULT, "GET", 1, "/v1/accounts",
			 parse_accounts, emit_accounts, arg);
	if (!call)
		return -ENOMEM;
	call->cb.accounts = cb;
	return upbit_call_submit(call);
}

int upbit_get_chance(struct upbit_client *c, const char *market, upbit_chance_cb cb, void *arg)
{
	struct upbit_call *call;

	if (!c || !cb || !market || !upbit_market_code_valid(market))
		return -EINVAL;
	call = make_call(c, UPBIT_EP_CHANCE, UPBIT_GROUP_DEFAULT, "GET", 1, "/v1/orders/chance",
			 parse_chance, emit_chance, arg);
	if (!call)
		return -ENOMEM;
	call->cb.chance = cb;
	return submit_or_drop(call, upbit_query_add(&call->q, "market", market));
}

/* The combinations UPBIT_API.md section 2.3 allows; the exchange would reject the rest. */
static int order_request_valid(const struct upbit_order_request *r)
{
	static const char *const sides[] = {"bid", "ask", NULL};
	static const char *const types[] = {"limit", "price", "market", "best", NULL};
	static const char *const tifs[] = {"ioc", "fok", "post_only", NULL};
	static const char *const smps[] = {"cancel_maker", "cancel_taker", "reduce", NULL};
	int has_vol = r->volume != NULL, has_price = r->price != NULL;

	if (!r->market || !upbit_market_code_valid(r->market) || !one_of(r->side, sides) ||
	    !one_of(r->ord_type, types) || !r->identifier || !r->identifier[0] ||
	    strlen(r->identifier) >= UPBIT_IDENT_LEN)
		return 0;
	if ((has_vol && !upbit_decimal_valid(r->volume)) ||
	    (has_price && !upbit_decimal_valid(r->price)))
		return 0;
	if ((r->time_in_force && !one_of(r->time_in_force, tifs)) ||
	    (r->smp_type && !one_of(r->smp_type, smps)))
		return 0;
	if (strcmp(r->ord_type, "limit") == 0)
		return has_vol && has_price;
	if (r->time_in_force && strcmp(r->time_in_force, "post_only") == 0)
		return 0;
	if (strcmp(r->ord_type, "price") == 0)
		return strcmp(r->side, "bid") == 0 && has_price && !has_vol;
	if (strcmp(r->ord_type, "market") == 0)
		return strcmp(r->side, "ask") == 0 && has_vol && !has_price;
	/* best: ioc or fok, and a total for buys or a volume for sells. */
	if (!r->time_in_force)
		return 0;
	return strcmp(r->side, "bid") == 0 ? has_price && !has_vol : has_vol && !has_price;
}

int upbit_create_order(struct upbit_client *c, const struct upbit_order_request *req,
		       upbit_order_cb cb, void *arg)
{
	struct upbit_call *call;
	int rc;

	if (!c || !cb || !req || !order_request_valid(req))
		return -EINVAL;
	call = make_call(c, UPBIT_EP_ORDER_NEW, UPBIT_GROUP_ORDER, "POST", 1, "/v1/orders",
			 parse_order, emit_order, arg);
	if (!call)
		return -ENOMEM;
	call->cb.order = cb;
	snprintf(call->market, sizeof(call->market), "%s", req->market);
	/* Body and query_hash come from this one list, so their order always agrees. */
	rc = upbit_query_add(&call->q, "market", req->market);
	if (rc == 0)
		rc = upbit_query_add(&call->q, "side", req->side);
	if (rc == 0 && req->volume)
		rc = upbit_query_add(&call->q, "volume", req->volume);
	if (rc == 0 && req->price)
		rc = upbit_query_add(&call->q, "price", req->price);
	if (rc == 0)
		rc = upbit_query_add(&call->q, "ord_type", req->ord_type);
	if (rc == 0)
		rc = upbit_query_add(&call->q, "identifier", req->identifier);
	if (rc == 0 && req->time_in_force)
		rc = upbit_query_add(&call->q, "time_in_force", req->time_in_force);
	if (rc == 0 && req->smp_type)
		rc = upbit_query_add(&call->q, "smp_type", req->smp_type);
	return submit_or_drop(call, rc);
}

static int id_param_valid(const char *uuid, const char *identifier)
{
	if ((uuid != NULL) == (identifier != NULL))
		return 0;
	if (uuid)
		return uuid[0] && strlen(uuid) < UPBIT_UUID_LEN;
	return identifier[0] && strlen(identifier) < UPBIT_IDENT_LEN;
}

static int order_by_id(struct upbit_client *c, enum upbit_endpoint ep, const char *method,
		       const char *uuid, const char *identifier, upbit_order_cb cb, void *arg)
{
	struct upbit_call *call;

	if (!c || !cb || !id_param_valid(uuid, identifier))
		return -EINVAL;
	call = make_call(c, ep, UPBIT_GROUP_DEFAULT, method, 1, "/v1/order", parse_order,
			 emit_order, arg);
	if (!call)
		return -ENOMEM;
	call->cb.order = cb;
	return submit_or_drop(call, uuid ? upbit_query_add(&call->q, "uuid", uuid)
					 : upbit_query_add(&call->q, "identifier", identifier));
}

int upbit_get_order(struct upbit_client *c, const char *uuid, const char *identifier,
		    upbit_order_cb cb, void *arg)
{
	return order_by_id(c, UPBIT_EP_ORDER_GET, "GET", uuid, identifier, cb, arg);
}

int upbit_cancel_order(struct upbit_client *c, const char *uuid, const char *identifier,
		       upbit_order_cb cb, void *arg)
{
	return order_by_id(c, UPBIT_EP_ORDER_CANCEL, "DELETE", uuid, identifier, cb, arg);
}

int upbit_get_open_orders(struct upbit_client *c, const char *market, int page, int limit,
			  upbit_orders_cb cb, void *arg)
{
	struct upbit_call *call;
	int rc = 0;

	if (!c || !cb || (market && !upbit_market_code_valid(market)) || page < 1 || limit < 1 ||
	    limit > 100)
		return -EINVAL;
	call = make_call(c, UPBIT_EP_ORDERS_OPEN, UPBIT_GROUP_DEFAULT, "GET", 1, "/v1/orders/open",
			 parse_orders, emit_orders, arg);
	if (!call)
		return -ENOMEM;
	call->cb.orders = cb;
	if (market) {
		snprintf(call->market, sizeof(call->market), "%s", market);
		rc = upbit_query_add(&call->q, "market", market);
	}
	if (rc == 0)
		rc = add_int(&call->q, "page", page);
	if (rc == 0)
		rc = add_int(&call->q, "limit", limit);
	return submit_or_drop(call, rc);
}

int upbit_get_closed_orders(struct upbit_client *c, const char *market, int64_t start_ms,
			    int64_t end_ms, int limit, upbit_orders_cb cb, void *arg)
{
	struct upbit_call *call;
	int rc = 0;

	if (!c || !cb || (market && !upbit_market_code_valid(market)) || limit < 1 ||
	    limit > 1000 || start_ms < 0 || end_ms < 0 || (start_ms && end_ms && end_ms < start_ms))
		return -EINVAL;
	call = make_call(c, UPBIT_EP_ORDERS_CLOSED, UPBIT_GROUP_DEFAULT, "GET", 1,
			 "/v1/orders/closed", parse_orders, emit_orders, arg);
	if (!call)
		return -ENOMEM;
	call->cb.orders = cb;
	if (market) {
		snprintf(call->market, sizeof(call->market), "%s", market);
		rc = upbit_query_add(&call->q, "market", market);
	}
	if (rc == 0 && start_ms)
		rc = add_time(&call->q, "start_time", start_ms, 0);
	if (rc == 0 && end_ms)
		rc = add_time(&call->q, "end_time", end_ms, 1);
	if (rc == 0)
		rc = add_int(&call->q, "limit", limit);
	return submit_or_drop(call, rc);
}
