/* Parsers for the exchange (private) endpoints: /accounts, /orders/chance and orders. Amounts
 * are decimal strings, kept as text and checked for syntax and sign. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "upbit_parse_util.h"

#define AMOUNT PU_NONNEG

void upbit_order_clear(struct upbit_order *o)
{
	free(o->trades);
	o->trades = NULL;
	o->n_trades = 0;
}

void upbit_orders_free(struct upbit_order *orders, size_t n)
{
	for (size_t i = 0; i < n; i++)
		upbit_order_clear(&orders[i]);
	free(orders);
}

static int parse_account_obj(json_t *item, void *dst, struct pctx *c)
{
	struct upbit_account *a = dst;

	if (pu_currency(item, "currency", a->currency, c) < 0 ||
	    pu_decimal(item, "balance", AMOUNT, &a->balance, c) < 0 ||
	    pu_decimal(item, "locked", AMOUNT, &a->locked, c) < 0 ||
	    pu_decimal(item, "avg_buy_price", AMOUNT | PU_PRICE, &a->avg_buy_price, c) < 0 ||
	    pu_bool(item, "avg_buy_price_modified", PU_OPTIONAL, &a->avg_buy_price_modified, c) <
		    0 ||
	    pu_currency(item, "unit_currency", a->unit_currency, c) < 0)
		return c->e->code;
	return 0;
}

int upbit_parse_accounts(const char *body, size_t len, const struct upbit_parse_opts *o,
			 struct upbit_account **out, size_t *n, struct upbit_parse_error *err)
{
	return pu_parse_list(body, len, o, err, sizeof(**out), UPBIT_LIST_MAX, parse_account_obj,
			     NULL, (void **)out, n);
}

static json_t *sub_object(json_t *obj, const char *key, struct pctx *c)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return pu_fail(c, UPBIT_PARSE_MISSING, key, "missing"), NULL;
	if (!json_is_object(v))
		return pu_fail(c, UPBIT_PARSE_TYPE, key, "not an object"), NULL;
	return v;
}

/* A fee is a fraction: 0.0005 on KRW markets; anything at or above 1 is nonsense. */
static int check_fee(const struct upbit_dec *d, const char *key, struct pctx *c)
{
	if (d->present && d->value >= 1.0)
		return pu_fail(c, UPBIT_PARSE_RANGE, key, "fee %s", d->text);
	return 0;
}

int upbit_parse_chance(const char *body, size_t len, const struct upbit_parse_opts *o,
		       struct upbit_chance *out, struct upbit_parse_error *err)
{
	static const char *const states[] = {"active", "inactive", "delisted", "suspended", NULL};
	struct upbit_parse_error scratch;
	struct pctx c;
	json_t *root, *market, *bid, *ask, *bid_acc, *ask_acc;
	int rc = -1;

	pu_begin(&c, o, err, &scratch);
	memset(out, 0, sizeof(*out));
	root = pu_load(body, len, &c);
	if (!root)
		return c.e->code;
	if (!json_is_object(root)) {
		rc = pu_fail(&c, UPBIT_PARSE_SHAPE, NULL, "not an object");
		goto out;
	}
	if (pu_decimal(root, "bid_fee", AMOUNT, &out->bid_fee, &c) < 0 ||
	    pu_decimal(root, "ask_fee", AMOUNT, &out->ask_fee, &c) < 0 ||
	    pu_decimal(root, "maker_bid_fee", AMOUNT | PU_OPTIONAL, &out->maker_bid_fee, &c) < 0 ||
	    pu_decimal(root, "maker_ask_fee", AMOUNT | PU_OPTIONAL, &out->maker_ask_fee, &c) < 0 ||
	    check_fee(&out->bid_fee, "bid_fee", &c) < 0 ||
	    check_fee(&out->ask_fee, "ask_fee", &c) < 0 ||
	    check_fee(&out->maker_bid_fee, "maker_bid_fee", &c) < 0 ||
	    check_fee(&out->maker_ask_fee, "maker_ask_fee", &c) < 0)
		goto fail;
	if (!(market = sub_object(root, "market", &c)) || !(bid = sub_object(market, "bid", &c)) ||
	    !(ask = sub_object(market, "ask", &c)) ||
	    !(bid_acc = sub_object(root, "bid_account", &c)) ||
	    !(ask_acc = sub_object(root, "ask_account", &c)))
		goto fail;
	if (pu_market(market, "id", out->market, &c) < 0 ||
	    pu_enum(market, "state", states, out->state, sizeof(out->state), &c) < 0 ||
	    pu_decimal(market, "max_total", AMOUNT | PU_NUMBER_OK, &out->max_total, &c) < 0 ||
	    pu_currency(bid, "currency", out->bid_currency, &c) < 0 ||
	    pu_currency(ask, "currency", out->ask_currency, &c) < 0 ||
	    pu_decimal(bid, "min_total", AMOUNT | PU_NUMBER_OK, &out->bid_min_total, &c) < 0 ||
	    pu_decimal(ask, "min_total", AMOUNT | PU_NUMBER_OK, &out->ask_min_total, &c) < 0 ||
	    parse_account_obj(bid_acc, &out->bid_account, &c) < 0 ||
	    parse_account_obj(ask_acc, &out->ask_account, &c) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	rc = c.e->code;
out:
	json_decref(root);
	return rc;
}

static int uuid_valid(const char *s)
{
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return s[36] == '\0';
}

static int pu_uuid(json_t *obj, const char *key, char *buf, struct pctx *c)
{
	if (pu_string(obj, key, 0, buf, UPBIT_UUID_LEN, c) < 0)
		return c->e->code;
	if (!uuid_valid(buf))
		return pu_fail(c, UPBIT_PARSE_RANGE, key, "not a uuid");
	return 0;
}

static const char *const sides[] = {"bid", "ask", NULL};

static int parse_trade(json_t *item, struct upbit_trade *t, struct pctx *c)
{
	if (pu_market(item, "market", t->market, c) < 0 || pu_uuid(item, "uuid", t->uuid, c) < 0 ||
	    pu_decimal(item, "price", PU_POSITIVE | PU_PRICE, &t->price, c) < 0 ||
	    pu_decimal(item, "volume", AMOUNT, &t->volume, c) < 0 ||
	    pu_decimal(item, "funds", AMOUNT, &t->funds, c) < 0 ||
	    pu_enum(item, "side", sides, t->side, sizeof(t->side), c) < 0 ||
	    pu_iso_time(item, "created_at", 0, 0, &t->created_ms, c) < 0)
		return c->e->code;
	return 0;
}

static int parse_order_obj(json_t *item, void *dst, struct pctx *c)
{
	static const char *const types[] = {"limit", "price", "market", "best", NULL};
	static const char *const states[] = {"wait", "watch", "done", "cancel", NULL};
	struct upbit_order *o = dst;
	json_t *trades = json_object_get(item, "trades");

	if (pu_uuid(item, "uuid", o->uuid, c) < 0 ||
	    pu_string(item, "identifier", PU_OPTIONAL, o->identifier, sizeof(o->identifier), c) <
		    0 ||
	    pu_market(item, "market", o->market, c) < 0 ||
	    pu_enum(item, "side", sides, o->side, sizeof(o->side), c) < 0 ||
	    pu_enum(item, "ord_type", types, o->ord_type, sizeof(o->ord_type), c) < 0 ||
	    pu_enum(item, "state", states, o->state, sizeof(o->state), c) < 0 ||
	    pu_string(item, "time_in_force", PU_OPTIONAL, o->time_in_force,
		      sizeof(o->time_in_force), c) < 0 ||
	    pu_iso_time(item, "created_at", 0, 0, &o->created_ms, c) < 0 ||
	    pu_decimal(item, "price", PU_OPTIONAL | PU_POSITIVE | PU_PRICE, &o->price, c) < 0 ||
	    pu_decimal(item, "volume", PU_OPTIONAL | AMOUNT, &o->volume, c) < 0 ||
	    pu_decimal(item, "avg_price", PU_OPTIONAL | AMOUNT | PU_PRICE, &o->avg_price, c) < 0 ||
	    pu_decimal(item, "remaining_volume", PU_OPTIONAL | AMOUNT, &o->remaining_volume, c) <
		    0 ||
	    pu_decimal(item, "reserved_fee", AMOUNT, &o->reserved_fee, c) < 0 ||
	    pu_decimal(item, "remaining_fee", AMOUNT, &o->remaining_fee, c) < 0 ||
	    pu_decimal(item, "paid_fee", AMOUNT, &o->paid_fee, c) < 0 ||
	    pu_decimal(item, "locked", AMOUNT, &o->locked, c) < 0 ||
	    pu_decimal(item, "executed_volume", AMOUNT, &o->executed_volume, c) < 0 ||
	    pu_decimal(item, "executed_funds", PU_OPTIONAL | AMOUNT, &o->executed_funds, c) < 0 ||
	    pu_integer(item, "trades_count", PU_NONNEG, &o->trades_count, c) < 0)
		return c->e->code;
	/* What each order type must carry (UPBIT_API.md section 2.3). */
	if (strcmp(o->ord_type, "limit") == 0 && (!o->price.present || !o->volume.present))
		return pu_fail(c, UPBIT_PARSE_MISSING, "price", "limit order without price/volume");
	if (strcmp(o->ord_type, "price") == 0 && !o->price.present)
		return pu_fail(c, UPBIT_PARSE_MISSING, "price", "price order without price");
	if (strcmp(o->ord_type, "market") == 0 && !o->volume.present)
		return pu_fail(c, UPBIT_PARSE_MISSING, "volume", "market order without volume");
	if (trades && !json_is_null(trades)) {
		size_t n;

		if (!json_is_array(trades))
			return pu_fail(c, UPBIT_PARSE_TYPE, "trades", "not an array");
		n = json_array_size(trades);
		if (n > 10000)
			return pu_fail(c, UPBIT_PARSE_COUNT, "trades", "%zu trades", n);
		if (n == 0)
			return 0;
		o->trades = calloc(n, sizeof(*o->trades));
		if (!o->trades)
			return pu_fail(c, UPBIT_PARSE_NOMEM, "trades", "out of memory");
		o->n_trades = n;
		for (size_t i = 0; i < n; i++) {
			json_t *t = json_array_get(trades, i);

			if (!json_is_object(t))
				return pu_fail(c, UPBIT_PARSE_TYPE, "trades", "not an object");
			if (parse_trade(t, &o->trades[i], c) < 0)
				return c->e->code;
			if (strcmp(o->trades[i].market, o->market) != 0)
				return pu_fail(c, UPBIT_PARSE_MARKET, "trades",
					       "trade market differs from the order's");
		}
	}
	return 0;
}

static void clear_order(void *p)
{
	upbit_order_clear(p);
}

int upbit_parse_order(const char *body, size_t len, const struct upbit_parse_opts *o,
		      struct upbit_order *out, struct upbit_parse_error *err)
{
	struct upbit_parse_error scratch;
	struct pctx c;
	json_t *root;
	int rc;

	pu_begin(&c, o, err, &scratch);
	memset(out, 0, sizeof(*out));
	root = pu_load(body, len, &c);
	if (!root)
		return c.e->code;
	if (!json_is_object(root))
		rc = pu_fail(&c, UPBIT_PARSE_SHAPE, NULL, "not an object");
	else if ((rc = parse_order_obj(root, out, &c)) < 0)
		upbit_order_clear(out);
	json_decref(root);
	return rc < 0 ? c.e->code : 0;
}

int upbit_parse_orders(const char *body, size_t len, const struct upbit_parse_opts *o,
		       struct upbit_order **out, size_t *n, struct upbit_parse_error *err)
{
	return pu_parse_list(body, len, o, err, sizeof(**out), UPBIT_LIST_MAX, parse_order_obj,
			     clear_order, (void **)out, n);
}
