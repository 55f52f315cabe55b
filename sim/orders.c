/* Accounts and orders: Upbit's validation rules (tick grid, 5,000 KRW minimum, funds,
 * unique identifiers), execution against the synthesized book, fills, fees and cancels. */
#include "sim/sim_state.h"

#include "common/clock.h"
#include "common/jwt.h"
#include "common/log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void fmt_kst_iso(int64_t ms, char *buf, size_t len)
{
	char t[32];

	clock_format(ms, 540, t, sizeof(t));
	snprintf(buf, len, "%s+09:00", t);
}

static unsigned ident_bucket(int account, const char *id)
{
	uint32_t h = 2166136261u ^ (uint32_t)account;

	while (*id)
		h = (h ^ (unsigned char)*id++) * 16777619u;
	return h % IDENT_BUCKETS;
}

static struct ident_entry *ident_find(struct order_book_keeper *k, int account, const char *id)
{
	struct ident_entry *e;

	for (e = k->ident[ident_bucket(account, id)]; e; e = e->next)
		if (e->account == account && strcmp(e->identifier, id) == 0)
			return e;
	return NULL;
}

static struct ident_entry *ident_add(struct order_book_keeper *k, int account, const char *id)
{
	unsigned b = ident_bucket(account, id);
	struct ident_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->account = account;
	snprintf(e->identifier, sizeof(e->identifier), "%s", id);
	e->next = k->ident[b];
	k->ident[b] = e;
	k->nident++;
	return e;
}

void order_destroy(struct sim_order *o)
{
	if (o) {
		free(o->fills);
		free(o);
	}
}

void orders_free(struct order_book_keeper *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		order_destroy(k->all[i]);
	free(k->all);
	free(k->open);
	for (i = 0; i < IDENT_BUCKETS; i++) {
		while (k->ident[i]) {
			struct ident_entry *e = k->ident[i];

			k->ident[i] = e->next;
			free(e);
		}
	}
	memset(k, 0, sizeof(*k));
}

static int set_err(struct order_error *err, int status, const char *name, const char *message)
{
	err->status = status;
	snprintf(err->name, sizeof(err->name), "%s", name);
	snprintf(err->message, sizeof(err->message), "%s", message);
	return -1;
}

static int has(json_t *v)
{
	return v && !json_is_null(v);
}

static int keeper_store(struct order_book_keeper *k, struct sim_order *o)
{
	if (k->n >= k->max)
		return -1;
	if (k->n == k->cap) {
		size_t nc = k->cap ? k->cap * 2 : 256;
		struct sim_order **na = realloc(k->all, nc * sizeof(*na));
		struct sim_order **no;

		if (!na)
			return -1;
		k->all = na;
		no = realloc(k->open, nc * sizeof(*no));
		if (!no)
			return -1;
		k->open = no;
		k->cap = nc;
	}
	k->all[k->n++] = o;
	k->open[k->nopen++] = o;
	return 0;
}

static void open_remove(struct order_book_keeper *k, struct sim_order *o)
{
	size_t i;

	for (i = 0; i < k->nopen; i++) {
		if (k->open[i] == o) {
			memmove(&k->open[i], &k->open[i + 1],
				(k->nopen - i - 1) * sizeof(k->open[0]));
			k->nopen--;
			return;
		}
	}
}

/* One execution: moves funds between the account's KRW and coin, charges the fee in KRW. */
static void order_fill(struct sim *s, struct sim_order *o, double price, double volume)
{
	struct sim_account *a = &s->accounts[o->account];
	struct sim_asset *coin = &a->coins[o->market];
	double funds = round8(price * volume), fee = round8(funds * SIM_FEE);
	struct sim_fill *f;

	if (volume <= 0)
		return;
	if (o->side == SIDE_BID) {
		double qty = coin->balance + coin->locked, cost = round8(funds + fee);

		a->krw.locked = round8(a->krw.locked - cost);
		o->locked = round8(o->locked - cost);
		coin->avg_buy_price = round8((coin->avg_buy_price * qty + funds) / (qty + volume));
		coin->balance = round8(coin->balance + volume);
	} else {
		coin->locked = round8(coin->locked - volume);
		o->locked = round8(o->locked - volume);
		a->krw.balance = round8(a->krw.balance + funds - fee);
		if (coin->balance + coin->locked <= 0)
			coin->avg_buy_price = 0;
	}
	o->executed_volume = round8(o->executed_volume + volume);
	o->executed_funds = round8(o->executed_funds + funds);
	o->paid_fee = round8(o->paid_fee + fee);
	if (o->volume >= 0)
		o->remaining_volume = round8(o->remaining_volume - volume);
	if (o->type == ORD_LIMIT && o->side == SIDE_BID)
		o->remaining_fee = round8(o->price * o->remaining_volume * SIM_FEE);
	if (o->nfills == o->fills_cap) {
		size_t nc = o->fills_cap ? o->fills_cap * 2 : 4;
		struct sim_fill *nf = realloc(o->fills, nc * sizeof(*nf));

		if (!nf)
			return; /* the fill happened; only its detail row is lost */
		o->fills = nf;
		o->fills_cap = nc;
	}
	f = &o->fills[o->nfills++];
	if (uuid4(f->uuid) < 0)
		snprintf(f->uuid, sizeof(f->uuid), "00000000-0000-4000-8000-%012zu", o->nfills);
	f->price = price;
	f->volume = volume;
	f->funds = funds;
	f->ms = clock_now_ms();
}

/* Ends the order and gives back what it still held. */
static void order_finish(struct sim *s, struct sim_order *o, enum ord_state st)
{
	struct sim_account *a = &s->accounts[o->account];
	struct sim_asset *held = o->side == SIDE_BID ? &a->krw : &a->coins[o->market];

	held->locked = round8(held->locked - o->locked);
	held->balance = round8(held->balance + o->locked);
	if (held->locked < 0)
		held->locked = 0;
	o->locked = 0;
	o->remaining_fee = 0;
	o->state = st;
	o->closed_ms = clock_now_ms();
	open_remove(&s->orders, o);
}

/* Takes liquidity from the book up to limit (0: any price), returns the volume filled.
 * budget_krw > 0 spends a KRW total instead of a volume. dry_run only measures. */
static double take_book(struct sim *s, struct sim_order *o, double limit, double volume,
			double budget_krw, int levels, int dry_run)
{
	struct book_level book[SIM_BOOK_LEVELS];
	struct sim_market *m = &s->markets[o->market];
	int by_budget = budget_krw > 0;
	double filled = 0;
	int i;

	book_build(m, clock_now_ms(), book);
	for (i = 0; i < levels && i < SIM_BOOK_LEVELS; i++) {
		double px = o->side == SIDE_BID ? book[i].ask_price : book[i].bid_price;
		double size = o->side == SIDE_BID ? book[i].ask_size : book[i].bid_size;
		double v;

		if (px <= 0 || (limit > 0 && (o->side == SIDE_BID ? px > limit : px < limit)))
			break;
		/* The fee is reserved on top of a KRW total, so the whole total buys coin. */
		v = by_budget ? floor8(budget_krw / px) : volume - filled;
		if (v > size)
			v = size;
		v = round8(v);
		if (v <= 0)
			break;
		if (by_budget)
			budget_krw = round8(budget_krw - round8(px * v));
		if (!dry_run)
			order_fill(s, o, px, v);
		filled = round8(filled + v);
		if (!by_budget && filled >= volume)
			break;
	}
	return filled;
}

static int parse_enum(const char *s, const char *const *names, int n)
{
	int i;

	for (i = 0; s && i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static void execute_new(struct sim *s, struct sim_order *o)
{
	struct book_level book[SIM_BOOK_LEVELS];
	double total = o->price;

	book_build(&s->markets[o->market], clock_now_ms(), book);
	switch (o->type) {
	case ORD_LIMIT: {
		int crosses = o->side == SIDE_BID ? o->price >= book[0].ask_price
						  : o->price <= book[0].bid_price;

		if (o->tif == TIF_POST_ONLY && crosses) {
			order_finish(s, o, ST_CANCEL);
			return;
		}
		if (o->tif == TIF_FOK &&
		    take_book(s, o, o->price, o->volume, 0, SIM_BOOK_LEVELS, 1) < o->volume) {
			order_finish(s, o, ST_CANCEL);
			return;
		}
		if (crosses)
			take_book(s, o, o->price, o->volume, 0, SIM_BOOK_LEVELS, 0);
		if (o->remaining_volume <= 0)
			order_finish(s, o, ST_DONE);
		else if (o->tif == TIF_IOC || o->tif == TIF_FOK)
			order_finish(s, o, ST_CANCEL);
		return;
	}
	case ORD_PRICE:
		take_book(s, o, 0, 0, total, SIM_BOOK_LEVELS, 0);
		/* A refunded remainder (amounts have 8 decimals) makes a market buy end in cancel. */
		order_finish(s, o, o->locked > 0 ? ST_CANCEL : ST_DONE);
		return;
	case ORD_MARKET:
		take_book(s, o, 0, o->volume, 0, SIM_BOOK_LEVELS, 0);
		order_finish(s, o, o->remaining_volume <= 0 ? ST_DONE : ST_CANCEL);
		return;
	case ORD_BEST:
		/* The best opposing price is the limit; only that level is taken. */
		if (o->side == SIDE_BID) {
			double want = floor8(total / book[0].ask_price);

			if (o->tif == TIF_FOK && want > book[0].ask_size) {
				order_finish(s, o, ST_CANCEL);
				return;
			}
			take_book(s, o, book[0].ask_price, 0, total, 1, 0);
			order_finish(s, o, o->locked > 0 ? ST_CANCEL : ST_DONE);
		} else {
			if (o->tif == TIF_FOK && o->volume > book[0].bid_size) {
				order_finish(s, o, ST_CANCEL);
				return;
			}
			take_book(s, o, book[0].bid_price, o->volume, 0, 1, 0);
			order_finish(s, o, o->remaining_volume <= 0 ? ST_DONE : ST_CANCEL);
		}
		return;
	}
}

static const char *const side_names[] = {"bid", "ask"};
static const char *const type_names[] = {"limit", "price", "market", "best"};
static const char *const tif_names[] = {"", "ioc", "fok", "post_only"};

struct sim_order *order_place(struct sim *s, const struct order_request *rq, int test_only,
			      struct order_error *err)
{
	struct order_book_keeper *k = &s->orders;
	struct sim_account *a = &s->accounts[rq->account];
	struct ident_entry *ie = NULL;
	struct book_level book[SIM_BOOK_LEVELS];
	struct sim_order *o;
	int market, side, type, tif = TIF_NONE;
	double price = -1, volume = -1, total, need;
	const char *sfx;

	if (rq->identifier) {
		if (!*rq->identifier || strlen(rq->identifier) > SIM_IDENT_MAX) {
			set_err(err, 400, "validation_error",
				"identifier does not have a valid value");
			return NULL;
		}
		ie = ident_find(k, rq->account, rq->identifier);
		if (ie) {
			if (!test_only)
				ie->attempts++;
			set_err(err, 400, s->cfg.dup_ident_error,
				"identifier already used; identifiers are unique per account "
				"forever");
			return NULL;
		}
		/* Upbit burns the identifier even when the order is then refused. */
		if (!test_only) {
			if (k->nident >= k->max) {
				set_err(err, 503, "server_error",
					"simulator identifier table full");
				return NULL;
			}
			ie = ident_add(k, rq->account, rq->identifier);
			if (!ie) {
				set_err(err, 500, "server_error", "out of memory");
				return NULL;
			}
			ie->attempts = 1;
		}
	}
	market = rq->market ? sim_market_index(s, rq->market) : -1;
	if (market < 0) {
		set_err(err, 400, "validation_error", "market does not have a valid value");
		return NULL;
	}
	side = parse_enum(rq->side, side_names, 2);
	if (side < 0) {
		set_err(err, 400, "validation_error",
			"side is missing, side does not have a valid value");
		return NULL;
	}
	sfx = side == SIDE_BID ? "bid" : "ask";
	type = parse_enum(rq->ord_type, type_names, 4);
	if (type < 0) {
		set_err(err, 400, "validation_error",
			"ord_type is missing, ord_type does not have a valid value");
		return NULL;
	}
	if (rq->time_in_force && (tif = parse_enum(rq->time_in_force, tif_names, 4)) <= 0) {
		set_err(err, 400, "validation_error", "time_in_force does not have a valid value");
		return NULL;
	}
	if ((tif == TIF_POST_ONLY && type != ORD_LIMIT) ||
	    ((tif == TIF_IOC || tif == TIF_FOK) && type != ORD_LIMIT && type != ORD_BEST) ||
	    (type == ORD_BEST && tif != TIF_IOC && tif != TIF_FOK)) {
		set_err(err, 400, "validation_error", "time_in_force does not fit ord_type");
		return NULL;
	}
	if ((type == ORD_PRICE && side != SIDE_BID) || (type == ORD_MARKET && side != SIDE_ASK)) {
		set_err(err, 400, side == SIDE_BID ? "create_bid_error" : "create_ask_error",
			"ord_type does not fit side");
		return NULL;
	}
	/* Which of price and volume each type takes (the other must be absent or null). */
	{
		int want_price = type == ORD_LIMIT ||
				 ((type == ORD_PRICE || type == ORD_BEST) && side == SIDE_BID);
		int want_volume = type == ORD_LIMIT ||
				  ((type == ORD_MARKET || type == ORD_BEST) && side == SIDE_ASK);

		if ((!want_price && has(rq->price)) || (!want_volume && has(rq->volume))) {
			set_err(err, 400,
				side == SIDE_BID ? "create_bid_error" : "create_ask_error",
				!want_price ? "price must not be given for this ord_type"
					    : "volume must not be given for this ord_type");
			return NULL;
		}
		if (want_price && (dec_parse_json(rq->price, &price) < 0 || price <= 0)) {
			set_err(err, 400, "validation_error",
				"price is missing, price does not have a valid value");
			return NULL;
		}
		if (want_volume && (dec_parse_json(rq->volume, &volume) < 0 || volume <= 0)) {
			set_err(err, 400, "validation_error",
				"volume is missing, volume does not have a valid value");
			return NULL;
		}
	}
	if (volume > 0)
		volume = round8(volume);
	if (type == ORD_LIMIT && !tick_on_grid(price, tick_size_krw(price))) {
		char name[32];

		snprintf(name, sizeof(name), "invalid_price_%s", sfx);
		set_err(err, 400, name,
			"주문가격 단위를 잘못 입력하셨습니다. 확인 후 시도해주세요.");
		return NULL;
	}
	book_build(&s->markets[market], clock_now_ms(), book);
	if (type == ORD_LIMIT)
		total = price * volume;
	else if (side == SIDE_BID)
		total = price;
	else
		total = volume * book[0].bid_price;
	if (total < SIM_MIN_TOTAL) {
		char name[32];

		snprintf(name, sizeof(name), "under_min_total_%s", sfx);
		set_err(err, 400, name, "최소주문금액 이상으로 주문해주세요");
		return NULL;
	}
	need = side == SIDE_BID ? round8(total * (1 + SIM_FEE)) : volume;
	if (side == SIDE_BID ? a->krw.balance < need : a->coins[market].balance < need) {
		char name[32];

		snprintf(name, sizeof(name), "insufficient_funds_%s", sfx);
		set_err(err, 400, name,
			side == SIDE_BID ? "주문가능한 금액(KRW)이 부족합니다."
					 : "매도가능 수량이 부족합니다.");
		return NULL;
	}
	o = calloc(1, sizeof(*o));
	if (!o || uuid4(o->uuid) < 0) {
		free(o);
		set_err(err, 500, "server_error", "out of memory");
		return NULL;
	}
	if (rq->identifier)
		snprintf(o->identifier, sizeof(o->identifier), "%s", rq->identifier);
	o->account = rq->account;
	o->market = market;
	o->side = (enum ord_side)side;
	o->type = (enum ord_type)type;
	o->tif = (enum ord_tif)tif;
	o->state = ST_WAIT;
	o->price = price;
	o->volume = volume;
	o->remaining_volume = volume > 0 ? volume : 0;
	o->created_ms = clock_now_ms();
	o->reserved_fee = side == SIDE_BID ? round8(total * SIM_FEE) : 0;
	o->remaining_fee = o->reserved_fee;
	o->locked = need;
	if (test_only)
		return o;
	if (keeper_store(k, o) < 0) {
		order_destroy(o);
		set_err(err, 503, "server_error", "simulator order table full");
		return NULL;
	}
	if (side == SIDE_BID) {
		a->krw.balance = round8(a->krw.balance - need);
		a->krw.locked = round8(a->krw.locked + need);
	} else {
		a->coins[market].balance = round8(a->coins[market].balance - need);
		a->coins[market].locked = round8(a->coins[market].locked + need);
	}
	if (ie) {
		ie->created = 1;
		ie->order = o;
	}
	execute_new(s, o);
	return o;
}

struct sim_order *order_find(struct sim *s, int account, const char *uuid, const char *identifier)
{
	size_t i;

	if (identifier) {
		struct ident_entry *e = ident_find(&s->orders, account, identifier);

		return e ? e->order : NULL;
	}
	for (i = s->orders.n; uuid && i-- > 0;) {
		struct sim_order *o = s->orders.all[i];

		if (o->account == account && strcmp(o->uuid, uuid) == 0)
			return o;
	}
	return NULL;
}

int order_request_cancel(struct sim_order *o)
{
	if (o->state != ST_WAIT)
		return -1;
	o->cancel_pending = 1;
	return 0;
}

void orders_apply_cancels(struct sim *s)
{
	size_t i;

	for (i = 0; i < s->orders.nopen; i++) {
		struct sim_order *o = s->orders.open[i];

		if (o->cancel_pending) {
			order_finish(s, o, ST_CANCEL);
			i--; /* order_finish removed it from the open list */
		}
	}
}

void order_match_tick(struct sim *s, struct sim_market *m, const struct sim_tick *t)
{
	size_t i;
	int market = (int)(m - s->markets);

	/* A resting limit order fills in full at its own price once a trade reaches it. */
	for (i = 0; i < s->orders.nopen; i++) {
		struct sim_order *o = s->orders.open[i];

		if (o->market != market || o->type != ORD_LIMIT || o->cancel_pending)
			continue;
		if (o->side == SIDE_BID ? t->price > o->price : t->price < o->price)
			continue;
		order_fill(s, o, o->price, o->remaining_volume);
		order_finish(s, o, ST_DONE);
		i--;
	}
}

static json_t *dec_or_null(double v)
{
	return v < 0 ? json_null() : dec_json(v);
}

json_t *order_json(const struct sim *s, const struct sim_order *o, int with_trades)
{
	static const char *const states[] = {"wait", "done", "cancel"};
	char created[48];
	json_t *j;
	size_t i;

	fmt_kst_iso(o->created_ms, created, sizeof(created));
	j = json_object();
	json_object_set_new(j, "uuid", json_string(o->uuid));
	json_object_set_new(j, "side", json_string(side_names[o->side]));
	json_object_set_new(j, "ord_type", json_string(type_names[o->type]));
	json_object_set_new(j, "price", dec_or_null(o->price));
	json_object_set_new(j, "state", json_string(states[o->state]));
	json_object_set_new(j, "market", json_string(s->markets[o->market].code));
	json_object_set_new(j, "created_at", json_string(created));
	json_object_set_new(j, "volume", dec_or_null(o->volume));
	json_object_set_new(j, "remaining_volume",
			    dec_or_null(o->volume < 0 ? -1 : o->remaining_volume));
	json_object_set_new(j, "reserved_fee", dec_json(o->reserved_fee));
	json_object_set_new(j, "remaining_fee", dec_json(o->remaining_fee));
	json_object_set_new(j, "paid_fee", dec_json(o->paid_fee));
	json_object_set_new(j, "locked", dec_json(o->locked));
	json_object_set_new(j, "executed_volume", dec_json(o->executed_volume));
	json_object_set_new(j, "executed_funds", dec_json(o->executed_funds));
	json_object_set_new(j, "trades_count", json_integer((json_int_t)o->nfills));
	if (o->tif != TIF_NONE)
		json_object_set_new(j, "time_in_force", json_string(tif_names[o->tif]));
	json_object_set_new(j, "identifier",
			    o->identifier[0] ? json_string(o->identifier) : json_null());
	if (with_trades) {
		json_t *arr = json_array();

		for (i = 0; i < o->nfills; i++) {
			const struct sim_fill *f = &o->fills[i];
			char at[48];

			fmt_kst_iso(f->ms, at, sizeof(at));
			json_array_append_new(
				arr, json_pack("{s:s,s:s,s:o,s:o,s:o,s:s,s:s,s:s}", "market",
					       s->markets[o->market].code, "uuid", f->uuid, "price",
					       dec_json(f->price), "volume", dec_json(f->volume),
					       "funds", dec_json(f->funds), "trend",
					       o->side == SIDE_BID ? "up" : "down", "created_at",
					       at, "side", side_names[o->side]));
		}
		json_object_set_new(j, "trades", arr);
	}
	return j;
}

json_t *asset_json(const char *currency, const struct sim_asset *a)
{
	return json_pack("{s:s,s:o,s:o,s:o,s:b,s:s}", "currency", currency, "balance",
			 dec_json(a->balance), "locked", dec_json(a->locked), "avg_buy_price",
			 dec_json(a->avg_buy_price), "avg_buy_price_modified", 0, "unit_currency",
			 "KRW");
}

json_t *orders_admin_json(const struct sim *s)
{
	const struct order_book_keeper *k = &s->orders;
	json_t *orders = json_array(), *idents = json_array();
	size_t i;

	for (i = 0; i < k->n; i++) {
		json_t *o = order_json(s, k->all[i], 1);

		json_object_set_new(o, "access_key",
				    json_string(s->accounts[k->all[i]->account].access_key));
		json_array_append_new(orders, o);
	}
	for (i = 0; i < IDENT_BUCKETS; i++) {
		const struct ident_entry *e;

		for (e = k->ident[i]; e; e = e->next)
			json_array_append_new(idents,
					      json_pack("{s:s,s:s,s:i,s:i}", "access_key",
							s->accounts[e->account].access_key,
							"identifier", e->identifier, "attempts",
							e->attempts, "created", e->created));
	}
	return json_pack("{s:o,s:o,s:I,s:I}", "orders", orders, "identifiers", idents, "count",
			 (json_int_t)k->n, "open", (json_int_t)k->nopen);
}
