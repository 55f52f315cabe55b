/* The role table: start order follows dependencies, names round-trip, sections are as listed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/roles.h"

static void test_dependencies_start_first(void **state)
{
	const enum role *order = role_start_order();
	int position[ROLE_COUNT];

	(void)state;
	for (int i = 0; i < ROLE_COUNT; i++)
		position[order[i]] = i;
	for (int r = 0; r < ROLE_COUNT; r++)
		for (int d = 0; d < ROLE_COUNT; d++)
			if (role_info((enum role)r)->depends_on & ROLE_BIT(d))
				assert_true(position[d] < position[r]);
	assert_int_equal(order[0], ROLE_SIM);
	assert_int_equal(order[ROLE_COUNT - 1], ROLE_STRATEGY);
}

static void test_every_role_once(void **state)
{
	int seen[ROLE_COUNT] = {0};

	(void)state;
	for (int i = 0; i < ROLE_COUNT; i++)
		seen[role_start_order()[i]]++;
	for (int r = 0; r < ROLE_COUNT; r++) {
		assert_int_equal(seen[r], 1);
		assert_int_equal(role_parse(role_name((enum role)r)), r);
	}
	assert_int_equal(role_parse("no-such-role"), -1);
	assert_string_equal(role_name(ROLE_COUNT), "unknown");
}

static void test_sections_and_binaries(void **state)
{
	(void)state;
	assert_true(role_receives_section(ROLE_MARKET_DATA, "market_data"));
	assert_true(role_receives_section(ROLE_MARKET_DATA, "exchange"));
	assert_false(role_receives_section(ROLE_MARKET_DATA, "sim"));
	assert_false(role_receives_section(ROLE_STRATEGY, "exchange"));
	/* The api worker serves HTTP: its own section, no exchange URL, no account. */
	assert_true(role_receives_section(ROLE_API, "api"));
	assert_false(role_receives_section(ROLE_API, "exchange"));
	assert_false(role_receives_section(ROLE_API, "sim"));
	assert_int_equal(role_info(ROLE_API)->binary, ROLE_BIN_API);
	/* Only order-execution (and the simulator itself) hold the exchange secrets. */
	for (int r = 0; r < ROLE_WORKER_COUNT; r++)
		assert_int_equal(role_info((enum role)r)->secret_holder, r == ROLE_ORDER_EXECUTION);
	/* Whatever talks to the network runs in the binary with libcurl, and nothing else does. */
	for (int r = 0; r < ROLE_WORKER_COUNT; r++)
		assert_int_equal(role_info((enum role)r)->network,
				 role_info((enum role)r)->binary == ROLE_BIN_NET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dependencies_start_first),
		cmocka_unit_test(test_every_role_once),
		cmocka_unit_test(test_sections_and_binaries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
