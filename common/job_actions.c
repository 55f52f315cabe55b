/* The actions that workers can run as jobs: append a row when a worker gains one. */
#include "common/job_actions.h"

#include <string.h>

static const struct job_action_info actions[] = {
	{ROLE_MAINTENANCE, "checkpoint", "WAL checkpoint (TRUNCATE) and PRAGMA optimize"},
	{ROLE_MAINTENANCE, "backup", "online backup, verified, fsynced, renamed, rotated, copied"},
	{ROLE_MAINTENANCE, "prune", "old candles, delivered notifications, job runs, in batches"},
	{ROLE_MAINTENANCE, "daily_summary", "trades, PnL, fees and alerts of the day, notified"},
	{ROLE_STRATEGY, "check",
	 "the strategy's periodic condition check (on_check) of every market"},
	{ROLE_STRATEGY, "window_open", "open the trading window now (until the clock's next edge)"},
	{ROLE_STRATEGY, "window_close",
	 "close the trading window now: flatten or hold as strategy.on_window_close says"},
	{ROLE_ORDER_EXECUTION, "cancel_open", "cancel every open order on the exchange"},
	{ROLE_ORDER_EXECUTION, "reconcile",
	 "resolve unknown intents, poll open orders, compare balances"},
	{ROLE_WORKER_COUNT, NULL, NULL},
};

const struct job_action_info *job_actions(void)
{
	return actions;
}

const struct job_action_info *job_action_find(enum role role, const char *name)
{
	for (const struct job_action_info *a = actions; a->name; a++)
		if (a->role == role && strcmp(a->name, name) == 0)
			return a;
	return NULL;
}
