/* The clock module: ISO-8601 parsing, civil dates, the test clock and its hand-over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/clock.h"

static void test_parse_zones(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(clock_parse_iso8601("2025-01-15T03:41:00Z", 0, &ms), 0);
	assert_int_equal(ms, 1736912460000LL);
	assert_int_equal(clock_parse_iso8601("2025-01-15T12:41:00+09:00", 0, &ms), 0);
	assert_int_equal(ms, 1736912460000LL);
	assert_int_equal(clock_parse_iso8601("2025-01-14T22:41:00.250-05:00", 0, &ms), 0);
	assert_int_equal(ms, 1736912460250LL);
	assert_int_equal(clock_parse_iso8601("2025-01-15 03:41:00", 1, &ms), 0);
	assert_int_equal(ms, 1736912460000LL);
}

static void test_parse_rejects(void **state)
{
	int64_t ms;
	static const char *const bad[] = {
		"2025-01-15T03:41:00",	 "2025-13-01T00:00:00Z",
		"2025-02-29T00:00:00Z",	 "2025-01-15T24:00:00Z",
		"2025-01-15T03:41Z",	 "2025-01-15T03:41:00+9:00",
		"2025-01-15T03:41:00Zx", "",
		"2025-01-15T03:41:00.Z",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(clock_parse_iso8601(bad[i], 0, &ms), -1);
	assert_int_equal(clock_parse_iso8601("2024-02-29T00:00:00Z", 0, &ms), 0);
}

static void test_civil_round_trip(void **state)
{
	(void)state;
	for (int64_t days = -800000; days < 800000; days += 997) {
		int64_t y;
		unsigned m, d;

		clock_civil_from_days(days, &y, &m, &d);
		assert_int_equal(clock_days_from_civil(y, m, d), days);
	}
}

static void test_format_kst(void **state)
{
	char buf[32];

	(void)state;
	clock_format(1736912460000LL, 9 * 60, buf, sizeof(buf));
	assert_string_equal(buf, "2025-01-15T12:41:00");
	clock_format(-1, 0, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59");
}

static void test_test_clock_runs_fast_and_hands_over(void **state)
{
	int64_t start = 1736912460000LL, now;

	(void)state;
	assert_int_equal(clock_set_test(start, 0, 0), -1);
	assert_int_equal(clock_set_test(start, 1000.0, clock_real_ms() - 50), 0);
	now = clock_now_ms();
	/* 50 real ms at x1000 is at least 50 s of daemon time. */
	assert_true(now - start >= 50000);
	assert_true(now - start < 50000 + 5000 * 1000);
	assert_int_equal(clock_timer_ms(60000), 60);
	assert_int_equal(clock_timer_ms(1), 1);
	assert_int_equal(clock_timer_ms(0), 0);

	clock_export_env();
	clock_set_real();
	assert_false(clock_is_test());
	assert_int_equal(clock_import_env(), 1);
	assert_true(clock_is_test());
	assert_true(clock_now_ms() - start >= 50000);

	setenv(CLOCK_ENV, "12:x", 1);
	assert_int_equal(clock_import_env(), -1);
	unsetenv(CLOCK_ENV);
	assert_int_equal(clock_import_env(), 0);
	clock_set_real();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_zones),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_civil_round_trip),
		cmocka_unit_test(test_format_kst),
		cmocka_unit_test(test_test_clock_runs_fast_and_hands_over),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
