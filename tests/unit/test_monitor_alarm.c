/* Hysteresis: one raise when the value crosses the line, no storm while it hovers there, one
 * clear only once it is back beyond the clear line; both directions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "supervisor/monitor_alarm.h"

static void test_above_raises_once_and_clears_below_the_clear_line(void **state)
{
	static const struct {
		double value;
		enum alarm_change want;
	} steps[] = {
		{50, ALARM_NONE},    {90, ALARM_NONE}, /* at the line is not over it */
		{91, ALARM_RAISED},  {95, ALARM_NONE}, {89, ALARM_NONE}, /* between the lines */
		{91, ALARM_NONE},    {70, ALARM_NONE}, /* at the clear line is not below it */
		{69, ALARM_CLEARED}, {80, ALARM_NONE}, {92, ALARM_RAISED},
		{10, ALARM_CLEARED}, {10, ALARM_NONE},
	};
	struct alarm a = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		assert_int_equal(alarm_update(&a, ALARM_ABOVE, steps[i].value, 90, 70),
				 steps[i].want);
}

static void test_below_for_free_space(void **state)
{
	struct alarm a = {0};

	(void)state;
	assert_int_equal(alarm_update(&a, ALARM_BELOW, 50, 10, 15), ALARM_NONE);
	assert_int_equal(alarm_update(&a, ALARM_BELOW, 9.5, 10, 15), ALARM_RAISED);
	assert_int_equal(alarm_update(&a, ALARM_BELOW, 12, 10, 15), ALARM_NONE);
	assert_int_equal(alarm_update(&a, ALARM_BELOW, 0, 10, 15), ALARM_NONE);
	assert_int_equal(alarm_update(&a, ALARM_BELOW, 15.5, 10, 15), ALARM_CLEARED);
	assert_false(a.raised);
}

static void test_clear_line_on_the_wrong_side_never_flaps(void **state)
{
	/* A config with clear beyond raise: a value over both stays raised, never clears and
	 * raises again in the same round. */
	struct alarm a = {0};

	(void)state;
	assert_int_equal(alarm_update(&a, ALARM_ABOVE, 95, 90, 99), ALARM_RAISED);
	assert_int_equal(alarm_update(&a, ALARM_ABOVE, 95, 90, 99), ALARM_NONE);
	assert_int_equal(alarm_update(&a, ALARM_ABOVE, 50, 90, 99), ALARM_CLEARED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_above_raises_once_and_clears_below_the_clear_line),
		cmocka_unit_test(test_below_for_free_space),
		cmocka_unit_test(test_clear_line_on_the_wrong_side_never_flaps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
