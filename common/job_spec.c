/* The scheduler's jobs as the config defines them: each "jobs.defs.NAME" object parsed into a
 * struct job_spec and checked, so that a typo is an error at load time and not at 00:00. */
#include "common/job_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/job_actions.h"
#include "common/tzone.h"

int (*job_spec_local_known)(const char *name);

/* The value of key in obj, or the schema's default for "jobs.defs.*.KEY": a job changed by
 * tradectl job set is parsed from the same rows as one from the file. Borrowed or new. */
static json_t *field(json_t *obj, const char *key, json_t **owned)
{
	char path[96];
	json_t *v = json_object_get(obj, key);

	*owned = NULL;
	if (v)
		return v;
	snprintf(path, sizeof(path), "jobs.defs.*.%s", key);
	for (const struct config_key *k = config_schema; k->path; k++)
		if (strcmp(k->path, path) == 0 && k->defval)
			return *owned = json_loads(k->defval, JSON_DECODE_ANY, NULL);
	return NULL;
}

static int64_t int_field(json_t *obj, const char *key)
{
	json_t *owned, *v = field(obj, key, &owned);
	int64_t n = json_is_integer(v) ? json_integer_value(v) : 0;

	json_decref(owned);
	return n;
}

static double num_field(json_t *obj, const char *key)
{
	json_t *owned, *v = field(obj, key, &owned);
	double n = json_is_number(v) ? json_number_value(v) : 0;

	json_decref(owned);
	return n;
}

static int bool_field(json_t *obj, const char *key)
{
	json_t *owned, *v = field(obj, key, &owned);
	int b = json_is_true(v);

	json_decref(owned);
	return b;
}

static void str_field(json_t *obj, const char *key, char *out, size_t len)
{
	json_t *owned, *v = field(obj, key, &owned);

	snprintf(out, len, "%s", json_is_string(v) ? json_string_value(v) : "");
	json_decref(owned);
}

int64_t job_parse_interval(const char *text)
{
	char *end;
	long long n;
	int64_t unit;

	if (strncmp(text, "@every ", 7) != 0)
		return -1;
	n = strtoll(text + 7, &end, 10);
	if (end == text + 7 || n <= 0 || end[0] == '\0' || end[1] != '\0')
		return -1;
	switch (*end) {
	case 's':
		unit = 1000;
		break;
	case 'm':
		unit = 60000;
		break;
	case 'h':
		unit = 3600000;
		break;
	case 'd':
		unit = 86400000;
		break;
	default:
		return -1;
	}
	if (n > 366LL * 86400000 / unit)
		return -1;
	return n * unit;
}

static void report(job_spec_error_fn err, void *arg, const char *prefix, const char *key,
		   const char *fmt, const char *a, const char *b)
{
	char path[160], msg[600];

	snprintf(path, sizeof(path), "%s%s%s", prefix, key[0] ? "." : "", key);
	snprintf(msg, sizeof(msg), fmt, a, b);
	err(arg, path, msg);
}

int job_spec_parse(struct job_spec *j, const char *name, json_t *obj, const char *prefix,
		   job_spec_error_fn err, void *arg)
{
	char worker[32], gap[16], overlap[16], why[160];
	int bad = 0, r;

	memset(j, 0, sizeof(*j));
	j->fallback = -1;
	if (strlen(name) >= JOB_NAME_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(name) || !name[0]) {
		report(err, arg, prefix, "", "job name \"%.48s\": use 1 to 47 of a-z 0-9 _ -%s",
		       name, "");
		return -1;
	}
	snprintf(j->name, sizeof(j->name), "%s", name);
	str_field(obj, "schedule", j->schedule, sizeof(j->schedule));
	str_field(obj, "zone", j->zone, sizeof(j->zone));
	str_field(obj, "worker", worker, sizeof(worker));
	str_field(obj, "action", j->action, sizeof(j->action));
	str_field(obj, "dst_gap", gap, sizeof(gap));
	str_field(obj, "dst_overlap", overlap, sizeof(overlap));
	j->priority = (int)int_field(obj, "priority");
	j->timeout_ms = int_field(obj, "timeout_ms");
	j->retries = (int)int_field(obj, "retries");
	j->backoff_ms = int_field(obj, "backoff_ms");
	j->backoff_max_ms = int_field(obj, "backoff_max_ms");
	j->jitter = num_field(obj, "jitter");
	j->misfire_grace_ms = int_field(obj, "misfire_grace_ms");
	j->deadline_ms = int_field(obj, "deadline_ms");
	j->coalesce = bool_field(obj, "coalesce");
	j->catch_up = bool_field(obj, "catch_up");
	j->max_instances = (int)int_field(obj, "max_instances");
	j->enabled = bool_field(obj, "enabled");
	j->gap = strcmp(gap, "skip") == 0 ? CRON_GAP_SKIP : CRON_GAP_RUN_LATE;
	j->overlap = strcmp(overlap, "both") == 0 ? CRON_OVERLAP_BOTH : CRON_OVERLAP_ONCE;

	j->interval_ms = job_parse_interval(j->schedule);
	j->is_interval = j->interval_ms > 0;
	if (!j->is_interval && strncmp(j->schedule, "@every", 6) == 0) {
		report(err, arg, prefix, "schedule",
		       "\"%.64s\" is not an interval (\"@every N\" with s, m, h or d, up to 366 "
		       "days)%s",
		       j->schedule, "");
		bad = 1;
	} else if (!j->is_interval && cron_parse(&j->cron, j->schedule, why, sizeof(why)) < 0) {
		report(err, arg, prefix, "schedule", "invalid cron expression \"%.64s\": %s",
		       j->schedule, why);
		bad = 1;
	}
	j->tz = tzone_load(j->zone, why, sizeof(why));
	if (!j->tz) {
		report(err, arg, prefix, "zone", "unknown time zone \"%.64s\": %s", j->zone, why);
		bad = 1;
	}
	if (strcmp(worker, JOB_LOCAL_WORKER) == 0) {
		j->local = 1;
		if (job_spec_local_known && !job_spec_local_known(j->action)) {
			report(err, arg, prefix, "action",
			       "the supervisor has no local action \"%.32s\"%s", j->action, "");
			bad = 1;
		}
	} else if ((r = role_parse(worker)) < 0 || r >= ROLE_WORKER_COUNT) {
		report(err, arg, prefix, "worker",
		       "unknown worker \"%.32s\" (a worker role or \"%s\")", worker,
		       JOB_LOCAL_WORKER);
		bad = 1;
	} else {
		j->role = (enum role)r;
		if (!job_action_find(j->role, j->action)) {
			report(err, arg, prefix, "action", "worker %s has no action \"%.32s\"",
			       worker, j->action);
			bad = 1;
		}
	}
	if (j->backoff_max_ms < j->backoff_ms) {
		report(err, arg, prefix, "backoff_max_ms", "must be at least backoff_ms%s%s", "",
		       "");
		bad = 1;
	}
	if (bad) {
		tzone_free(j->tz);
		j->tz = NULL;
		return -1;
	}
	return 0;
}

int job_table_find(const struct job_table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Depth-first search; state 1: on the path, 2: done. Fills path with the cycle's names. */
static int dfs(const struct job_table *t, int i, char *state, int *stack, int depth, char *buf,
	       size_t len)
{
	state[i] = 1;
	stack[depth] = i;
	for (int d = 0; d < t->v[i].ndeps; d++) {
		int k = t->v[i].deps[d];

		if (state[k] == 1) {
			size_t used = 0;
			int from = depth;

			while (from > 0 && stack[from] != k)
				from--;
			for (int s = from; s <= depth; s++)
				used += (size_t)snprintf(buf + used, used < len ? len - used : 0,
							 "%s -> ", t->v[stack[s]].name);
			snprintf(buf + (used < len ? used : len - 1), used < len ? len - used : 1,
				 "%s", t->v[k].name);
			return 1;
		}
		if (state[k] == 0 && dfs(t, k, state, stack, depth + 1, buf, len))
			return 1;
	}
	state[i] = 2;
	return 0;
}

int job_table_cycle(const struct job_table *t, char *buf, size_t len)
{
	char *state = calloc(t->n + 1, 1);
	int *stack = calloc(t->n + 1, sizeof(int));
	int found = 0;

	if (!state || !stack) {
		free(state);
		free(stack);
		return 0;
	}
	for (size_t i = 0; i < t->n && !found; i++)
		if (state[i] == 0)
			found = dfs(t, (int)i, state, stack, 0, buf, len);
	free(state);
	free(stack);
	return found;
}

/* depends_on and fallback name other jobs: resolved once every job is known. */
static int link_job(struct job_table *t, struct job_spec *j, json_t *obj, const char *prefix,
		    job_spec_error_fn err, void *arg)
{
	json_t *owned, *deps = field(obj, "depends_on", &owned), *item;
	char fallback[JOB_NAME_MAX + 8];
	size_t i;
	int bad = 0;

	json_array_foreach(deps, i, item)
	{
		const char *dep = json_string_value(item);
		int k = dep ? job_table_find(t, dep) : -1;

		if (k < 0) {
			report(err, arg, prefix, "depends_on", "no job named \"%.48s\"%s",
			       dep ? dep : "?", "");
			bad = 1;
		} else if (j->ndeps >= JOB_MAX_DEPS) {
			report(err, arg, prefix, "depends_on", "at most 8 dependencies%s%s", "",
			       "");
			bad = 1;
		} else {
			j->deps[j->ndeps++] = k;
		}
	}
	json_decref(owned);
	str_field(obj, "fallback", fallback, sizeof(fallback));
	if (fallback[0]) {
		j->fallback = job_table_find(t, fallback);
		if (j->fallback < 0 || strcmp(fallback, j->name) == 0) {
			report(err, arg, prefix, "fallback", "no other job named \"%.48s\"%s",
			       fallback, "");
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

int job_table_load(struct job_table *t, json_t *defs, job_spec_error_fn err, void *arg)
{
	const char *name;
	json_t *obj;
	char prefix[96], cycle[512];
	int bad = 0;
	size_t i = 0;

	t->n = 0;
	t->v = calloc(json_object_size(defs) + 1, sizeof(*t->v));
	if (!t->v) {
		err(arg, "jobs", "out of memory");
		return -1;
	}
	json_object_foreach(defs, name, obj)
	{
		snprintf(prefix, sizeof(prefix), "jobs.defs.%s", name);
		if (job_spec_parse(&t->v[t->n], name, obj, prefix, err, arg) < 0)
			bad = 1;
		t->n++;
	}
	json_object_foreach(defs, name, obj)
	{
		snprintf(prefix, sizeof(prefix), "jobs.defs.%s", name);
		if (!bad && link_job(t, &t->v[i], obj, prefix, err, arg) < 0)
			bad = 1;
		i++;
	}
	if (!bad && job_table_cycle(t, cycle, sizeof(cycle))) {
		/* Reported at the depends_on of the cycle's first job. */
		int first = (int)strcspn(cycle, " ");

		snprintf(prefix, sizeof(prefix), "jobs.defs.%.*s", first < 48 ? first : 48, cycle);
		report(err, arg, prefix, "depends_on", "dependency cycle: %s%s", cycle, "");
		bad = 1;
	}
	if (bad) {
		job_table_free(t);
		return -1;
	}
	return 0;
}

void job_table_free(struct job_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		tzone_free(t->v[i].tz);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

int64_t job_next_due(const struct job_spec *j, int64_t after_ms)
{
	int64_t s;

	if (j->is_interval)
		return (after_ms / j->interval_ms + 1) * j->interval_ms;
	/* cron_next works in seconds: the first fire strictly after the second of after_ms. */
	s = cron_next(&j->cron, j->tz, after_ms >= 0 ? after_ms / 1000 : -1, j->gap, j->overlap);
	return s < 0 ? -1 : s * 1000;
}

int64_t job_backoff_ms(const struct job_spec *j, int attempt, double rnd)
{
	int64_t d = j->backoff_ms;

	for (int i = 2; i < attempt && d < j->backoff_max_ms; i++)
		d *= 2;
	if (d > j->backoff_max_ms)
		d = j->backoff_max_ms;
	return d - (int64_t)((double)d * j->jitter * rnd);
}
