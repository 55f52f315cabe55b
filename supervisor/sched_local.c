/* The table of supervisor-local actions (jobs with worker "supervisor"): append a row to add
 * one; the config checks job actions against it. */
#include "supervisor/sched_local.h"

#include <string.h>

#include "supervisor/status_report.h"

const struct sched_local_action sched_local_actions[] = {
	{"system_check", system_check_run,
	 "disk free of data_dir, memory, the workers' health, kernel clock NTP sync and jumps"},
	{"status_report", status_report_queue, "the hourly status report, queued to the notifier"},
	{NULL, NULL, NULL},
};

const struct sched_local_action *sched_local_find(const char *name)
{
	for (const struct sched_local_action *a = sched_local_actions; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

int sched_local_known(const char *name)
{
	return sched_local_find(name) != NULL;
}
