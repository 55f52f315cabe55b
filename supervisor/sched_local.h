/* Supervisor-local actions: jobs that run in the supervisor itself, with no worker
 * (worker "supervisor" in a job). Add one: a function and a row in sched_local_actions. */
#ifndef TD_SCHED_LOCAL_H
#define TD_SCHED_LOCAL_H

#include <stddef.h>

struct supervisor;

struct sched_local_action {
	const char *name;
	/* Returns JOB_OK, JOB_TRANSIENT or JOB_PERMANENT, with a one-line message in msg. */
	int (*run)(struct supervisor *sup, char *msg, size_t len);
	const char *summary;
};

/* The table, ended by a row with a NULL name. */
extern const struct sched_local_action sched_local_actions[];
const struct sched_local_action *sched_local_find(const char *name);
/* 1 when name is a row of the table (job_spec_local_known). */
int sched_local_known(const char *name);

/* sched_system_check.c */
int system_check_run(struct supervisor *sup, char *msg, size_t len);

#endif
