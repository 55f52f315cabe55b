/* Unit tests of simulator order handling: validation names, locking with the 0.05% fee,
 * market-buy refunds ending in cancel, resting limit fills, cancels, identifier burning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/sim_state.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static struct sim *make_sim(void)
{
	char *argv[] = {"upbit-sim", "--history-minutes",     "30", "--history-days", "2",
			"--account", "ak:sk:1000000:XRP=100", NULL};
	struct sim_config *cfg = calloc(1, sizeof(*cfg));
	struct sim *s = calloc(1, sizeof(*s));
	char err[256];

	assert_int_equal(sim_config_parse(cfg, 7, argv, err, sizeof(err)), 0);
	assert_int_equal(sim_init(s, cfg, err, sizeof(err)), 0);
	free(cfg);
	return s;
}

static void drop_sim(struct sim *s)
{
	sim_free(s);
	free(s);
}

static struct sim_order *place(struct sim *s, const char *market, const char *side,
			       const char *type, const char *price, const char *volume,
			       const char *ident, struct order_error *err)
{
	struct order_request rq = {.account = 0,
				   .market = market,
				   .side = side,
				   .ord_type = type,
				   .identifier = ident};
	struct sim_order *o;

	rq.price = price ? json_string(price) : NULL;
	rq.volume = volume ? json_string(volume) : NULL;
	o = order_place(s, &rq, 0, err);
	json_decref(rq.price);
	json_decref(rq.volume);
	return o;
}

static void test_validation(void **state)
{
	struct sim *s = make_sim();
	struct order_error err;

	(void)state;
	assert_null(place(s, "KRW-BTC", "bid", "limit", "145000500", "0.001", NULL, &err));
	assert_string_equal(err.name, "invalid_price_bid");
	assert_null(place(s, "KRW-BTC", "bid", "limit", "1000000", "0.004", NULL, &err));
	assert_string_equal(err.name, "under_min_total_bid");
	assert_null(place(s, "KRW-BTC", "bid", "limit", "100000000", "0.01", NULL, &err));
	assert_string_equal(err.name, "insufficient_funds_bid");
	assert_null(place(s, "KRW-XRP", "ask", "limit", "3000", "101", NULL, &err));
	assert_string_equal(err.name, "insufficient_funds_ask");
	assert_null(place(s, "KRW-XRP", "ask", "market", NULL, "1", "id-1", &err));
	assert_string_equal(err.name, "under_min_total_ask");
	/* The refused request burnt id-1. */
	assert_null(place(s, "KRW-XRP", "ask", "market", NULL, "10", "id-1", &err));
	assert_string_equal(err.name, "duplicate_identifier");
	assert_null(place(s, "KRW-NOPE", "bid", "price", "10000", NULL, NULL, &err));
	assert_string_equal(err.name, "validation_error");
	drop_sim(s);
}

static void test_limit_lock_fill_and_fee(void **state)
{
	struct sim *s = make_sim();
	struct order_error err;
	struct sim_order *o;
	struct sim_tick t = {0, 0, 1};
	int xrp = sim_market_index(s, "KRW-XRP");

	(void)state;
	o = place(s, "KRW-XRP", "bid", "limit", "1000", "100", "lim-1", &err);
	assert_non_null(o);
	assert_int_equal(o->state, ST_WAIT);
	assert_true(fabs(o->locked - 100000 * 1.0005) < 1e-6);
	assert_true(fabs(s->accounts[0].krw.balance - (1000000 - 100050)) < 1e-6);
	assert_true(fabs(s->accounts[0].krw.locked - 100050) < 1e-6);
	t.price = 1001; /* above the bid: no fill */
	order_match_tick(s, &s->markets[xrp], &t);
	assert_int_equal(o->state, ST_WAIT);
	t.price = 999;
	order_match_tick(s, &s->markets[xrp], &t);
	assert_int_equal(o->state, ST_DONE);
	assert_true(fabs(o->paid_fee - 50) < 1e-9);
	assert_true(fabs(s->accounts[0].krw.locked) < 1e-9);
	assert_true(fabs(s->accounts[0].krw.balance - (1000000 - 100050)) < 1e-6);
	assert_true(fabs(s->accounts[0].coins[xrp].balance - 200) < 1e-9);
	assert_ptr_equal(order_find(s, 0, NULL, "lim-1"), o);
	assert_ptr_equal(order_find(s, 0, o->uuid, NULL), o);
	drop_sim(s);
}

static void test_market_buy_refund_and_cancel(void **state)
{
	struct sim *s = make_sim();
	struct order_error err;
	struct sim_order *o;
	int btc = sim_market_index(s, "KRW-BTC");
	double before = s->accounts[0].krw.balance;

	(void)state;
	o = place(s, "KRW-BTC", "bid", "price", "10000", NULL, NULL, &err);
	assert_non_null(o);
	assert_int_equal(o->state, ST_CANCEL); /* 10000 / ~145M leaves an unspendable remainder */
	assert_true(o->executed_volume > 0 && o->nfills >= 1);
	assert_true(o->executed_funds < 10000 && o->executed_funds > 9900);
	assert_true(fabs(before - s->accounts[0].krw.balance - o->executed_funds - o->paid_fee) <
		    1e-6);
	assert_true(fabs(s->accounts[0].krw.locked) < 1e-9);
	assert_true(fabs(s->accounts[0].coins[btc].balance - o->executed_volume) < 1e-12);
	drop_sim(s);
}

static void test_cancel_applies_on_engine_tick(void **state)
{
	struct sim *s = make_sim();
	struct order_error err;
	struct sim_order *o;

	(void)state;
	o = place(s, "KRW-XRP", "ask", "limit", "900000", "10", NULL, &err);
	assert_non_null(o);
	assert_true(fabs(s->accounts[0].coins[sim_market_index(s, "KRW-XRP")].locked - 10) < 1e-9);
	assert_int_equal(order_request_cancel(o), 0);
	assert_int_equal(o->state, ST_WAIT);
	sim_engine_tick(s);
	assert_int_equal(o->state, ST_CANCEL);
	assert_true(fabs(s->accounts[0].coins[sim_market_index(s, "KRW-XRP")].balance - 100) <
		    1e-9);
	assert_int_equal(order_request_cancel(o), -1);
	drop_sim(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_limit_lock_fill_and_fee),
		cmocka_unit_test(test_market_buy_refund_and_cancel),
		cmocka_unit_test(test_cancel_applies_on_engine_tick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
