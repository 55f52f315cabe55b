/* Upbit's exchange (private) REST endpoints: accounts, order chance, create/test, look up,
 * cancel and list orders. Every call is JWT-checked; amounts are decimal strings. */
#include "sim/sim_state.h"

#include "common/clock.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define WEEK_MS (7LL * 86400000LL)

static json_t *accounts_json(struct sim *s, int account)
{
	struct sim_account *a = &s->accounts[account];
	json_t *arr = json_array();
	int i;

	json_array_append_new(arr, asset_json("KRW", &a->krw));
	for (i = 0; i < s->nmarkets; i++)
		if (a->coins[i].balance > 0 || a->coins[i].locked > 0)
			json_array_append_new(arr, asset_json(s->markets[i].base, &a->coins[i]));
	return arr;
}

static void route_chance(struct sim *s, struct sim_request *rq, struct sim_reply *rp, int account)
{
	const char *market = query_get(&rq->q, "market");
	int mi = market ? sim_market_index(s, market) : -1;
	struct sim_market *m;
	char name[40];

	if (mi < 0) {
		reply_error(rp, 400, "validation_error", "market does not have a valid value");
		return;
	}
	m = &s->markets[mi];
	snprintf(name, sizeof(name), "%s/KRW", m->base);
	reply_json(rp, 200,
		   json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:[s],s:[s,s],s:[s,s,s],s:[s,s,s],"
			     "s:{s:s,s:n,s:i},s:{s:s,s:n,s:i},s:s,s:s},s:o,s:o}",
			     "bid_fee", "0.0005", "ask_fee", "0.0005", "maker_bid_fee", "0.0005",
			     "maker_ask_fee", "0.0005", "market", "id", m->code, "name", name,
			     "order_types", "limit", "order_sides", "ask", "bid", "bid_types",
			     "limit", "price", "best_fok", "ask_types", "limit", "market",
			     "best_fok", "bid", "currency", "KRW", "price_unit", "min_total", 5000,
			     "ask", "currency", m->base, "price_unit", "min_total", 5000,
			     "max_total", "1000000000.0", "state", "active", "bid_account",
			     asset_json("KRW", &s->accounts[account].krw), "ask_account",
			     asset_json(m->base, &s->accounts[account].coins[mi])));
}

static void route_create(struct sim *s, struct sim_request *rq, struct sim_reply *rp, int account,
			 json_t *body, int test_only)
{
	struct order_request orq;
	struct order_error err;
	struct sim_order *o;
	json_t *v;

	memset(&orq, 0, sizeof(orq));
	(void)rq;
	orq.account = account;
	orq.market = json_string_value(json_object_get(body, "market"));
	orq.side = json_string_value(json_object_get(body, "side"));
	orq.ord_type = json_string_value(json_object_get(body, "ord_type"));
	orq.time_in_force = json_string_value(json_object_get(body, "time_in_force"));
	orq.price = json_object_get(body, "price");
	orq.volume = json_object_get(body, "volume");
	v = json_object_get(body, "identifier");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v)) {
			reply_error(rp, 400, "validation_error",
				    "identifier does not have a valid value");
			return;
		}
		orq.identifier = json_string_value(v);
		snprintf(rp->identifier, sizeof(rp->identifier), "%s", orq.identifier);
	}
	o = order_place(s, &orq, test_only, &err);
	if (!o) {
		reply_error(rp, err.status, err.name, err.message);
		return;
	}
	reply_json(rp, 201, order_json(s, o, 0));
	if (test_only)
		order_destroy(o);
}

static struct sim_order *lookup(struct sim *s, struct sim_request *rq, struct sim_reply *rp,
				int account)
{
	const char *uuid = query_get(&rq->q, "uuid"), *ident = query_get(&rq->q, "identifier");
	struct sim_order *o;

	if ((!uuid || !*uuid) == (!ident || !*ident)) {
		reply_error(rp, 400, "validation_error", "give exactly one of uuid and identifier");
		return NULL;
	}
	if (ident)
		snprintf(rp->identifier, sizeof(rp->identifier), "%s", ident);
	o = order_find(s, account, uuid, ident);
	if (!o)
		reply_error(rp, 404, "order_not_found", "주문을 찾지 못했습니다.");
	return o;
}

/* The state / states[] filter as a bit per enum ord_state (bit 3: watch); 0 when invalid. */
static unsigned state_filter(const struct query *q, int closed)
{
	unsigned mask = 0;
	size_t i;
	int seen = 0;

	for (i = 0; i < q->n; i++) {
		const char *v = q->p[i].value;

		if (strcmp(q->p[i].key, "state") && strcmp(q->p[i].key, "states[]"))
			continue;
		seen = 1;
		if (!closed && strcmp(v, "wait") == 0)
			mask |= 1u << ST_WAIT;
		else if (!closed && strcmp(v, "watch") == 0)
			mask |= 1u << 3;
		else if (closed && strcmp(v, "done") == 0)
			mask |= 1u << ST_DONE;
		else if (closed && strcmp(v, "cancel") == 0)
			mask |= 1u << ST_CANCEL;
		else
			return 0;
	}
	if (!seen)
		return closed ? (1u << ST_DONE | 1u << ST_CANCEL) : 1u << ST_WAIT;
	return mask;
}

static int parse_time(const char *s, int64_t *out)
{
	const char *p;

	for (p = s; *p && isdigit((unsigned char)*p); p++)
		;
	if (*s && !*p && strlen(s) <= 15) {
		*out = strtoll(s, NULL, 10);
		return 0;
	}
	return clock_parse_iso8601(s, 1, out);
}

static int cmp_order_asc(const void *a, const void *b)
{
	const struct sim_order *x = *(struct sim_order *const *)a,
			       *y = *(struct sim_order *const *)b;

	return (x->created_ms > y->created_ms) - (x->created_ms < y->created_ms);
}

static void route_list(struct sim *s, struct sim_request *rq, struct sim_reply *rp, int account,
		       int closed)
{
	const char *market = query_get(&rq->q, "market"), *order_by = query_get(&rq->q, "order_by");
	const char *lim = query_get(&rq->q, "limit"), *page = query_get(&rq->q, "page");
	const char *st = query_get(&rq->q, "start_time"), *et = query_get(&rq->q, "end_time");
	unsigned mask = state_filter(&rq->q, closed);
	int mi = -1, asc = order_by && strcmp(order_by, "asc") == 0;
	long limit = 100, pg = 1, skip;
	int64_t start = 0, end = 0;
	struct sim_order **pick;
	size_t i, n = 0;
	json_t *arr;

	if (market && (mi = sim_market_index(s, market)) < 0) {
		reply_error(rp, 400, "validation_error", "market does not have a valid value");
		return;
	}
	if (!mask || (order_by && !asc && strcmp(order_by, "desc") != 0)) {
		reply_error(rp, 400, "validation_error",
			    "state or order_by does not have a valid value");
		return;
	}
	if (lim && ((limit = strtol(lim, NULL, 10)) < 1 || limit > (closed ? 1000 : 100))) {
		reply_error(rp, 400, "validation_error", "limit does not have a valid value");
		return;
	}
	if (page && (pg = strtol(page, NULL, 10)) < 1) {
		reply_error(rp, 400, "validation_error", "page does not have a valid value");
		return;
	}
	if (closed) {
		if ((st && parse_time(st, &start) < 0) || (et && parse_time(et, &end) < 0)) {
			reply_error(rp, 400, "validation_error",
				    "start_time or end_time is invalid");
			return;
		}
		/* Without times: the last 7 days; with one: 7 days from or up to it. */
		if (!et)
			end = st ? start + WEEK_MS : clock_now_ms() + 1;
		if (!st)
			start = end - WEEK_MS;
		if (end < start || end - start > WEEK_MS) {
			reply_error(rp, 400, "validation_error",
				    "the time window must be at most 7 days");
			return;
		}
	}
	pick = malloc((s->orders.n + 1) * sizeof(*pick));
	if (!pick) {
		reply_error(rp, 500, "server_error", "out of memory");
		return;
	}
	for (i = 0; i < s->orders.n; i++) {
		struct sim_order *o = s->orders.all[i];

		if (o->account != account || (mi >= 0 && o->market != mi) ||
		    !(mask & (1u << o->state)))
			continue;
		if (closed && (o->created_ms < start || o->created_ms >= end))
			continue;
		pick[n++] = o;
	}
	qsort(pick, n, sizeof(*pick), cmp_order_asc);
	arr = json_array();
	skip = closed ? 0 : (pg - 1) * limit;
	for (i = 0; i < n && (long)json_array_size(arr) < limit; i++) {
		struct sim_order *o = pick[asc ? i : n - 1 - i];

		if (skip > 0) {
			skip--;
			continue;
		}
		json_array_append_new(arr, order_json(s, o, 0));
	}
	free(pick);
	reply_json(rp, 200, arr);
}

static void route_uuids(struct sim *s, struct sim_request *rq, struct sim_reply *rp, int account)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < rq->q.n; i++) {
		struct sim_order *o = NULL;

		if (strcmp(rq->q.p[i].key, "uuids[]") == 0)
			o = order_find(s, account, rq->q.p[i].value, NULL);
		else if (strcmp(rq->q.p[i].key, "identifiers[]") == 0)
			o = order_find(s, account, NULL, rq->q.p[i].value);
		if (o)
			json_array_append_new(arr, order_json(s, o, 0));
	}
	reply_json(rp, 200, arr);
}

enum route {
	R_NONE,
	R_ACCOUNTS,
	R_CHANCE,
	R_CREATE,
	R_TEST,
	R_GET,
	R_CANCEL,
	R_OPEN,
	R_CLOSED,
	R_UUIDS
};

static enum route find_route(const char *method, const char *path)
{
	int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;

	if (get && strcmp(path, "/v1/accounts") == 0)
		return R_ACCOUNTS;
	if (get && strcmp(path, "/v1/orders/chance") == 0)
		return R_CHANCE;
	if (post && strcmp(path, "/v1/orders") == 0)
		return R_CREATE;
	if (post && strcmp(path, "/v1/orders/test") == 0)
		return R_TEST;
	if (get && strcmp(path, "/v1/order") == 0)
		return R_GET;
	if (strcmp(method, "DELETE") == 0 && strcmp(path, "/v1/order") == 0)
		return R_CANCEL;
	if (get && strcmp(path, "/v1/orders/open") == 0)
		return R_OPEN;
	if (get && strcmp(path, "/v1/orders/closed") == 0)
		return R_CLOSED;
	if (get && strcmp(path, "/v1/orders/uuids") == 0)
		return R_UUIDS;
	return R_NONE;
}

int routes_exchange(struct sim *s, struct sim_request *rq, struct sim_reply *rp)
{
	enum route r = find_route(rq->method, rq->path);
	struct auth_error aerr;
	json_t *body = NULL;
	char *hash_input = NULL;
	int account;

	if (r == R_NONE)
		return -1;
	if (r == R_CREATE || r == R_TEST) {
		json_error_t jerr;

		body = rq->body_len ? json_loadb(rq->body, rq->body_len, 0, &jerr) : NULL;
		if (!json_is_object(body)) {
			json_decref(body);
			reply_error(rp, 400, "validation_error",
				    "the request body must be a JSON object");
			return 0;
		}
		hash_input = query_hash_input_json(body);
		if (!hash_input) {
			json_decref(body);
			reply_error(rp, 500, "server_error", "out of memory");
			return 0;
		}
	}
	account =
		auth_check(s, rq->authorization, hash_input ? hash_input : rq->q.hash_input, &aerr);
	free(hash_input);
	if (account < 0) {
		if (body) {
			const char *id = json_string_value(json_object_get(body, "identifier"));

			if (id)
				snprintf(rp->identifier, sizeof(rp->identifier), "%s", id);
		}
		json_decref(body);
		reply_error(rp, aerr.status, aerr.name, aerr.message);
		return 0;
	}
	switch (r) {
	case R_ACCOUNTS:
		reply_json(rp, 200, accounts_json(s, account));
		break;
	case R_CHANCE:
		route_chance(s, rq, rp, account);
		break;
	case R_CREATE:
	case R_TEST:
		route_create(s, rq, rp, account, body, r == R_TEST);
		break;
	case R_GET: {
		struct sim_order *o = lookup(s, rq, rp, account);

		if (o)
			reply_json(rp, 200, order_json(s, o, 1));
		break;
	}
	case R_CANCEL: {
		struct sim_order *o = lookup(s, rq, rp, account);

		/* Upbit accepts the cancel and answers the order as it stands: still "wait". */
		if (o && order_request_cancel(o) < 0)
			reply_error(rp, 404, "order_not_found", "주문을 찾지 못했습니다.");
		else if (o)
			reply_json(rp, 200, order_json(s, o, 0));
		break;
	}
	case R_OPEN:
		route_list(s, rq, rp, account, 0);
		break;
	case R_CLOSED:
		route_list(s, rq, rp, account, 1);
		break;
	case R_UUIDS:
		route_uuids(s, rq, rp, account);
		break;
	case R_NONE:
		break;
	}
	json_decref(body);
	return 0;
}
