/* The scheduler's jobs as the config defines them ("jobs.defs.NAME"): parsed, checked (cron or
 * interval, zone, worker and action, dependency cycles) and held as a table the scheduler reads. */
#ifndef TD_JOB_SPEC_H
#define TD_JOB_SPEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cron.h"
#include "common/roles.h"

#define JOB_NAME_MAX 48
#define JOB_MAX_DEPS 8
/* worker "supervisor": the action runs in the supervisor itself (supervisor/sched_local.c). */
#define JOB_LOCAL_WORKER "supervisor"

struct job_spec {
	char name[JOB_NAME_MAX];
	char schedule[128];
	int is_interval;
	int64_t interval_ms;
	struct cron_expr cron;
	char zone[64];
	struct tzone *tz;
	int local;	/* a supervisor-local action */
	enum role role; /* when not local */
	char action[32];
	int priority;
	int64_t timeout_ms;
	int retries; /* further attempts after a transient failure */
	int64_t backoff_ms, backoff_max_ms;
	double jitter; /* each delay is cut by up to this fraction at random */
	int ndeps;
	int deps[JOB_MAX_DEPS]; /* indices in the table */
	int fallback;		/* index, or -1 */
	int64_t misfire_grace_ms, deadline_ms;
	int coalesce, catch_up, max_instances, enabled;
	enum cron_gap gap;
	enum cron_overlap overlap;
};

struct job_table {
	size_t n;
	struct job_spec *v;
};

/* Reports one problem at a config key path ("jobs.defs.backup.action"). */
typedef void (*job_spec_error_fn)(void *arg, const char *key, const char *msg);

/* Set by the supervisor's binary: 1 when name is a supervisor-local action. NULL: any name. */
extern int (*job_spec_local_known)(const char *name);

/* Parses every job of defs (the "jobs.defs" object, defaults filled in) into t. Returns 0, or
 * -1 after reporting each problem through err (t is then empty). */
int job_table_load(struct job_table *t, json_t *defs, job_spec_error_fn err, void *arg);
void job_table_free(struct job_table *t);
/* Parses one job from its object into j (dependencies are left to the caller). 0 or -1. */
int job_spec_parse(struct job_spec *j, const char *name, json_t *obj, const char *prefix,
		   job_spec_error_fn err, void *arg);
/* The index of name, or -1. */
int job_table_find(const struct job_table *t, const char *name);
/* The first due instant (ms) strictly after after_ms, or -1 when none. */
int64_t job_next_due(const struct job_spec *j, int64_t after_ms);
/* "@every 90s", "@every 5m", "@every 2h", "@every 1d": the interval in ms, or -1. */
int64_t job_parse_interval(const char *text);
/* Delay before attempt (2 = the first retry): backoff doubled per retry, capped, less up to
 * jitter of it; rnd in [0, 1) is the caller's random draw. */
int64_t job_backoff_ms(const struct job_spec *j, int attempt, double rnd);
/* A dependency cycle: 1 with its names "a -> b -> a" in buf, or 0. */
int job_table_cycle(const struct job_table *t, char *buf, size_t len);

#endif
