/* Every action a worker runs as a job, by role: what the config may name in a job, checked at
 * load time, so that a typo is a config error and not a failed run at 00:00. Each row is
 * implemented by its worker's ops->actions (workers/); test_job_actions keeps the two equal. */
#ifndef TD_JOB_ACTIONS_H
#define TD_JOB_ACTIONS_H

#include "common/roles.h"

struct job_action_info {
	enum role role;
	const char *name;
	const char *summary; /* for tradectl jobs and docs */
};

/* The table, ended by a row with a NULL name. */
const struct job_action_info *job_actions(void);
/* The row of role's action name, or NULL. */
const struct job_action_info *job_action_find(enum role role, const char *name);

#endif
