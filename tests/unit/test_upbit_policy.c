/* Request policy of the Upbit client with explicit timestamps: token buckets, Remaining-Req
 * parsing, 429/418 blocks, circuit-breaker transitions and full-jitter back-off bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "workers/upbit/backoff.h"
#include "workers/upbit/breaker.h"
#include "workers/upbit/rate_limit.h"

static void test_bucket_rate(void **state)
{
	struct rate_bucket b;
	int64_t t = 1000000;
	int taken = 0;

	(void)state;
	rate_bucket_init(&b, 10, 0, t);
	/* A full bucket gives a one-second burst, then one token per 100 ms. */
	while (rate_bucket_take(&b, t) == 0)
		taken++;
	assert_int_equal(taken, 10);
	assert_int_equal(rate_bucket_take(&b, t), 100);
	assert_int_equal(rate_bucket_take(&b, t + 50), 50);
	assert_int_equal(rate_bucket_take(&b, t + 100), 0);
	assert_true(rate_bucket_take(&b, t + 100) > 0);
	/* Over 10 s at most 10 + 100 tokens. */
	taken = 0;
	for (int64_t now = t + 100; now <= t + 10100; now += 7)
		while (rate_bucket_take(&b, now) == 0)
			taken++;
	assert_in_range(taken, 99, 101);
	/* Never more than capacity after a long idle period. */
	taken = 0;
	while (rate_bucket_take(&b, t + 100000) == 0)
		taken++;
	assert_int_equal(taken, 10);
}

static void test_bucket_order_group(void **state)
{
	struct rate_bucket b;
	int taken = 0;

	(void)state;
	assert_true(upbit_group_default_rate(UPBIT_GROUP_ORDER) == 8.0);
	assert_true(upbit_group_default_rate(UPBIT_GROUP_DEFAULT) == 30.0);
	assert_true(upbit_group_default_rate(UPBIT_GROUP_CANDLE) == 10.0);
	rate_bucket_init(&b, upbit_group_default_rate(UPBIT_GROUP_ORDER), 0, 0);
	while (rate_bucket_take(&b, 0) == 0)
		taken++;
	assert_int_equal(taken, 8);
	assert_int_equal(rate_bucket_take(&b, 0), 125);
}

static void test_remaining_req_corrects_bucket(void **state)
{
	struct rate_bucket b;

	(void)state;
	rate_bucket_init(&b, 10, 0, 0);
	rate_bucket_observe_remaining(&b, 2, 0);
	assert_int_equal(rate_bucket_take(&b, 0), 0);
	assert_int_equal(rate_bucket_take(&b, 0), 0);
	assert_int_equal(rate_bucket_take(&b, 0), 100);
	/* A larger remaining count never adds tokens. */
	rate_bucket_observe_remaining(&b, 9, 0);
	assert_int_equal(rate_bucket_take(&b, 0), 100);
	rate_bucket_observe_remaining(&b, 0, 50);
	assert_int_equal(rate_bucket_wait_ms(&b, 50), 100);
}

struct rr_case {
	const char *text;
	int rc;
	const char *group;
	int sec;
};

static void test_remaining_req_parse(void **state)
{
	static const struct rr_case cases[] = {
		{"group=default; min=1800; sec=29", 0, "default", 29},
		{"group=market; min=573; sec=9", 0, "market", 9},
		{"group=order-test;min=10;sec=0", 0, "order-test", 0},
		{"sec=3; group=candle", 0, "candle", 3},
		{"group=ticker; sec=7; extra=abc", 0, "ticker", 7},
		{"  group=ticker ;  sec=7 ", 0, "ticker", 7},
		{"", -1, NULL, 0},
		{"group=default; min=1800", -1, NULL, 0},
		{"min=1800; sec=3", -1, NULL, 0},
		{"group=; sec=3", -1, NULL, 0},
		{"group=default; sec=-1", -1, NULL, 0},
		{"group=default; sec=abc", -1, NULL, 0},
		{"group=default; sec=99999999999999", -1, NULL, 0},
		{"group=def ault; sec=1", -1, NULL, 0},
		{"group=default sec=1", -1, NULL, 0},
		{"group=a; group=b; sec=1", -1, NULL, 0},
		{"group=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; sec=1",
		 -1, NULL, 0},
		{"garbage", -1, NULL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char group[32] = "";
		int sec = -5;
		int rc = rate_parse_remaining(cases[i].text, group, sizeof(group), &sec);

		if (rc != cases[i].rc)
			fail_msg("case %zu '%s': rc %d", i, cases[i].text, rc);
		if (rc == 0) {
			assert_string_equal(group, cases[i].group);
			assert_int_equal(sec, cases[i].sec);
		}
	}
	assert_int_equal(upbit_group_parse("orderbook"), UPBIT_GROUP_ORDERBOOK);
	assert_int_equal(upbit_group_parse("order-test"), -1);
}

static void test_429_backoff(void **state)
{
	struct rate_bucket b;

	(void)state;
	rate_bucket_init(&b, 10, 0, 0);
	assert_int_equal(rate_bucket_on_429(&b, 0), 1000);
	assert_true(rate_bucket_blocked(&b, 999));
	assert_int_equal(rate_bucket_take(&b, 500), 500);
	assert_false(rate_bucket_blocked(&b, 1000));
	assert_int_equal(rate_bucket_on_429(&b, 1000), 2000);
	assert_int_equal(rate_bucket_on_429(&b, 3000), 4000);
	for (int i = 0; i < 10; i++)
		rate_bucket_on_429(&b, 10000);
	assert_int_equal(rate_bucket_on_429(&b, 10000), RATE_429_CAP_MS);
	rate_bucket_on_success(&b);
	assert_int_equal(rate_bucket_on_429(&b, 100000), 1000);
}

static void test_418_block(void **state)
{
	struct rate_bucket b;

	(void)state;
	rate_bucket_init(&b, 10, 0, 0);
	assert_int_equal(rate_bucket_on_418(&b, 30, 0), 30000);
	assert_true(rate_bucket_blocked(&b, 29999));
	assert_false(rate_bucket_blocked(&b, 30000));
	/* Without Retry-After: 60 s, doubling on repeats, capped at 1 h. */
	assert_int_equal(rate_bucket_on_418(&b, -1, 40000), 120000);
	assert_int_equal(rate_bucket_on_418(&b, -1, 200000), 240000);
	for (int i = 0; i < 10; i++)
		rate_bucket_on_418(&b, -1, 500000);
	assert_int_equal(rate_bucket_on_418(&b, -1, 500000), RATE_418_CAP_MS);
	/* Strikes are forgotten after an hour of quiet. */
	assert_int_equal(rate_bucket_on_418(&b, -1, 500000 + RATE_418_MEMORY_MS + 1), 60000);
	assert_int_equal(b.n_418, 15);
}

static void test_breaker_consecutive(void **state)
{
	struct breaker b;
	struct breaker_config cfg = {.consecutive_failures = 5, .cooldown_ms = 1000};
	struct breaker_status st;

	(void)state;
	breaker_init(&b, &cfg, 0);
	for (int i = 0; i < 4; i++) {
		assert_true(breaker_allow(&b, i));
		assert_int_equal(breaker_record(&b, 0, i), 0);
	}
	assert_true(breaker_allow(&b, 4));
	assert_int_equal(breaker_record(&b, 0, 4), 1);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_false(breaker_allow(&b, 500));
	breaker_status(&b, 500, &st);
	assert_int_equal(st.retry_in_ms, 504);
	/* After the cool-down exactly one probe goes. */
	assert_true(breaker_allow(&b, 1004));
	assert_int_equal(b.state, BREAKER_HALF_OPEN);
	assert_false(breaker_allow(&b, 1005));
	assert_false(breaker_allow(&b, 1006));
	/* A failed probe reopens with a doubled cool-down. */
	assert_int_equal(breaker_record(&b, 0, 1100), 1);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_false(breaker_allow(&b, 2100));
	assert_true(breaker_allow(&b, 3100));
	assert_false(breaker_allow(&b, 3100));
	/* A successful probe closes it and resets the cool-down. */
	assert_int_equal(breaker_record(&b, 1, 3200), 1);
	assert_int_equal(b.state, BREAKER_CLOSED);
	assert_true(breaker_allow(&b, 3201));
	assert_int_equal(b.cooldown_cur_ms, 1000);
	assert_int_equal(b.n_opened, 2);
}

static void test_breaker_success_resets_streak(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b, NULL, 0);
	for (int i = 0; i < 4; i++)
		breaker_record(&b, 0, i);
	breaker_record(&b, 1, 5);
	for (int i = 0; i < 4; i++)
		breaker_record(&b, 0, 6 + i);
	assert_int_equal(b.state, BREAKER_CLOSED);
	/* But ten failures in 30 s open it even with successes between. */
	breaker_record(&b, 1, 10);
	breaker_record(&b, 0, 11);
	breaker_record(&b, 1, 12);
	assert_int_equal(b.state, BREAKER_CLOSED);
	breaker_record(&b, 0, 13);
	assert_int_equal(b.state, BREAKER_OPEN);
}

static void test_breaker_window_expires(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b, NULL, 0);
	/* Nine failures spread over more than 30 s never trip the window rule. */
	for (int i = 0; i < 40; i++) {
		breaker_record(&b, 0, (int64_t)i * 10000);
		breaker_record(&b, 1, (int64_t)i * 10000 + 1);
	}
	assert_int_equal(b.state, BREAKER_CLOSED);
}

static void test_breaker_release_and_json(void **state)
{
	struct breaker b;
	struct breaker_config cfg = {.consecutive_failures = 1, .cooldown_ms = 10};
	json_t *j;

	(void)state;
	breaker_init(&b, &cfg, 0);
	breaker_record(&b, 0, 0);
	assert_true(breaker_allow(&b, 10));
	breaker_release(&b); /* the probe never went: another may */
	assert_true(breaker_allow(&b, 11));
	j = breaker_to_json(&b, 11);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "half-open");
	assert_int_equal(json_integer_value(json_object_get(j, "failures")), 1);
	json_decref(j);
}

/* A poller asks every poll_ms through an outage of outage_ms in which every admitted request
 * fails at once (a refused connect), then the host is back. Returns how long after that the
 * first request was admitted; *admitted counts the requests during the outage and *max_gap the
 * longest wait between two of them once the breaker had opened. */
static int64_t first_probe_after_outage(const struct breaker_config *cfg, int64_t outage_ms,
					int64_t poll_ms, unsigned *admitted, int64_t *max_gap)
{
	struct breaker b;
	int64_t last = -1;

	breaker_init(&b, cfg, 0);
	*admitted = 0;
	*max_gap = 0;
	for (int64_t t = 0; t < outage_ms + 10 * 60000; t += poll_ms) {
		if (!breaker_allow(&b, t))
			continue;
		if (t >= outage_ms) {
			breaker_record(&b, 1, t + 1);
			return t - outage_ms;
		}
		if (b.n_opened > 0 && last >= 0 && t - last > *max_gap)
			*max_gap = t - last;
		last = t;
		(*admitted)++;
		breaker_record(&b, 0, t + 1);
	}
	fail_msg("never probed again");
	return -1;
}

static void test_breaker_probe_cap(void **state)
{
	struct breaker_config capped = {.cooldown_max_ms = 3000};
	struct breaker b;
	unsigned n;
	int64_t gap, late;

	(void)state;
	/* The defaults: the cool-down doubles 5, 10, 20, 40 s and stays at 60 s, so after 150 s
	 * of outage the host waits a long time for its probe (the bug this cap fixes). */
	late = first_probe_after_outage(NULL, 150000, 200, &n, &gap);
	assert_true(late > 5000);
	assert_int_equal(gap, 60000 + 200);
	/* Capped at 3 s: the first cool-down is lowered to the cap, every later one stays there,
	 * and a host that is back gets its probe within the cap plus one poll. */
	breaker_init(&b, &capped, 0);
	assert_int_equal(b.cfg.cooldown_ms, 3000);
	assert_int_equal(b.cfg.cooldown_max_ms, 3000);
	for (int64_t outage = 150000; outage < 160000; outage += 700) {
		late = first_probe_after_outage(&capped, outage, 200, &n, &gap);
		assert_in_range(late, 0, 3000 + 200);
		assert_in_range(gap, 3000, 3000 + 200);
		/* One probe per cap at most: 5 failures to open, then 150 s / 3 s. */
		assert_in_range(n, 5 + outage / 3200 - 1, 5 + outage / 3000 + 1);
	}
	/* A cap above the first cool-down leaves it; no cap means 60 s, or the cool-down itself
	 * when that is longer. */
	breaker_init(&b, &(struct breaker_config){.cooldown_max_ms = 8000}, 0);
	assert_int_equal(b.cfg.cooldown_ms, 5000);
	assert_int_equal(b.cfg.cooldown_max_ms, 8000);
	breaker_init(&b, &(struct breaker_config){.cooldown_ms = 90000}, 0);
	assert_int_equal(b.cfg.cooldown_max_ms, 90000);
}

static void test_backoff_bounds(void **state)
{
	struct backoff_policy p;
	uint64_t rng = 42;

	(void)state;
	backoff_policy_default(&p);
	assert_int_equal(p.base_ms, 500);
	assert_int_equal(backoff_ceiling_ms(&p, 0), 500);
	assert_int_equal(backoff_ceiling_ms(&p, 1), 1000);
	assert_int_equal(backoff_ceiling_ms(&p, 6), 32000);
	assert_int_equal(backoff_ceiling_ms(&p, 7), 60000);
	assert_int_equal(backoff_ceiling_ms(&p, 1000), 60000);
	for (unsigned n = 0; n < 12; n++) {
		int64_t ceiling = backoff_ceiling_ms(&p, n), lo = ceiling, hi = 0;

		for (int i = 0; i < 2000; i++) {
			int64_t d = backoff_delay_ms(&p, n, &rng);

			assert_in_range(d, 0, ceiling);
			if (d < lo)
				lo = d;
			if (d > hi)
				hi = d;
		}
		/* Full jitter spreads over the whole range. */
		assert_true(lo < ceiling / 10 + 1);
		assert_true(hi > ceiling - ceiling / 10 - 1);
	}
	/* market-data's cap (exchange.probe_max_ms) bounds every retry delay too. */
	p.cap_ms = 3000;
	assert_int_equal(backoff_ceiling_ms(&p, 2), 2000);
	assert_int_equal(backoff_ceiling_ms(&p, 3), 3000);
	assert_int_equal(backoff_ceiling_ms(&p, 1000), 3000);
	for (int i = 0; i < 1000; i++)
		assert_in_range(backoff_delay_ms(&p, 10, &rng), 0, 3000);
	/* Same seed, same sequence. */
	{
		uint64_t a = 7, b = 7;

		for (int i = 0; i < 10; i++)
			assert_int_equal(backoff_delay_ms(&p, 3, &a), backoff_delay_ms(&p, 3, &b));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_rate),
		cmocka_unit_test(test_bucket_order_group),
		cmocka_unit_test(test_remaining_req_corrects_bucket),
		cmocka_unit_test(test_remaining_req_parse),
		cmocka_unit_test(test_429_backoff),
		cmocka_unit_test(test_418_block),
		cmocka_unit_test(test_breaker_consecutive),
		cmocka_unit_test(test_breaker_success_resets_streak),
		cmocka_unit_test(test_breaker_window_expires),
		cmocka_unit_test(test_breaker_release_and_json),
		cmocka_unit_test(test_breaker_probe_cap),
		cmocka_unit_test(test_backoff_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
