/* Exact decimals: parse and print round-trip, products and quotients round only as asked, the
 * KRW tick grid at and around each band's edge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/dec8.h"

static dec8 D(const char *s)
{
	dec8 v = 0;

	assert_int_equal(dec8_parse(s, &v), 0);
	return v;
}

static void assert_dec(dec8 v, const char *want)
{
	char buf[DEC8_BUF];

	dec8_format(v, buf);
	assert_string_equal(buf, want);
}

static void test_parse_and_format(void **state)
{
	static const char *const same[] = {"0",
					   "5000",
					   "0.00048",
					   "-0.00000001",
					   "1234567.5",
					   "92233720368.54775807",
					   "-92233720368.54775808"};
	dec8 v;

	(void)state;
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
		assert_dec(D(same[i]), same[i]);
	assert_dec(D("1000000.0"), "1000000");
	assert_dec(D("+.5"), "0.5");
	assert_dec(D("0.100000000000"), "0.1"); /* zeros past 8 places are exact */
	assert_int_equal(D("1"), DEC8_ONE);
	static const char *const bad[] = {"",
					  "-",
					  ".",
					  "1e3",
					  "0x10",
					  "1.000000001",
					  "1 ",
					  " 1",
					  "1..2",
					  "--1",
					  "92233720368.54775808",
					  "1,000"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dec8_parse(bad[i], &v), -1);
	assert_int_equal(dec8_parse(NULL, &v), -1);
}

static void test_json(void **state)
{
	json_t *j = json_loads("[\"0.00048\", 5000, 0.1, 95123000.0, 1e300, null, true]", 0, NULL);
	dec8 v;

	(void)state;
	assert_non_null(j);
	assert_int_equal(dec8_from_json(json_array_get(j, 0), &v), 0);
	assert_dec(v, "0.00048");
	assert_int_equal(dec8_from_json(json_array_get(j, 1), &v), 0);
	assert_dec(v, "5000");
	assert_int_equal(dec8_from_json(json_array_get(j, 2), &v), 0);
	assert_dec(v, "0.1"); /* the double 0.1 is not 0.1; its 8-place rounding is */
	assert_int_equal(dec8_from_json(json_array_get(j, 3), &v), 0);
	assert_dec(v, "95123000");
	for (size_t i = 4; i < 7; i++)
		assert_int_equal(dec8_from_json(json_array_get(j, i), &v), -1);
	assert_int_equal(dec8_from_json(NULL, &v), -1);
	json_decref(j);
}

static void test_mul_div_rounding(void **state)
{
	dec8 v;

	(void)state;
	/* 0.05% of 9,999 KRW is 4.9995: down for a fee estimate we must not overstate... */
	assert_int_equal(dec8_mul(D("9999"), D("0.0005"), DEC8_DOWN, &v), 0);
	assert_dec(v, "4.9995");
	/* ...and a product below the last place rounds as told */
	assert_int_equal(dec8_mul(D("0.00000001"), D("0.5"), DEC8_DOWN, &v), 0);
	assert_dec(v, "0");
	assert_int_equal(dec8_mul(D("0.00000001"), D("0.5"), DEC8_UP, &v), 0);
	assert_dec(v, "0.00000001");
	assert_int_equal(dec8_mul(D("0.00000001"), D("0.5"), DEC8_HALF_EVEN, &v), 0);
	assert_dec(v, "0");
	assert_int_equal(dec8_mul(D("0.00000003"), D("0.5"), DEC8_HALF_EVEN, &v), 0);
	assert_dec(v, "0.00000002");
	assert_int_equal(dec8_mul(D("-0.00000003"), D("0.5"), DEC8_HALF_EVEN, &v), 0);
	assert_dec(v, "-0.00000002");
	/* price * volume at BTC prices needs the 128-bit product */
	assert_int_equal(dec8_mul(D("150000000"), D("0.12345678"), DEC8_DOWN, &v), 0);
	assert_dec(v, "18518517");
	/* volume affordable for 100,000 KRW at 95,123,000: floored to 8 places */
	assert_int_equal(dec8_div(D("100000"), D("95123000"), DEC8_DOWN, &v), 0);
	assert_dec(v, "0.00105127");
	assert_int_equal(dec8_div(D("1"), 0, DEC8_DOWN, &v), -1);
	assert_int_equal(dec8_mul(D("92233720368"), D("2"), DEC8_DOWN, &v), -1);
	assert_int_equal(dec8_muldiv(D("100"), 1, 3, DEC8_DOWN, &v), 0);
	assert_dec(v, "33.33333333");
	assert_int_equal(dec8_muldiv(D("100"), 2, 3, DEC8_HALF_EVEN, &v), 0);
	assert_dec(v, "66.66666667");
}

static void test_krw_grid(void **state)
{
	static const struct {
		const char *price, *tick, *down, *up;
	} rows[] = {
		{"95123456", "1000", "95123000", "95124000"},
		{"1999999", "1000", "1999000", "2000000"},
		{"1000000", "1000", "1000000", "1000000"},
		{"999999", "500", "999500", "1000000"},
		{"123456", "100", "123400", "123500"},
		{"99999", "50", "99950", "100000"},
		{"12345", "10", "12340", "12350"},
		{"9999", "5", "9995", "10000"},
		{"4999.5", "1", "4999", "5000"},
		{"123.45", "1", "123", "124"},
		{"12.345", "0.01", "12.34", "12.35"},
		{"1.2345", "0.001", "1.234", "1.235"},
		{"0.00001234", "0.00000001", "0.00001234", "0.00001234"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_dec(dec8_krw_tick(D(rows[i].price)), rows[i].tick);
		assert_dec(dec8_krw_round(D(rows[i].price), DEC8_DOWN), rows[i].down);
		assert_dec(dec8_krw_round(D(rows[i].price), DEC8_UP), rows[i].up);
	}
	assert_dec(dec8_to_tick(D("12344"), D("10"), DEC8_HALF_EVEN), "12340");
	assert_dec(dec8_to_tick(D("12346"), D("10"), DEC8_HALF_EVEN), "12350");
}

/* Grouped for people: the whole part by three, the fraction and the sign as dec8_format. */
static void test_grouped(void **state)
{
	static const struct {
		const char *in, *want;
	} rows[] = {{"0", "0"},
		    {"999", "999"},
		    {"1000", "1,000"},
		    {"-1234567.5", "-1,234,567.5"},
		    {"0.00012", "0.00012"},
		    {"-92233720368.54775808", "-92,233,720,368.54775808"}};
	char buf[DEC8_GROUPED_BUF];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		dec8_format_grouped(D(rows[i].in), buf);
		assert_string_equal(buf, rows[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_format), cmocka_unit_test(test_json),
		cmocka_unit_test(test_mul_div_rounding), cmocka_unit_test(test_krw_grid),
		cmocka_unit_test(test_grouped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
