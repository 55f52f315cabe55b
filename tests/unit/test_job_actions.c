/* The config's list of job actions and what the workers implement are the same set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/job_actions.h"
#include "workers/worker.h"

static const struct worker_ops *const ops_of[ROLE_WORKER_COUNT] = {
	[ROLE_NOTIFIER] = &notifier_ops,       [ROLE_MAINTENANCE] = &maintenance_ops,
	[ROLE_MARKET_DATA] = &market_data_ops, [ROLE_ORDER_EXECUTION] = &order_execution_ops,
	[ROLE_STRATEGY] = &strategy_ops,       [ROLE_API] = &api_ops,
};

static const struct worker_action *implemented(enum role role, const char *name)
{
	for (const struct worker_action *a = ops_of[role]->actions; a && a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

static void test_every_listed_action_is_implemented(void **state)
{
	int rows = 0;

	(void)state;
	for (const struct job_action_info *a = job_actions(); a->name; a++, rows++) {
		assert_true((unsigned)a->role < ROLE_WORKER_COUNT);
		assert_true(strlen(a->name) < IPC_ACTION_LEN);
		assert_non_null(a->summary);
		assert_non_null(implemented(a->role, a->name));
		assert_ptr_equal(job_action_find(a->role, a->name), a);
	}
	assert_true(rows > 0);
}

static void test_every_implemented_action_is_listed(void **state)
{
	(void)state;
	for (int r = 0; r < ROLE_WORKER_COUNT; r++)
		for (const struct worker_action *a = ops_of[r]->actions; a && a->name; a++) {
			assert_non_null(a->run);
			assert_non_null(job_action_find((enum role)r, a->name));
		}
}

static void test_find_is_per_role(void **state)
{
	(void)state;
	assert_non_null(job_action_find(ROLE_MAINTENANCE, "checkpoint"));
	assert_null(job_action_find(ROLE_STRATEGY, "checkpoint"));
	assert_null(job_action_find(ROLE_MAINTENANCE, "no-such-action"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_listed_action_is_implemented),
		cmocka_unit_test(test_every_implemented_action_is_listed),
		cmocka_unit_test(test_find_is_per_role),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
