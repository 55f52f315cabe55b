/* The scheduler: the jobs of the config (plus tradectl's overrides) fired at their due times,
 * exactly once per due time through the job_runs ledger, by priority, with retries, fallbacks,
 * dependencies, deadlines and clock-jump detection. */
#ifndef TD_SCHED_H
#define TD_SCHED_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/job_spec.h"

struct supervisor;
struct sched;

/* Starts the scheduler on sup->db and sup->cfg: open runs and missed due times from the
 * ledger first (each job's catch-up policy), then the timer. 0 or -1 (logged). */
int sched_start(struct supervisor *sup);
void sched_stop(struct supervisor *sup);
/* After the loop ended, before the database closes. */
void sched_free(struct supervisor *sup);
/* Around a restore (maint_restore.c): the statements go, then come back on the new database
 * whose ledger is read again. sched_db_open: 0 or -1. */
void sched_db_close(struct supervisor *sup);
int sched_db_open(struct supervisor *sup);
/* The config was reloaded: the table is rebuilt (overrides kept) and the plan recomputed. */
void sched_reload(struct supervisor *sup);

/* For the control commands; each returns a reply object ({"ok": ...}). */
json_t *sched_jobs_json(struct supervisor *sup);
json_t *sched_run_now(struct supervisor *sup, const char *name);
json_t *sched_set(struct supervisor *sup, const char *name, const char *what, json_t *changes,
		  uid_t uid);
json_t *sched_history(struct supervisor *sup);
json_t *sched_rollback(struct supervisor *sup, int64_t version, uid_t uid);

/* sched.c, for sched_ctl.c: rebuild the table from the config and job_overrides (0, or -1
 * with err and the old table kept); whether name is a job. */
int sched_rebuild(struct supervisor *sup, char *err, size_t errlen);
int sched_has_job(struct supervisor *sup, const char *name);
/* After a change's commit: the plans (jobs.plan_ahead_ms) it could not make inside it. */
void sched_rearm(struct supervisor *sup);
/* The effective settings of every job in force (file + overrides, defaults filled in); borrowed,
 * NULL when the scheduler is not running. */
json_t *sched_defs(struct supervisor *sup);
/* sched_ctl.c: a schedule version of the jobs in force, when they differ from the latest one
 * (what: set, pause, resume, reload, rollback, start; note: free text). 1 recorded (its id in
 * *version), 0 nothing changed, -1 the database refused (logged). */
int sched_version_record(struct supervisor *sup, const char *what, const char *note, uid_t uid,
			 int64_t *version);
/* sched_ctl.c: one schedule_audit row (before/after NULL: the job did not exist). 0 or -1. */
int sched_audit(struct supervisor *sup, const char *job, const char *what, json_t *before,
		json_t *after, uid_t uid);

/* Pure parts, for the unit tests: the order in which waiting runs go (-1: a before b). */
struct sched_order_key {
	int urgent; /* its deadline is closer than its timeout */
	int priority;
	int64_t due_ms, id;
};
int sched_order_cmp(const struct sched_order_key *a, const struct sched_order_key *b);

#endif
