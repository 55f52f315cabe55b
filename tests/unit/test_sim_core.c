/* Unit tests of the simulator's pure parts: tick grid, decimals, rate limiter, query-hash
 * input, nonce memory, candle generation (ordering, gaps, aggregation), fault malforming. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/sim_state.h"

#include "common/jwt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_tick_table(void **state)
{
	(void)state;
	assert_true(tick_size_krw(145000000) == 1000);
	assert_true(tick_size_krw(1500000) == 1000);
	assert_true(tick_size_krw(999999) == 500);
	assert_true(tick_size_krw(280000) == 100);
	assert_true(tick_size_krw(60000) == 50);
	assert_true(tick_size_krw(12345) == 10);
	assert_true(tick_size_krw(5000) == 5);
	assert_true(tick_size_krw(3100) == 1);
	assert_true(tick_size_krw(450) == 1);
	assert_true(tick_size_krw(12.5) == 0.01);
	assert_true(tick_on_grid(145001000, 1000));
	assert_false(tick_on_grid(145000500, 1000));
	assert_true(tick_on_grid(12.34, 0.01));
	assert_false(tick_on_grid(12.345, 0.01));
	assert_true(round_to_tick(145000400) == 145000000);
	assert_true(round_to_tick(5003) == 5005 || round_to_tick(5003) == 5000);
}

static void test_decimal_strings(void **state)
{
	char buf[64];
	json_t *v;
	double d;

	(void)state;
	dec_format(1000000, buf, sizeof(buf));
	assert_string_equal(buf, "1000000.0");
	dec_format(0.00048, buf, sizeof(buf));
	assert_string_equal(buf, "0.00048");
	dec_format(-0.0, buf, sizeof(buf));
	assert_string_equal(buf, "0.0");
	dec_format(0.123456789, buf, sizeof(buf));
	assert_string_equal(buf, "0.12345679");
	v = json_string("0.001");
	assert_int_equal(dec_parse_json(v, &d), 0);
	assert_true(d == 0.001);
	json_decref(v);
	v = json_string("1e999");
	assert_int_equal(dec_parse_json(v, &d), -1);
	json_decref(v);
	v = json_string("12abc");
	assert_int_equal(dec_parse_json(v, &d), -1);
	json_decref(v);
	assert_true(floor8(0.3) == 0.3);
	assert_true(floor8(0.123456789) == 0.12345678);
}

static void test_rate_limiter(void **state)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));
	int rem, i;
	int64_t retry;

	(void)state;
	rl_init(rl);
	rl->ban_after = 2;
	rl->ban_ms = 1000;
	for (i = 0; i < 10; i++) {
		assert_int_equal(rl_check(rl, "ip", RL_TICKER, 5000, &rem, &retry), RL_OK);
		assert_int_equal(rem, 9 - i);
	}
	/* Other groups and other clients have their own budgets. */
	assert_int_equal(rl_check(rl, "ip", RL_CANDLE, 5000, &rem, &retry), RL_OK);
	assert_int_equal(rl_check(rl, "ip2", RL_TICKER, 5000, &rem, &retry), RL_OK);
	assert_int_equal(rl_check(rl, "ip", RL_TICKER, 5100, &rem, &retry), RL_429);
	assert_int_equal(rl_check(rl, "ip", RL_TICKER, 5200, &rem, &retry), RL_429);
	assert_int_equal(rl_check(rl, "ip", RL_TICKER, 5300, &rem, &retry), RL_418);
	assert_int_equal(retry, 1000);
	assert_int_equal(rl_check(rl, "ip", RL_MARKET, 5400, &rem, &retry), RL_418);
	assert_int_equal(retry, 900);
	/* After the ban a new second has a full budget; a repeat offence bans twice as long. */
	assert_int_equal(rl_check(rl, "ip", RL_TICKER, 6300, &rem, &retry), RL_OK);
	for (i = 0; i < 9; i++)
		rl_check(rl, "ip", RL_TICKER, 6400, &rem, &retry);
	rl_check(rl, "ip", RL_TICKER, 6400, &rem, &retry);
	rl_check(rl, "ip", RL_TICKER, 6400, &rem, &retry);
	assert_int_equal(rl_check(rl, "ip", RL_TICKER, 6400, &rem, &retry), RL_418);
	assert_int_equal(retry, 2000);
	assert_int_equal(rl_group_for("POST", "/v1/orders"), RL_ORDER);
	assert_int_equal(rl_group_for("GET", "/v1/orders/open"), RL_DEFAULT);
	assert_int_equal(rl_group_for("GET", "/v1/candles/minutes/1"), RL_CANDLE);
	assert_int_equal(rl_group_for("POST", "/v1/orders/test"), RL_ORDER_TEST);
	assert_string_equal(rl_group_name(RL_ORDER_TEST), "order-test");
	free(rl);
}

static void test_query_hash_input(void **state)
{
	struct query q;
	char hex[129];
	json_t *body;
	char *s;

	(void)state;
	assert_int_equal(query_parse("market=KRW-BTC&states%5B%5D=wait&states%5B%5D=watch", &q), 0);
	assert_string_equal(q.hash_input, "market=KRW-BTC&states[]=wait&states[]=watch");
	sha512_hex(q.hash_input, strlen(q.hash_input), hex);
	assert_memory_equal(hex, "c01bbcb80094d222", 16);
	assert_int_equal((int)q.n, 3);
	assert_string_equal(query_get(&q, "states[]"), "wait");
	query_free(&q);
	assert_int_equal(
		query_parse("market=KRW-BTC&start_time=2024-12-09T13%3A56%3A53%2B09%3A00", &q), 0);
	assert_string_equal(q.hash_input, "market=KRW-BTC&start_time=2024-12-09T13:56:53+09:00");
	assert_string_equal(query_get(&q, "start_time"), "2024-12-09T13:56:53+09:00");
	query_free(&q);
	/* An unencoded '+' is a space in a value, but stays '+' in what the client hashed. */
	assert_int_equal(query_parse("to=12:00:00+09:00&bad=%zz", &q), 0);
	assert_string_equal(query_get(&q, "to"), "12:00:00 09:00");
	assert_string_equal(query_get(&q, "bad"), "%zz");
	query_free(&q);
	body = json_loads(
		"{\"market\":\"KRW-BTC\",\"side\":\"bid\",\"volume\":\"0.001\",\"price\":"
		"\"50000000\",\"ord_type\":\"limit\",\"identifier\":\"bot-20240101-0001\"}",
		0, NULL);
	s = query_hash_input_json(body);
	assert_string_equal(s, "market=KRW-BTC&side=bid&volume=0.001&price=50000000&ord_type=limit&"
			       "identifier=bot-20240101-0001");
	sha512_hex(s, strlen(s), hex);
	assert_memory_equal(hex, "02313970fd1aa42c", 16);
	free(s);
	json_decref(body);
	body = json_loads("{\"uuids\":[\"a\",\"b\"],\"n\":0.1,\"i\":5}", 0, NULL);
	s = query_hash_input_json(body);
	assert_string_equal(s, "uuids[]=a&uuids[]=b&n=0.1&i=5");
	free(s);
	json_decref(body);
}

static void test_nonce_memory(void **state)
{
	struct nonce_set *ns = calloc(1, sizeof(*ns));
	char n[32];
	unsigned i;

	(void)state;
	assert_int_equal(nonce_seen(ns, "ak", "n1"), 0);
	assert_int_equal(nonce_seen(ns, "ak", "n1"), 1);
	assert_int_equal(nonce_seen(ns, "other", "n1"), 0);
	/* Bounded: after NONCE_RING more nonces the first is forgotten, recent ones are not. */
	for (i = 0; i < NONCE_RING; i++) {
		snprintf(n, sizeof(n), "x%u", i);
		assert_int_equal(nonce_seen(ns, "ak", n), 0);
	}
	assert_int_equal(nonce_seen(ns, "ak", "x65535"), 1);
	assert_int_equal(nonce_seen(ns, "ak", "x40000"), 1);
	assert_int_equal(nonce_seen(ns, "ak", "n1"), 0);
	free(ns);
}

static void test_candle_generation(void **state)
{
	struct price_params pp = {.seed = 9,
				  .volatility = 0.001,
				  .gap_prob = 0.3,
				  .history_min = 600,
				  .history_days = 10};
	struct sim_market *m = calloc(1, sizeof(*m)), *m2 = calloc(1, sizeof(*m2));
	struct sim_candle out[200], agg[10];
	int64_t starts[200], astarts[10], now = 1736899200000LL + 12345; /* 2025-01-15 */
	size_t n, i, gaps = 0;

	(void)state;
	assert_int_equal(market_init(m, "KRW-BTC", 145000000, 0, &pp, now), 0);
	market_advance(m, &pp, now, NULL, NULL);
	n = candles_query(m, 1, now + 1, 200, out, starts);
	assert_int_equal((int)n, 200);
	for (i = 0; i < n; i++) {
		assert_true(out[i].has_trade);
		assert_true(out[i].low <= out[i].open && out[i].open <= out[i].high);
		assert_true(out[i].low <= out[i].close && out[i].close <= out[i].high);
		assert_true(out[i].last_ms >= starts[i] && out[i].last_ms < starts[i] + 60000);
		assert_true(tick_on_grid(out[i].close, tick_size_krw(out[i].close)));
		if (i) {
			assert_true(starts[i] < starts[i - 1]);
			gaps += (size_t)((starts[i - 1] - starts[i]) / 60000 - 1);
		}
	}
	assert_true(gaps > 20); /* about 30% of minutes have no trade */
	/* `to` is exclusive. */
	n = candles_query(m, 1, starts[5], 3, out, starts);
	assert_true(n == 3 && starts[0] < starts[5] + 0);
	/* A 5-minute candle aggregates its minutes. */
	n = candles_query(m, 5, now + 1, 10, agg, astarts);
	assert_true(n > 5);
	for (i = 0; i < n; i++)
		assert_int_equal((int)(astarts[i] % 300000), 0);
	/* Same seed, same history. */
	assert_int_equal(market_init(m2, "KRW-BTC", 145000000, 3, &pp, now), 0);
	market_advance(m2, &pp, now, NULL, NULL);
	assert_true(m->last_price == m2->last_price && m->walk == m2->walk);
	/* Days: prehistory plus the minute days. */
	n = candles_query(m, 0, now + 1, 20, out, starts);
	assert_true(n >= 10);
	assert_int_equal((int)(starts[0] % 86400000), 0);
	market_free(m);
	market_free(m2);
	free(m);
	free(m2);
}

static void test_malform(void **state)
{
	const char body[] = "[{\"market\":\"KRW-BTC\",\"trade_price\":1.5,\"balance\":\"2.0\"}]";
	size_t len;
	char *out;

	(void)state;
	out = faults_malform(MF_TRUNCATED, body, strlen(body), &len);
	assert_int_equal((int)len, (int)strlen(body) / 2);
	free(out);
	out = faults_malform(MF_NAN, body, strlen(body), &len);
	assert_non_null(strstr(out, "\"trade_price\":NaN"));
	assert_non_null(strstr(out, "\"balance\":\"NaN\""));
	free(out);
	out = faults_malform(MF_MISSING_FIELDS, body, strlen(body), &len);
	assert_null(strstr(out, "market"));
	assert_non_null(strstr(out, "trade_price"));
	free(out);
	out = faults_malform(MF_WRONG_TYPES, body, strlen(body), &len);
	assert_non_null(strstr(out, "\"trade_price\":\"1.5\""));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tick_table),   cmocka_unit_test(test_decimal_strings),
		cmocka_unit_test(test_rate_limiter), cmocka_unit_test(test_query_hash_input),
		cmocka_unit_test(test_nonce_memory), cmocka_unit_test(test_candle_generation),
		cmocka_unit_test(test_malform),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
