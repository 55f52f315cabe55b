/* order-execution's pure parts: identifiers, the classification of an answer to a POST, and
 * average-cost accounting of fills in exact dec8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "workers/order_execution.h"

#define D(x) ((dec8)((x)*100000000LL))

static void test_identifier_is_instance_intent_attempt(void **state)
{
	char a[UPBIT_IDENT_LEN], b[UPBIT_IDENT_LEN], c[UPBIT_IDENT_LEN], i1[OE_INSTANCE_LEN],
		i2[OE_INSTANCE_LEN];

	(void)state;
	oe_identifier("0123456789abcdef", 42, 1, a, sizeof(a));
	assert_string_equal(a, "td-0123456789abcdef-42-1");
	oe_identifier("0123456789abcdef", 42, 2, b, sizeof(b));
	assert_string_not_equal(a, b);
	/* intent 4 attempt 21 and intent 42 attempt 1 must not collide */
	oe_identifier("0123456789abcdef", 4, 21, c, sizeof(c));
	assert_string_not_equal(a, c);
	assert_int_equal(oe_instance_new(i1), 0);
	assert_int_equal(oe_instance_new(i2), 0);
	assert_int_equal(strlen(i1), 16);
	assert_true(strspn(i1, "0123456789abcdef") == 16);
	assert_string_not_equal(i1, i2);
	/* Upbit takes identifiers up to 64 characters: the longest we make fits. */
	oe_identifier(i1, INT64_MAX, 100, a, sizeof(a));
	assert_true(strlen(a) <= 64);
}

static void test_classification(void **state)
{
	(void)state;
	assert_int_equal(oe_classify(UPBIT_OK, ""), OE_PLACED);
	assert_int_equal(oe_classify(UPBIT_ERR_API, "insufficient_funds_bid"), OE_REFUSED);
	assert_int_equal(oe_classify(UPBIT_ERR_API, "under_min_total_ask"), OE_REFUSED);
	assert_int_equal(oe_classify(UPBIT_ERR_API, "invalid_price_bid"), OE_REFUSED);
	assert_int_equal(oe_classify(UPBIT_ERR_API, "validation_error"), OE_REFUSED);
	assert_int_equal(oe_classify(UPBIT_ERR_API, "duplicate_identifier"), OE_DUPLICATE);
	assert_int_equal(oe_classify(UPBIT_ERR_API, "nonce_used"), OE_NOT_PLACED);
	assert_int_equal(oe_classify(UPBIT_ERR_API, "jwt_verification"), OE_NOT_PLACED);
	assert_int_equal(oe_classify(UPBIT_ERR_RATE_LIMITED, ""), OE_NOT_PLACED);
	assert_int_equal(oe_classify(UPBIT_ERR_UNKNOWN_OUTCOME, ""), OE_UNKNOWN);
	assert_int_equal(oe_classify(UPBIT_ERR_TIMEOUT, ""), OE_UNKNOWN);
	assert_int_equal(oe_classify(UPBIT_ERR_HTTP, ""), OE_UNKNOWN);
	assert_int_equal(oe_classify(UPBIT_ERR_INVALID, ""), OE_UNKNOWN);
	assert_int_equal(oe_classify(UPBIT_ERR_TRANSPORT, ""), OE_UNKNOWN);
	assert_int_equal(oe_classify(UPBIT_ERR_API, NULL), OE_UNKNOWN);
	assert_string_equal(oe_crash_name(OE_CRASH_BETWEEN_FILLS), "between-fills");
}

static void test_average_cost(void **state)
{
	struct oe_position p = {0};
	struct oe_trade_effect e;

	(void)state;
	/* buy 1 at 100 (fee 0.05), buy 1 at 200 (fee 0.1): cost 300.15 for 2 */
	assert_int_equal(oe_position_apply(&p, 1, D(1), D(100), 5000000, &e), 0);
	assert_int_equal(e.realized, 0);
	assert_int_equal(oe_position_apply(&p, 1, D(1), D(200), 10000000, &e), 0);
	assert_int_equal(p.volume, D(2));
	assert_int_equal(p.cost, D(300) + 15000000);
	/* sell 0.5 at 300 = 150, fee 0.075: cost of 0.5 = 75.0375 */
	assert_int_equal(oe_position_apply(&p, 0, D(1) / 2, D(150), 7500000, &e), 0);
	assert_int_equal(e.realized, D(150) - 7500000 - 7503750000);
	assert_int_equal(p.volume, D(3) / 2);
	assert_int_equal(p.cost, D(300) + 15000000 - 7503750000);
	/* selling the rest takes out exactly the rest of the cost: no rounding dust left */
	assert_int_equal(oe_position_apply(&p, 0, D(3) / 2, D(450), 0, &e), 0);
	assert_int_equal(p.volume, 0);
	assert_int_equal(p.cost, 0);
	assert_int_equal(p.realized, D(600) - 7500000 - D(300) - 15000000);
	assert_int_equal(p.fees, 5000000 + 10000000 + 7500000);
	/* more sold than held (holdings from before): no known cost */
	assert_int_equal(oe_position_apply(&p, 0, D(1), D(10), 0, &e), 0);
	assert_int_equal(e.realized, D(10));
	assert_int_equal(p.volume, 0);
	/* refused: a zero volume, a negative fee, an overflow */
	assert_int_equal(oe_position_apply(&p, 1, 0, D(1), 0, &e), -1);
	assert_int_equal(oe_position_apply(&p, 1, D(1), D(1), -1, &e), -1);
	p.cost = INT64_MAX - 1;
	assert_int_equal(oe_position_apply(&p, 1, D(1), D(1), 0, &e), -1);
}

static void test_fee_split_is_exact(void **state)
{
	dec8 funds[3] = {D(100), D(200), D(1)}, fees[3];

	(void)state;
	assert_int_equal(oe_fee_split(15050001, funds, 3, fees), 0);
	assert_int_equal(fees[0] + fees[1] + fees[2], 15050001);
	assert_int_equal(fees[0], 5000000);
	assert_int_equal(fees[1], 10000000);
	assert_int_equal(fees[2], 50001);
	assert_int_equal(oe_fee_split(0, funds, 3, fees), 0);
	assert_int_equal(fees[2], 0);
	assert_int_equal(oe_fee_split(7, funds, 1, fees), 0);
	assert_int_equal(fees[0], 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identifier_is_instance_intent_attempt),
		cmocka_unit_test(test_classification),
		cmocka_unit_test(test_average_cost),
		cmocka_unit_test(test_fee_split_is_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
