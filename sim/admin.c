/* The simulator's own control API under /_sim/: faults, network down/up, the request log,
 * full candle history, orders with per-identifier counts, accounts, prices, limiter reset. */
#include "sim/sim_state.h"

#include "common/clock.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

static json_t *body_json(struct sim_request *rq, struct sim_reply *rp)
{
	json_t *j = rq->body_len ? json_loadb(rq->body, rq->body_len, 0, NULL) : json_object();

	if (!json_is_object(j)) {
		json_decref(j);
		reply_error(rp, 400, "invalid_body", "the body must be a JSON object");
		return NULL;
	}
	return j;
}

static void faults_route(struct sim *s, struct sim_request *rq, struct sim_reply *rp)
{
	char err[160];
	json_t *b;
	int n;

	if (strcmp(rq->method, "GET") == 0) {
		reply_json(rp, 200, faults_json(&s->faults));
	} else if (strcmp(rq->method, "DELETE") == 0) {
		/* Clearing faults also releases held requests and brings the network back up. */
		faults_clear(&s->faults);
		if (s->network_down)
			http_network_set(s, 0, 0);
		pthread_cond_broadcast(&s->wake);
		log_notice("faults cleared");
		reply_json(rp, 200, faults_json(&s->faults));
	} else if (strcmp(rq->method, "POST") == 0) {
		if (!(b = body_json(rq, rp)))
			return;
		n = faults_add_json(&s->faults, b, clock_real_ms(), err, sizeof(err));
		json_decref(b);
		if (n < 0) {
			reply_error(rp, 400, "invalid_fault", err);
			return;
		}
		log_notice("%d fault rule(s) added", n);
		reply_json(rp, 201, faults_json(&s->faults));
	} else {
		reply_error(rp, 405, "method_not_allowed", "GET, POST or DELETE");
	}
}

static json_t *network_json(const struct sim *s)
{
	return json_pack("{s:s,s:I}", "state", s->network_down ? "down" : "up", "up_in_ms",
			 (json_int_t)(s->network_down && s->network_up_at
					      ? s->network_up_at - clock_real_ms()
					      : 0));
}

static void network_route(struct sim *s, struct sim_request *rq, struct sim_reply *rp)
{
	const char *state;
	json_t *b;
	int64_t ms;

	if (strcmp(rq->method, "GET") == 0) {
		reply_json(rp, 200, network_json(s));
		return;
	}
	if (strcmp(rq->method, "POST") != 0) {
		reply_error(rp, 405, "method_not_allowed", "GET or POST");
		return;
	}
	if (!(b = body_json(rq, rp)))
		return;
	state = json_string_value(json_object_get(b, "state"));
	ms = json_integer_value(json_object_get(b, "ms"));
	if (!state || (strcmp(state, "down") && strcmp(state, "up")) || ms < 0) {
		json_decref(b);
		reply_error(rp, 400, "invalid_body", "want {\"state\":\"down\"|\"up\"[,\"ms\":N]}");
		return;
	}
	if (http_network_set(s, strcmp(state, "down") == 0, ms) < 0) {
		json_decref(b);
		reply_error(rp, 500, "network_error", "the API port did not change state");
		return;
	}
	json_decref(b);
	reply_json(rp, 200, network_json(s));
}

static void candles_route(struct sim *s, struct sim_request *rq, struct sim_reply *rp)
{
	const char *market = query_get(&rq->q, "market"), *u = query_get(&rq->q, "unit");
	int mi = market ? sim_market_index(s, market) : -1;
	int unit = u ? (strcmp(u, "days") == 0 ? 0 : atoi(u)) : 1;
	struct sim_market *m;
	struct sim_candle *out;
	int64_t *starts;
	size_t cap, n, i;
	json_t *arr;

	if (mi < 0 || unit < 0 || unit > 1440) {
		reply_error(rp, 400, "invalid_parameter", "want market=KRW-...&unit=1..1440|days");
		return;
	}
	m = &s->markets[mi];
	cap = unit ? m->minutes.count / (size_t)unit + 3 : m->days.count + 2;
	out = malloc(cap * sizeof(*out));
	starts = malloc(cap * sizeof(*starts));
	if (!out || !starts) {
		free(out);
		free(starts);
		reply_error(rp, 500, "server_error", "out of memory");
		return;
	}
	n = candles_query(m, unit, clock_now_ms() + 1, cap, out, starts);
	arr = json_array();
	/* Oldest first: the natural order to compare against a stored table. */
	for (i = n; i-- > 0;)
		json_array_append_new(arr, candle_json(m, unit, starts[i], &out[i],
						       i + 1 < n ? out[i + 1].close : out[i].open));
	free(out);
	free(starts);
	reply_json(rp, 200,
		   json_pack("{s:s,s:i,s:I,s:o}", "market", m->code, "unit", unit, "clock_ms",
			     (json_int_t)clock_now_ms(), "candles", arr));
}

static void accounts_route(struct sim *s, struct sim_reply *rp)
{
	json_t *arr = json_array();
	int i, k;

	for (i = 0; i < s->naccounts; i++) {
		json_t *assets = json_array();

		json_array_append_new(assets, asset_json("KRW", &s->accounts[i].krw));
		for (k = 0; k < s->nmarkets; k++)
			if (s->accounts[i].coins[k].balance > 0 ||
			    s->accounts[i].coins[k].locked > 0)
				json_array_append_new(assets, asset_json(s->markets[k].base,
									 &s->accounts[i].coins[k]));
		json_array_append_new(arr, json_pack("{s:s,s:o}", "access_key",
						     s->accounts[i].access_key, "assets", assets));
	}
	reply_json(rp, 200, json_pack("{s:o}", "accounts", arr));
}

/* Steers a market's walk so tests can make a resting order fill (or not) on purpose. */
/* "trade": true: a trade at the new price now, shown by the next engine tick, instead of
 * waiting for the minute's next generated one (benchmarks steer prices across a level with
 * it). 0 when this minute has no room or the engine has not reached this minute yet. */
static int add_trade_now(struct sim_market *m, double price)
{
	int64_t now = clock_now_ms();

	if (m->nticks >= SIM_MAX_TICKS || m->cur_min != now / 60000)
		return 0;
	memmove(&m->ticks[m->visible + 1], &m->ticks[m->visible],
		(size_t)(m->nticks - m->visible) * sizeof(m->ticks[0]));
	m->ticks[m->visible].ms = now;
	m->ticks[m->visible].price = round_to_tick(price);
	m->ticks[m->visible].volume = round8(1e6 / m->ticks[m->visible].price);
	m->nticks++;
	return 1;
}

static void price_route(struct sim *s, struct sim_request *rq, struct sim_reply *rp)
{
	json_t *b = body_json(rq, rp);
	const char *market;
	double price;
	int mi, trade;

	if (!b)
		return;
	market = json_string_value(json_object_get(b, "market"));
	mi = market ? sim_market_index(s, market) : -1;
	if (mi < 0 || dec_parse_json(json_object_get(b, "price"), &price) < 0 || price <= 0) {
		json_decref(b);
		reply_error(rp, 400, "invalid_body", "want {\"market\":\"KRW-...\",\"price\":N}");
		return;
	}
	trade = json_is_true(json_object_get(b, "trade"));
	json_decref(b); /* market pointed into b: use s->markets[mi].code from here on */
	s->markets[mi].walk = price;
	/* Trades of this minute not yet shown move too, so the change is seen at the next one. */
	for (int k = s->markets[mi].visible; k < s->markets[mi].nticks; k++)
		s->markets[mi].ticks[k].price = round_to_tick(price);
	if (trade)
		trade = add_trade_now(&s->markets[mi], price);
	reply_json(rp, 200,
		   json_pack("{s:s,s:f,s:b}", "market", s->markets[mi].code, "walk", price, "trade",
			     trade));
}

int admin_handle(struct sim *s, struct sim_request *rq, struct sim_reply *rp)
{
	const char *p = rq->path;
	int get = strcmp(rq->method, "GET") == 0;

	if (strcmp(p, "/_sim/faults") == 0) {
		faults_route(s, rq, rp);
	} else if (strcmp(p, "/_sim/network") == 0) {
		network_route(s, rq, rp);
	} else if (get && strcmp(p, "/_sim/requests") == 0) {
		const char *since = query_get(&rq->q, "since"), *limit = query_get(&rq->q, "limit");
		long long lim = limit ? atoll(limit) : 100000;

		reply_json(rp, 200,
			   recorder_json(&s->rec, since ? strtoull(since, NULL, 10) : 0,
					 lim > 0 ? (size_t)lim : 100000,
					 query_get(&rq->q, "group")));
	} else if (get && strcmp(p, "/_sim/candles") == 0) {
		candles_route(s, rq, rp);
	} else if (get && strcmp(p, "/_sim/orders") == 0) {
		reply_json(rp, 200, orders_admin_json(s));
	} else if (get && strcmp(p, "/_sim/accounts") == 0) {
		accounts_route(s, rp);
	} else if (strcmp(rq->method, "POST") == 0 && strcmp(p, "/_sim/price") == 0) {
		price_route(s, rq, rp);
	} else if (strcmp(rq->method, "DELETE") == 0 && strcmp(p, "/_sim/ratelimit") == 0) {
		rl_reset(&s->rl);
		reply_json(rp, 200, json_pack("{s:b}", "ok", 1));
	} else if (get && strcmp(p, "/_sim/health") == 0) {
		reply_json(rp, 200,
			   json_pack("{s:b,s:i,s:i,s:I,s:f,s:i,s:s}", "ok", 1, "port", s->main_port,
				     "admin_port", s->admin_port, "clock_ms",
				     (json_int_t)clock_now_ms(), "clock_rate", clock_rate(),
				     "markets", s->nmarkets, "network",
				     s->network_down ? "down" : "up"));
	} else {
		return -1;
	}
	return 0;
}
