/* The scheduler: fires each job at its due times, exactly once per due time through the
 * job_runs ledger (a row is committed before the run starts), by priority, one run per worker
 * at a time, with retries, fallbacks, dependencies, deadlines and clock-jump detection. */
#include "supervisor/sched.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "common/outbox.h"
#include "common/tzone.h"
#include "supervisor/job_dispatch.h"
#include "supervisor/sched_local.h"
#include "supervisor/supervisor.h"

#define SCHED_TICK_MAX_MS 1000 /* real ms between two looks at the clock, at most */

enum run_state { RUN_QUEUED, RUN_RUNNING, RUN_RETRY };

struct sched_run {
	int64_t id; /* job_runs.id, also the run id of job_dispatch */
	int job;
	int64_t due_ms, next_ms, started_ms;
	int attempts;
	enum run_state state;
	int deadline_alerted;
	int blocked;  /* this pump: could not start (worker refused); others may go first */
	int detached; /* its row was in a database since replaced (restore): result not written */
	int planned;  /* its row was committed ahead of its due time (jobs.plan_ahead_ms) */
	char trigger[12];
};

/* A state change of a ledger row, kept until the database takes it (a lock held by another
 * process must not leave a finished run "running" in the ledger). */
struct row_write {
	int64_t id;
	int start; /* 1: the run started (attempts, t_ms = started_ms) */
	int attempts;
	int64_t t_ms, duration, next_ms;
	char state[8], result[12], reason[200];
};

struct job_state {
	int64_t next_due; /* -1: none within the cron horizon */
	int running;
};

enum {
	ST_INSERT,
	ST_START,
	ST_END,
	ST_LAST_DUE,
	ST_OPEN,
	ST_LAST,
	ST_DEP,
	ST_OVERRIDES,
	ST_UNPLAN,
	ST_COUNT
};

static const char *const sql[ST_COUNT] = {
	[ST_INSERT] = "INSERT OR IGNORE INTO job_runs(job, due_ms, trigger, state, next_ms, "
		      "reason, ended_ms) VALUES(?,?,?,?,?,?,?)",
	[ST_START] = "UPDATE job_runs SET state='running', attempts=?, "
		     "started_ms=COALESCE(started_ms, ?) WHERE id=?",
	[ST_END] = "UPDATE job_runs SET state=?, ended_ms=?, duration_ms=?, result=?, reason=?, "
		   "next_ms=? WHERE id=?",
	[ST_LAST_DUE] = "SELECT MAX(due_ms) FROM job_runs WHERE job=? AND trigger IN "
			"('schedule', 'catch_up')",
	[ST_OPEN] =
		"SELECT id, job, due_ms, trigger, state, attempts, COALESCE(next_ms, due_ms), "
		"reason FROM job_runs WHERE state IN ('queued', 'running', 'retry') ORDER BY id",
	[ST_LAST] = "SELECT state, result, reason, due_ms, COALESCE(duration_ms, 0) FROM job_runs "
		    "WHERE job=? AND state IN ('ok', 'failed', 'missed') ORDER BY id DESC LIMIT 1",
	[ST_DEP] = "SELECT SUM(state='ok'), SUM(state IN ('queued', 'running', 'retry')) FROM "
		   "job_runs WHERE job=? AND due_ms>? AND due_ms<=? AND trigger IN "
		   "('schedule', 'catch_up', 'manual')",
	[ST_OVERRIDES] = "SELECT job, settings FROM job_overrides",
	/* A plan withdrawn before its due time (the schedule changed): it was never due. */
	[ST_UNPLAN] = "DELETE FROM job_runs WHERE id=? AND state='queued' AND attempts=0",
};

struct sched {
	struct supervisor *sup;
	struct job_table table;
	struct job_state *js;
	struct sched_run *runs;
	size_t nruns, cap;
	json_t *defs; /* the jobs in force as JSON (file + overrides): reloads audited */
	struct row_write *writes; /* in order, oldest first */
	size_t nwrites, wcap;
	int busy[ROLE_WORKER_COUNT];
	uv_timer_t timer;
	uv_signal_t step_signal; /* test-only clock step, see sched_start */
	int64_t step_ms;
	int64_t last_now, last_mono;
	uint64_t rng;
	sqlite3_stmt *st[ST_COUNT];
	int closing;
	int defer_writes; /* in pump: the ledger's state changes wait for its one commit */
	int local_ended;  /* in pump: a local run ended (a dependant may be free now) */
	int db_gone;	  /* sched_db_close: the statements are finalized until sched_db_open */
};

static void pump(struct sched *s);
static void arm(struct sched *s);

int sched_order_cmp(const struct sched_order_key *a, const struct sched_order_key *b)
{
	if (a->urgent != b->urgent)
		return a->urgent ? -1 : 1;
	if (a->priority != b->priority)
		return a->priority > b->priority ? -1 : 1;
	if (a->due_ms != b->due_ms)
		return a->due_ms < b->due_ms ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static double rnd(struct sched *s)
{
	/* xorshift64: the jitter needs spread, not secrecy. */
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return (double)(s->rng >> 11) / 9007199254740992.0;
}

static void fmt_local(const struct job_spec *j, int64_t ms, char *buf, size_t len)
{
	int off;

	if (ms < 0) {
		snprintf(buf, len, "never");
		return;
	}
	off = tzone_offset(j->tz, ms / 1000) / 60;
	clock_format(ms, off, buf, (unsigned)len);
	snprintf(buf + strlen(buf), len - strlen(buf), "%c%02d:%02d", off < 0 ? '-' : '+',
		 abs(off) / 60, abs(off) % 60);
}

/* Inserts a ledger row; 1 when new (id in *id), 0 when that due time is already there. */
static int ledger_insert(struct sched *s, const char *job, int64_t due, const char *trigger,
			 const char *state, const char *reason, int64_t *id)
{
	sqlite3_stmt *st = s->st[ST_INSERT];
	int changed;

	sqlite3_bind_text(st, 1, job, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, due);
	sqlite3_bind_text(st, 3, trigger, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, due);
	sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC);
	if (strcmp(state, "missed") == 0)
		sqlite3_bind_int64(st, 7, clock_now_ms());
	else
		sqlite3_bind_null(st, 7);
	if (db_step_reset(st) != SQLITE_DONE) {
		log_warnx("job_runs: cannot record %s due %" PRId64 " (tried again): %s", job, due,
			  sqlite3_errmsg(s->sup->db));
		return -1;
	}
	changed = sqlite3_changes(s->sup->db);
	if (id)
		*id = sqlite3_last_insert_rowid(s->sup->db);
	return changed == 1;
}

/* Records a due time that does not run. -1 when the database refused (try again later). */
static int missed(struct sched *s, int job, int64_t due, const char *trigger, const char *why)
{
	const struct job_spec *j = &s->table.v[job];
	int rc = ledger_insert(s, j->name, due, trigger, "missed", why, NULL);

	if (rc == 1)
		log_warnx("job %s due %" PRId64 ": MISSED: %s", j->name, due, why);
	return rc < 0 ? -1 : 0;
}

/* A run planned ahead whose due time has not come: it waits for nothing yet. */
static int ahead(const struct sched_run *r, int64_t now)
{
	return r->planned && r->state == RUN_QUEUED && r->attempts == 0 && r->due_ms > now;
}

static int queued_of(const struct sched *s, int job)
{
	int64_t now = clock_now_ms();

	for (size_t i = 0; i < s->nruns; i++)
		if (s->runs[i].job == job && s->runs[i].state == RUN_QUEUED &&
		    !ahead(&s->runs[i], now))
			return (int)i;
	return -1;
}

static int has_run(const struct sched *s, int job)
{
	for (size_t i = 0; i < s->nruns; i++)
		if (s->runs[i].job == job)
			return 1;
	return 0;
}

static size_t waiting(const struct sched *s)
{
	int64_t now = clock_now_ms();
	size_t n = 0;

	for (size_t i = 0; i < s->nruns; i++)
		n += s->runs[i].state != RUN_RUNNING && !ahead(&s->runs[i], now);
	return n;
}

static struct sched_run *add_run(struct sched *s)
{
	if (s->nruns == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct sched_run *v = realloc(s->runs, cap * sizeof(*v));

		if (!v)
			return NULL;
		s->runs = v;
		s->cap = cap;
	}
	return memset(&s->runs[s->nruns++], 0, sizeof(*s->runs));
}

/* One due time of job: a ledger row first, then the run waits in the queue. 1 queued, 0 in
 * the ledger already, -1 decided otherwise (coalesced, queue full: recorded), -2 the database
 * refused (nothing recorded: try again). */
static int enqueue(struct sched *s, int job, int64_t due, const char *trigger)
{
	const struct job_spec *j = &s->table.v[job];
	struct sched_run *r;
	char why[96];
	int64_t id;
	int q = queued_of(s, job);

	if (j->coalesce && q >= 0 && strcmp(trigger, "fallback") != 0 &&
	    strcmp(trigger, "manual") != 0) {
		snprintf(why, sizeof(why), "coalesced into the run due at %" PRId64,
			 s->runs[q].due_ms);
		return missed(s, job, due, trigger, why) < 0 ? -2 : -1;
	}
	if (waiting(s) >= (size_t)s->sup->cfg.s.jobs.queue_max) {
		if (missed(s, job, due, trigger, "queue full (jobs.queue_max)") < 0)
			return -2;
		supervisor_alert(s->sup, OUTBOX_WARNING, "job_queue_full",
				 "job %s due at %" PRId64 " not run: the job queue is full",
				 j->name, due);
		return -1;
	}
	switch (ledger_insert(s, j->name, due, trigger, "queued", "", &id)) {
	case 0:
		return 0; /* that due time is in the ledger already: it ran or was decided */
	case -1:
		return -2; /* the database refused: the caller tries again */
	}
	r = add_run(s);
	if (!r) {
		log_warnx("job %s: out of memory for the queue (left queued in the ledger)",
			  j->name);
		return -1;
	}
	r->id = id;
	r->job = job;
	r->due_ms = r->next_ms = due;
	r->state = RUN_QUEUED;
	snprintf(r->trigger, sizeof(r->trigger), "%s", trigger);
	return 1;
}

/* A run outside the schedule (manual, fallback): due now, or the first free ms after. */
static int enqueue_now(struct sched *s, int job, const char *trigger, int64_t *due)
{
	int rc;

	*due = clock_now_ms();
	while ((rc = enqueue(s, job, *due, trigger)) == 0)
		(*due)++;
	return rc == 1 ? 0 : -1;
}

/* Due times of job in (from, to]: the latest runs when run_last, every other is MISSED with why.
 * Returns the first due time after to. */
static int64_t backlog(struct sched *s, int job, int64_t from, int64_t to, int run_last,
		       const char *why)
{
	const struct job_spec *j = &s->table.v[job];
	int64_t due = job_next_due(j, from), prev = -1, limit = s->sup->cfg.s.jobs.max_missed_rows;
	int64_t n = 0;

	while (due >= 0 && due <= to) {
		if (prev >= 0 && n++ < limit)
			missed(s, job, prev, "schedule", why);
		prev = due;
		due = job_next_due(j, due);
	}
	if (n > limit)
		log_warnx("job %s: %" PRId64 " more due times missed (%s), not recorded one by one",
			  j->name, n - limit, why);
	if (prev >= 0) {
		if (run_last)
			enqueue(s, job, prev, "catch_up");
		else
			missed(s, job, prev, "schedule", why);
	}
	return due;
}

/* 1: every dependency of r succeeded in r's period; 0: wait; -1: one cannot any more. */
static int deps_state(struct sched *s, const struct sched_run *r, char *why, size_t len)
{
	const struct job_spec *j = &s->table.v[r->job];
	int64_t next = job_next_due(j, r->due_ms);
	int64_t start = next > r->due_ms ? 2 * r->due_ms - next : r->due_ms - 86400000;
	int64_t now = clock_now_ms();

	if (strcmp(r->trigger, "manual") == 0 || strcmp(r->trigger, "fallback") == 0)
		return 1;
	for (int d = 0; d < j->ndeps; d++) {
		sqlite3_stmt *st = s->st[ST_DEP];
		const struct job_spec *dep = &s->table.v[j->deps[d]];
		int ok = 0, open = 0;

		sqlite3_bind_text(st, 1, dep->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, start);
		sqlite3_bind_int64(st, 3, r->due_ms);
		if (sqlite3_step(st) == SQLITE_ROW) {
			ok = sqlite3_column_int(st, 0);
			open = sqlite3_column_int(st, 1);
		}
		sqlite3_reset(st);
		if (ok)
			continue;
		if (open || now - r->due_ms <= j->misfire_grace_ms)
			return 0;
		snprintf(why, len, "dependency %s did not succeed in this period", dep->name);
		return -1;
	}
	return 1;
}

static struct sched_run *find_run(struct sched *s, int64_t id)
{
	for (size_t i = 0; i < s->nruns; i++)
		if (s->runs[i].id == id)
			return &s->runs[i];
	return NULL;
}

static void drop_run(struct sched *s, struct sched_run *r)
{
	*r = s->runs[--s->nruns];
}

static int apply_write(struct sched *s, const struct row_write *w)
{
	sqlite3_stmt *st = s->st[w->start ? ST_START : ST_END];

	if (w->start) {
		sqlite3_bind_int(st, 1, w->attempts);
		sqlite3_bind_int64(st, 2, w->t_ms);
		sqlite3_bind_int64(st, 3, w->id);
		return db_step_reset(st) == SQLITE_DONE ? 0 : -1;
	}
	sqlite3_bind_text(st, 1, w->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, w->t_ms);
	sqlite3_bind_int64(st, 3, w->duration);
	sqlite3_bind_text(st, 4, w->result, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, w->reason, -1, SQLITE_STATIC);
	if (w->next_ms >= 0)
		sqlite3_bind_int64(st, 6, w->next_ms);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, w->id);
	return db_step_reset(st) == SQLITE_DONE ? 0 : -1;
}

/* Writes what waits, in order; stops at the first the database refuses (tried next tick). */
static void flush_writes(struct sched *s)
{
	size_t done = 0;

	while (done < s->nwrites && apply_write(s, &s->writes[done]) == 0)
		done++;
	if (done < s->nwrites)
		log_warnx("job_runs: %zu state changes wait for the database: %s",
			  s->nwrites - done, sqlite3_errmsg(s->sup->db));
	memmove(s->writes, s->writes + done, (s->nwrites - done) * sizeof(*s->writes));
	s->nwrites -= done;
}

static void queue_write(struct sched *s, const struct row_write *w)
{
	if (s->nwrites == s->wcap) {
		size_t cap = s->wcap ? s->wcap * 2 : 16;
		struct row_write *v = realloc(s->writes, cap * sizeof(*v));

		if (!v) {
			log_warnx("job_runs: out of memory: the change of run %" PRId64 " is lost",
				  w->id);
			return;
		}
		s->writes = v;
		s->wcap = cap;
	}
	s->writes[s->nwrites++] = *w;
	if (!s->defer_writes)
		flush_writes(s);
}

/* The state changes of one pump in one transaction: one fsync, not two per run, between the
 * starts of runs due together. Without the transaction each is still committed on its own. */
static void commit_writes(struct sched *s)
{
	int in_tx;

	if (!s->nwrites)
		return;
	/* Inside a change's transaction (sched_ctl.c) the writes simply join it. */
	in_tx = s->nwrites > 1 && sqlite3_get_autocommit(s->sup->db) &&
		db_exec(s->sup->db, "BEGIN IMMEDIATE") == 0;
	flush_writes(s);
	if (in_tx && db_exec(s->sup->db, "COMMIT") < 0) {
		db_exec(s->sup->db, "ROLLBACK");
		log_warnx("job_runs: the state changes of this pump wait for the database");
	}
}

static void end_row(struct sched *s, int64_t id, const char *state, int64_t duration,
		    const char *result, const char *reason, int64_t next_ms)
{
	struct row_write w = {
		.id = id, .t_ms = clock_now_ms(), .duration = duration, .next_ms = next_ms};

	snprintf(w.state, sizeof(w.state), "%s", state);
	snprintf(w.result, sizeof(w.result), "%s", result);
	snprintf(w.reason, sizeof(w.reason), "%s", reason);
	queue_write(s, &w);
}

static void run_ended(struct sched *s, int64_t id, enum ipc_job_result result, const char *msg,
		      int64_t duration)
{
	struct sched_run *r = find_run(s, id);
	const struct job_spec *j;
	static const char *const names[] = {"ok", "transient", "permanent"};
	int64_t now = clock_now_ms();

	if (!r)
		return;
	j = &s->table.v[r->job];
	s->js[r->job].running--;
	if (!j->local)
		s->busy[j->role]--;
	if (r->detached || s->db_gone) {
		log_notice("job %s: run of a replaced database ended (%s): not recorded", j->name,
			   msg);
		drop_run(s, r);
		return;
	}
	if (result == JOB_TRANSIENT && r->attempts <= j->retries) {
		int64_t delay = job_backoff_ms(j, r->attempts + 1, rnd(s));

		r->state = RUN_RETRY;
		r->next_ms = now + delay;
		end_row(s, id, "retry", duration, names[result], msg, r->next_ms);
		log_notice("job %s attempt %d failed (%s): retry in %" PRId64 " ms", j->name,
			   r->attempts, msg, delay);
		return;
	}
	end_row(s, id, result == JOB_OK ? "ok" : "failed", duration, names[result], msg, -1);
	if (result == JOB_OK) {
		log_info("job %s due %" PRId64 " done in %" PRId64 " ms: %s", j->name, r->due_ms,
			 duration, msg);
	} else {
		supervisor_alert(s->sup, OUTBOX_CRITICAL, "job_failed",
				 "job %s failed (%s, %d attempt%s): %s%s%s", j->name, names[result],
				 r->attempts, r->attempts == 1 ? "" : "s", msg,
				 j->fallback >= 0 ? "; running fallback " : "",
				 j->fallback >= 0 ? s->table.v[j->fallback].name : "");
	}
	if (j->deadline_ms && now > r->due_ms + j->deadline_ms && !r->deadline_alerted)
		supervisor_alert(s->sup, OUTBOX_WARNING, "job_deadline",
				 "job %s finished %" PRId64 " ms after its deadline", j->name,
				 now - r->due_ms - j->deadline_ms);
	int fallback = result == JOB_OK ? -1 : j->fallback;
	drop_run(s, r);
	if (fallback >= 0) {
		int64_t due;

		enqueue_now(s, fallback, "fallback", &due);
	}
}

static void dispatch_done(struct supervisor *sup, uint64_t run_id, enum ipc_job_result result,
			  const char *msg, int64_t duration_ms, void *arg)
{
	struct sched *s = arg;

	(void)sup;
	/* During the shutdown a result is still recorded; nothing new starts. */
	run_ended(s, (int64_t)run_id, result, msg, duration_ms);
	if (s->closing)
		return;
	pump(s);
	arm(s);
}

/* Starts r: its worker is free and its dependencies are met. 1 started, 0 not (yet). */
static int start_run(struct sched *s, struct sched_run *r)
{
	const struct job_spec *j = &s->table.v[r->job];
	char err[160], msg[IPC_JOB_MSG_MAX];
	int64_t id = r->id;

	if (!j->local) {
		if (s->sup->procs[j->role].state != PROC_RUNNING)
			return 0;
		if (job_dispatch(s->sup, j->role, j->action, NULL, (uint64_t)r->id, j->timeout_ms,
				 dispatch_done, s, err, sizeof(err)) < 0) {
			log_debug("job %s: not dispatched yet: %s", j->name, err);
			return 0;
		}
		s->busy[j->role]++;
	}
	r->attempts++;
	r->state = RUN_RUNNING;
	r->started_ms = clock_now_ms();
	s->js[r->job].running++;
	queue_write(s, &(struct row_write){.id = r->id,
					   .start = 1,
					   .attempts = r->attempts,
					   .t_ms = r->started_ms});
	if (j->local) {
		const struct sched_local_action *a = sched_local_find(j->action);
		int64_t t0 = clock_mono_ms();
		int rc = a ? a->run(s->sup, msg, sizeof(msg)) : JOB_PERMANENT;

		if (!a)
			snprintf(msg, sizeof(msg), "no local action %s", j->action);
		run_ended(s, id, (enum ipc_job_result)rc, msg, clock_mono_ms() - t0);
		s->local_ended = 1;
	}
	return 1;
}

static int urgent(const struct sched_run *r, const struct job_spec *j, int64_t now)
{
	return j->deadline_ms > 0 && r->due_ms + j->deadline_ms - now <= j->timeout_ms;
}

/* Starts what can start, best first, until nothing more can. */
static void pump_once(struct sched *s);

static int deps_waiting(const struct sched *s)
{
	for (size_t i = 0; i < s->nruns; i++)
		if (s->runs[i].state != RUN_RUNNING && s->table.v[s->runs[i].job].ndeps > 0)
			return 1;
	return 0;
}

/* Starts what can start; the ledger rows' changes are committed once at the end (a crash
 * in between leaves a started run queued: see recover). A local run that ended may free a
 * dependant, which reads the ledger: pumped again after the commit. */
static void pump(struct sched *s)
{
	for (int pass = 0; pass < 8; pass++) {
		s->defer_writes = 1;
		s->local_ended = 0;
		pump_once(s);
		s->defer_writes = 0;
		commit_writes(s);
		if (!s->local_ended || !deps_waiting(s))
			break;
	}
}

static void pump_once(struct sched *s)
{
	if (s->db_gone)
		return;
	for (size_t i = 0; i < s->nruns; i++)
		s->runs[i].blocked = 0;
	for (;;) {
		int64_t now = clock_now_ms();
		struct sched_run *best = NULL;
		struct sched_order_key bk = {0};
		char why[128];

		for (size_t i = 0; i < s->nruns; i++) {
			struct sched_run *r = &s->runs[i];
			const struct job_spec *j = &s->table.v[r->job];
			struct sched_order_key k;
			int dep;

			if (r->state == RUN_RUNNING || r->next_ms > now || r->blocked)
				continue;
			if (j->deadline_ms && now > r->due_ms + j->deadline_ms &&
			    !r->deadline_alerted) {
				r->deadline_alerted = 1;
				supervisor_alert(s->sup, OUTBOX_WARNING, "job_deadline",
						 "job %s due at %" PRId64 " missed its deadline "
						 "waiting to start",
						 j->name, r->due_ms);
			}
			if (r->planned && r->attempts == 0 &&
			    now - r->due_ms > j->misfire_grace_ms) {
				/* Planned ahead, but the loop came too late: as the tick would. */
				end_row(s, r->id, "missed", 0, "", "late beyond the misfire grace",
					-1);
				log_warnx("job %s due %" PRId64 ": MISSED: late beyond the misfire "
					  "grace",
					  j->name, r->due_ms);
				drop_run(s, r);
				i--;
				continue;
			}
			if (s->js[r->job].running >= j->max_instances)
				continue;
			if (!j->local && s->busy[j->role] > 0)
				continue;
			dep = deps_state(s, r, why, sizeof(why));
			if (dep < 0) {
				end_row(s, r->id, "missed", 0, "", why, -1);
				log_warnx("job %s due %" PRId64 ": MISSED: %s", j->name, r->due_ms,
					  why);
				drop_run(s, r);
				i--;
				continue;
			}
			if (dep == 0)
				continue;
			k = (struct sched_order_key){urgent(r, j, now), j->priority, r->due_ms,
						     r->id};
			if (!best || sched_order_cmp(&k, &bk) < 0) {
				best = r;
				bk = k;
			}
		}
		if (!best)
			return;
		if (!start_run(s, best))
			best->blocked = 1;
	}
}

/* The wall clock moved against the monotonic one: due times it stepped over are decided
 * once (one coalesced catch-up per job), and the plan restarts from the new now. */
static void clock_jumped(struct sched *s, int64_t before, int64_t now, int64_t skew)
{
	char why[96];

	snprintf(why, sizeof(why), "wall clock jumped by %+" PRId64 " s", skew / 1000);
	log_warnx("scheduler: %s: plan recomputed", why);
	supervisor_alert(s->sup, OUTBOX_WARNING, "clock_jump", "scheduler: %s", why);
	for (size_t i = 0; i < s->table.n; i++) {
		if (!s->table.v[i].enabled) {
			s->js[i].next_due = job_next_due(&s->table.v[i], now);
			continue;
		}
		/* A run planned ahead that the jump made overdue: the catch-up when no other due
		 * time was stepped over, else one of those the jump skipped. */
		for (size_t k = 0; skew > 0 && k < s->nruns; k++) {
			struct sched_run *r = &s->runs[k];

			if (r->job == (int)i && r->planned && r->state == RUN_QUEUED &&
			    r->attempts == 0 && r->due_ms <= now && s->js[i].next_due >= 0 &&
			    s->js[i].next_due <= now) {
				end_row(s, r->id, "missed", 0, "", why, -1);
				drop_run(s, r);
				k--;
			}
		}
		if (skew > 0 && s->js[i].next_due >= 0 && s->js[i].next_due <= now)
			s->js[i].next_due = backlog(s, (int)i, s->js[i].next_due - 1, now, 1, why);
		else
			s->js[i].next_due = job_next_due(&s->table.v[i], now);
	}
	(void)before;
}

static void tick(struct sched *s)
{
	if (s->db_gone)
		return;
	int64_t now = clock_now_ms(), mono = clock_mono_ms();
	/* Daemon time against the monotonic clock: a step of the wall clock (or of a test clock)
	 * shows as a difference; both read in whole ms, so a test clock's rate widens the slack. */
	double rate = clock_rate();
	int64_t skew = (now - s->last_now) - (int64_t)((double)(mono - s->last_mono) * rate);

	if (s->nwrites)
		flush_writes(s);
	int64_t slack = s->sup->cfg.s.jobs.jump_threshold_ms + (int64_t)(2 * rate);

	if (skew > slack || skew < -slack)
		clock_jumped(s, s->last_now, now, skew);
	s->last_now = now;
	s->last_mono = mono;
	/* The rows of every due time of this tick in one commit (one fsync, not one per job):
	 * without the transaction each row is still committed on its own. */
	int in_tx = 0;
	size_t nruns_before = s->nruns;
	int64_t *saved = malloc((s->table.n + 1) * sizeof(*saved));

	for (size_t i = 0; saved && i < s->table.n; i++)
		saved[i] = s->js[i].next_due;
	for (size_t i = 0; saved && i < s->table.n && !in_tx; i++)
		if (s->js[i].next_due >= 0 && s->js[i].next_due <= now)
			in_tx = db_exec(s->sup->db, "BEGIN IMMEDIATE") == 0;
	for (size_t i = 0; i < s->table.n; i++) {
		const struct job_spec *j = &s->table.v[i];

		while (s->js[i].next_due >= 0 && s->js[i].next_due <= now) {
			int64_t due = s->js[i].next_due;
			int rc = 0;

			if (!j->enabled)
				rc = 0;
			else if (now - due > j->misfire_grace_ms)
				rc = missed(s, (int)i, due, "schedule",
					    "late beyond the misfire grace") < 0
					     ? -2
					     : 0;
			else
				rc = enqueue(s, (int)i, due, "schedule");
			/* Not recorded: this due time stays next, for the next tick. */
			if (rc == -2)
				break;
			s->js[i].next_due = job_next_due(j, due);
		}
	}
	if (in_tx && db_exec(s->sup->db, "COMMIT") < 0) {
		/* Nothing of this tick is recorded: forget it in memory too, and try again. */
		db_exec(s->sup->db, "ROLLBACK");
		log_warnx("job_runs: the due times of this tick were not committed: tried again");
		for (size_t i = 0; i < s->table.n; i++)
			s->js[i].next_due = saved[i];
		s->nruns = nruns_before;
	}
	free(saved);
	pump(s);
}

static int plannable(const struct sched *s, size_t i, int64_t now, int64_t horizon)
{
	int64_t due = s->js[i].next_due;

	return s->table.v[i].enabled && due > now && due - now <= horizon && !has_run(s, (int)i);
}

/* The ledger rows of the due times within jobs.plan_ahead_ms (real) from now are committed
 * now, in one transaction: the run is decided when it is planned, and at its due time it
 * starts with no commit (an fsync, synchronous=FULL) in between. A plan the database refuses
 * is left to the due time, as without planning. */
static void plan(struct sched *s, int64_t now)
{
	int64_t horizon = (int64_t)((double)s->sup->cfg.s.jobs.plan_ahead_ms * clock_rate());
	size_t nruns_before = s->nruns, i;
	int64_t *saved;
	int failed = 0;

	/* Not inside a change's transaction (sched_ctl.c): its rollback would take the plans. */
	if (horizon <= 0 || s->db_gone || s->closing || !sqlite3_get_autocommit(s->sup->db))
		return;
	for (i = 0; i < s->table.n && !plannable(s, i, now, horizon); i++)
		;
	if (i == s->table.n)
		return;
	saved = malloc(s->table.n * sizeof(*saved));
	if (!saved || db_exec(s->sup->db, "BEGIN IMMEDIATE") < 0) {
		free(saved);
		return;
	}
	for (i = 0; i < s->table.n; i++)
		saved[i] = s->js[i].next_due;
	for (i = 0; i < s->table.n && !failed; i++) {
		const struct job_spec *j = &s->table.v[i];
		int64_t due = s->js[i].next_due, id;
		struct sched_run *r;

		if (!plannable(s, i, now, horizon))
			continue;
		switch (ledger_insert(s, j->name, due, "schedule", "queued", "planned", &id)) {
		case -1:
			failed = 1;
			continue;
		case 1:
			r = add_run(s);
			if (!r) {
				failed = 1;
				continue;
			}
			*r = (struct sched_run){.id = id,
						.job = (int)i,
						.due_ms = due,
						.next_ms = due,
						.state = RUN_QUEUED,
						.planned = 1};
			snprintf(r->trigger, sizeof(r->trigger), "schedule");
			break;
		}
		/* 0: that due time is in the ledger already (a clock set back): decided. */
		s->js[i].next_due = job_next_due(j, due);
	}
	if (failed || db_exec(s->sup->db, "COMMIT") < 0) {
		db_exec(s->sup->db, "ROLLBACK");
		for (i = 0; i < s->table.n; i++)
			s->js[i].next_due = saved[i];
		s->nruns = nruns_before;
	}
	free(saved);
}

static void on_timer(uv_timer_t *timer)
{
	struct sched *s = timer->data;

	tick(s);
	arm(s);
}

/* Wakes at the next due time or retry, and at least every SCHED_TICK_MAX_MS. */
static void arm(struct sched *s)
{
	int64_t now = clock_now_ms(), wake = INT64_MAX;
	uint64_t ms;

	int64_t horizon = (int64_t)((double)s->sup->cfg.s.jobs.plan_ahead_ms * clock_rate());
	double real;

	if (s->closing)
		return;
	plan(s, now);
	for (size_t i = 0; i < s->table.n; i++) {
		int64_t due = s->js[i].next_due;

		if (due < 0)
			continue;
		/* Not planned yet: wake to plan it (or, with a run of it still open, at the due). */
		if (horizon > 0 && s->table.v[i].enabled && due - horizon > now &&
		    !has_run(s, (int)i))
			due -= horizon;
		if (due < wake)
			wake = due;
	}
	/* A run already due waits for its worker or dependencies: their end wakes it. */
	for (size_t i = 0; i < s->nruns; i++)
		if (s->runs[i].state != RUN_RUNNING && s->runs[i].next_ms > now &&
		    s->runs[i].next_ms < wake)
			wake = s->runs[i].next_ms;
	/* Rounded up: a timer a fraction of a ms early finds nothing due and costs a turn more. */
	real = wake > now ? (double)(wake - now) / clock_rate() : 0;
	ms = wake == INT64_MAX ? SCHED_TICK_MAX_MS : (uint64_t)ceil(real);
	/* The loop's time is that of this turn's start: brought up to date, the timer is not
	 * early (or late) by the time this turn took. */
	uv_update_time(s->sup->loop);
	if (ms > SCHED_TICK_MAX_MS)
		ms = SCHED_TICK_MAX_MS;
	uv_timer_start(&s->timer, on_timer, ms, 0);
}

static void collect_error(void *arg, const char *key, const char *msg)
{
	char *buf = arg;
	size_t used = strlen(buf);

	snprintf(buf + used, 512 - used, "%s%s: %s", used ? "; " : "", key, msg);
}

/* The table in force: the config's jobs with the overrides of tradectl job set on top. */
static int build_table(struct sched *s, struct job_table *out, char err[512], json_t **defs_out)
{
	json_t *root = json_object_get(s->sup->cfg.root, "jobs");
	json_t *defs = json_deep_copy(json_object_get(root, "defs"));
	sqlite3_stmt *st = s->st[ST_OVERRIDES];
	int rc;

	err[0] = '\0';
	if (!defs)
		defs = json_object();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *job = (const char *)sqlite3_column_text(st, 0);
		json_t *obj = json_object_get(defs, job);
		json_t *set = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);

		if (obj && set)
			json_object_update(obj, set);
		json_decref(set);
	}
	sqlite3_reset(st);
	rc = job_table_load(out, defs, collect_error, err);
	if (rc == 0 && defs_out)
		*defs_out = defs;
	else
		json_decref(defs);
	return rc;
}

/* Withdraws the plan of r (not due yet): its row goes, as if never planned; if the database
 * refuses, the row is closed as missed instead (written when it can be). */
static void unplan(struct sched *s, struct sched_run *r)
{
	sqlite3_stmt *st = s->st[ST_UNPLAN];

	sqlite3_bind_int64(st, 1, r->id);
	if (db_step_reset(st) == SQLITE_DONE)
		return;
	end_row(s, r->id, "missed", 0, "", "the schedule changed before this due time", -1);
}

/* Takes next as the table in force: the waiting runs follow their job by name; a plan for a
 * due time the job no longer has is withdrawn. */
static int adopt_table(struct sched *s, struct job_table *next)
{
	struct job_state *js = calloc(next->n + 1, sizeof(*js));
	int64_t now = clock_now_ms();

	if (!js)
		return -1;
	for (size_t i = 0; i < next->n; i++) {
		int old = job_table_find(&s->table, next->v[i].name);

		js[i].running = old >= 0 ? s->js[old].running : 0;
		js[i].next_due = job_next_due(&next->v[i], now);
	}
	for (size_t i = 0; i < s->nruns; i++) {
		struct sched_run *r = &s->runs[i];
		int k = job_table_find(next, s->table.v[r->job].name);

		if (k >= 0 && ahead(r, now) &&
		    (!next->v[k].enabled ||
		     job_next_due(&next->v[k], r->due_ms - 1) != r->due_ms)) {
			/* Planned for a due time the new schedule no longer has: withdrawn. */
			unplan(s, r);
			drop_run(s, r);
			i--;
			continue;
		}
		if (k >= 0) {
			r->job = k;
			/* A plan kept: the job's next due time is the one after it. */
			if (ahead(r, now) && js[k].next_due >= 0 && js[k].next_due <= r->due_ms)
				js[k].next_due = job_next_due(&next->v[k], r->due_ms);
			continue;
		}
		if (ahead(r, now)) {
			unplan(s, r);
			drop_run(s, r);
			i--;
		} else if (r->state != RUN_RUNNING) {
			end_row(s, r->id, "missed", 0, "", "the job was removed from the config",
				-1);
			drop_run(s, r);
			i--;
		}
	}
	job_table_free(&s->table);
	free(s->js);
	s->table = *next;
	s->js = js;
	return 0;
}

/* The ledger after a stop or a crash: open runs resume, due times of the outage are decided. */
static void recover(struct sched *s)
{
	sqlite3_stmt *st = s->st[ST_OPEN];
	int64_t now = clock_now_ms();

	while (sqlite3_step(st) == SQLITE_ROW) {
		int job = job_table_find(&s->table, (const char *)sqlite3_column_text(st, 1));
		const char *state = (const char *)sqlite3_column_text(st, 4);
		int64_t id = sqlite3_column_int64(st, 0);
		struct sched_run *r;

		if (job < 0) {
			end_row(s, id, "missed", 0, "", "the job is no longer in the config", -1);
			continue;
		}
		if (strcmp(state, "running") == 0) {
			/* It may have run: never twice for one due time. */
			end_row(s, id, "missed", 0, "",
				"interrupted: the supervisor stopped while it ran", -1);
			supervisor_alert(s->sup, OUTBOX_WARNING, "job_interrupted",
					 "job %s was running when the supervisor stopped: not "
					 "repeated",
					 s->table.v[job].name);
			continue;
		}
		if (strcmp(state, "queued") == 0 && sqlite3_column_int(st, 5) == 0 &&
		    strcmp((const char *)sqlite3_column_text(st, 7), "planned") == 0 &&
		    sqlite3_column_int64(st, 2) <= now) {
			/* Planned ahead, and its due time passed while the daemon was down: it may
			 * have been dispatched just before the stop (the start is written after
			 * the dispatch), so it is never run now; a catch-up covers the due times
			 * after it. */
			end_row(s, id, "missed", 0, "",
				"the daemon was not running (planned ahead; not repeated)", -1);
			continue;
		}
		r = add_run(s);
		if (!r)
			break;
		r->id = id;
		r->job = job;
		r->planned = strcmp((const char *)sqlite3_column_text(st, 7), "planned") == 0;
		r->due_ms = sqlite3_column_int64(st, 2);
		snprintf(r->trigger, sizeof(r->trigger), "%s", sqlite3_column_text(st, 3));
		r->state = strcmp(state, "retry") == 0 ? RUN_RETRY : RUN_QUEUED;
		r->attempts = sqlite3_column_int(st, 5);
		r->next_ms = sqlite3_column_int64(st, 6);
	}
	sqlite3_reset(st);
	for (size_t i = 0; i < s->table.n; i++) {
		const struct job_spec *j = &s->table.v[i];
		sqlite3_stmt *q = s->st[ST_LAST_DUE];
		int64_t last = -1;

		sqlite3_bind_text(q, 1, j->name, -1, SQLITE_STATIC);
		if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
			last = sqlite3_column_int64(q, 0);
		sqlite3_reset(q);
		if (last >= 0 && last < now && j->enabled)
			s->js[i].next_due = backlog(s, (int)i, last, now, j->catch_up,
						    "the daemon was not running");
		else
			s->js[i].next_due = job_next_due(j, last > now ? last : now);
	}
}

static void on_step_signal(uv_signal_t *h, int signum)
{
	struct sched *s = h->data;

	(void)signum;
	log_warnx("TEST FAULT: the test clock steps by %+" PRId64 " ms", s->step_ms);
	clock_step_test(s->step_ms);
	tick(s);
	arm(s);
}

/* Test-only: TRADINGD_FAULT=tradingd:clock-step:MS with a test clock makes each SIGUSR2 step
 * the supervisor's clock by MS, so that a wall-clock jump is tested on the real binary. */
static void start_step_fault(struct sched *s)
{
	const char *spec = getenv("TRADINGD_FAULT");
	const char *prefix = "tradingd:clock-step:";

	if (!clock_is_test() || !spec || strncmp(spec, prefix, strlen(prefix)) != 0)
		return;
	s->step_ms = strtoll(spec + strlen(prefix), NULL, 10);
	if (s->step_ms == 0)
		return;
	uv_signal_init(s->sup->loop, &s->step_signal);
	s->step_signal.data = s;
	uv_signal_start(&s->step_signal, on_step_signal, SIGUSR2);
}

int sched_start(struct supervisor *sup)
{
	struct sched *s = calloc(1, sizeof(*s));
	struct job_table t = {0};
	char err[512];

	if (!s)
		return -1;
	s->sup = sup;
	s->rng = (uint64_t)clock_real_ms() | 1;
	if (db_prepare_all(sup->db, sql, s->st, ST_COUNT) < 0) {
		free(s);
		return -1;
	}
	if (build_table(s, &t, err, &s->defs) < 0) {
		/* An override that no longer fits the config: the file alone is used. */
		log_warnx("scheduler: overrides refused (%s): using the config's jobs", err);
		job_table_free(&t);
		t.n = 0;
		if (job_table_load(&t,
				   json_object_get(json_object_get(sup->cfg.root, "jobs"), "defs"),
				   collect_error, err) < 0) {
			log_errx("scheduler: %s", err);
			db_finalize_all(s->st, ST_COUNT);
			free(s);
			return -1;
		}
	}
	if (adopt_table(s, &t) < 0) {
		job_table_free(&t);
		db_finalize_all(s->st, ST_COUNT);
		free(s);
		return -1;
	}
	sup->sched = s;
	/* The first version, or the file changed while the daemon was down: the schedule in force
	 * now is a version, so that a rollback has a base to return to. */
	sched_version_record(sup, "start", "the schedule at start", geteuid(), NULL);
	recover(s);
	s->last_now = clock_now_ms();
	s->last_mono = clock_mono_ms();
	uv_timer_init(sup->loop, &s->timer);
	s->timer.data = s;
	start_step_fault(s);
	log_info("scheduler: %zu jobs", s->table.n);
	arm(s);
	return 0;
}

/* Stops firing; the memory stays until sched_free: a JOB_DONE may still come back. */
void sched_stop(struct supervisor *sup)
{
	struct sched *s = sup->sched;

	if (!s || s->closing)
		return;
	s->closing = 1;
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, NULL);
	if (s->step_ms)
		uv_close((uv_handle_t *)&s->step_signal, NULL);
}

void sched_free(struct supervisor *sup)
{
	struct sched *s = sup->sched;

	if (!s)
		return;
	sup->sched = NULL;
	if (s->nwrites)
		flush_writes(s);
	if (s->nwrites)
		log_warnx("job_runs: %zu state changes not written: those runs count as "
			  "interrupted at the next start",
			  s->nwrites);
	free(s->writes);
	json_decref(s->defs);
	db_finalize_all(s->st, ST_COUNT);
	job_table_free(&s->table);
	free(s->js);
	free(s->runs);
	free(s);
}

/* Each job a reload changed, added or removed is a schedule_audit row ("reload"). */
static void audit_reload(struct sched *s, json_t *before, json_t *after)
{
	/* tradectl reload's peer, or the daemon's own uid for SIGHUP and the config watch. */
	uid_t uid = s->sup->request_uid >= 0 ? (uid_t)s->sup->request_uid : geteuid();
	const char *name;
	json_t *v;

	json_object_foreach(after, name, v)
	{
		json_t *old = json_object_get(before, name);

		if (!json_equal(old, v))
			sched_audit(s->sup, name, "reload", old, v, uid);
	}
	json_object_foreach(before, name, v)
	{
		if (!json_object_get(after, name))
			sched_audit(s->sup, name, "reload", v, NULL, uid);
	}
}

void sched_reload(struct supervisor *sup)
{
	struct sched *s = sup->sched;
	struct job_table t = {0};
	json_t *defs = NULL;
	char err[512];

	if (!s || s->closing)
		return;
	if (build_table(s, &t, err, &defs) < 0 || adopt_table(s, &t) < 0) {
		log_warnx("scheduler: the new jobs are refused, the old are kept: %s", err);
		job_table_free(&t);
		json_decref(defs);
		return;
	}
	audit_reload(s, s->defs, defs);
	json_decref(s->defs);
	s->defs = defs;
	sched_version_record(sup, "reload", "the config file changed",
			     sup->request_uid >= 0 ? (uid_t)sup->request_uid : geteuid(), NULL);
	log_info("scheduler: reloaded, %zu jobs", s->table.n);
	pump(s);
	arm(s);
}

/* A restore replaces the database: the statements go first, the plan waits. */
void sched_db_close(struct supervisor *sup)
{
	struct sched *s = sup->sched;

	if (!s || s->db_gone)
		return;
	s->db_gone = 1;
	db_finalize_all(s->st, ST_COUNT);
}

/* The restored ledger is the truth: runs in flight are detached, waiting ones are dropped and
 * read back from it, and its last due times decide what was missed. */
int sched_db_open(struct supervisor *sup)
{
	struct sched *s = sup->sched;

	if (!s || !s->db_gone)
		return 0;
	if (db_prepare_all(sup->db, sql, s->st, ST_COUNT) < 0)
		return -1;
	s->db_gone = 0;
	s->nwrites = 0;
	for (size_t i = 0; i < s->nruns; i++) {
		if (s->runs[i].state == RUN_RUNNING) {
			s->runs[i].detached = 1;
			s->runs[i].id = -s->runs[i].id; /* never a row of the restored ledger */
		} else {
			drop_run(s, &s->runs[i]);
			i--;
		}
	}
	recover(s);
	if (!s->closing) {
		pump(s);
		arm(s);
	}
	return 0;
}

/* Control commands (sched_ctl.c does the audited changes). */
json_t *sched_jobs_json(struct supervisor *sup)
{
	struct sched *s = sup->sched;
	json_t *jobs = json_array();

	for (size_t i = 0; s && i < s->table.n; i++) {
		const struct job_spec *j = &s->table.v[i];
		sqlite3_stmt *st = s->st[ST_LAST];
		char next[48];
		json_t *o, *last = json_null();
		int queued = 0;

		fmt_local(j, j->enabled ? s->js[i].next_due : -1, next, sizeof(next));
		sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			last = json_pack("{s:s, s:s, s:s, s:I, s:I}", "state",
					 sqlite3_column_text(st, 0), "result",
					 sqlite3_column_text(st, 1), "reason",
					 sqlite3_column_text(st, 2), "due_ms",
					 (json_int_t)sqlite3_column_int64(st, 3), "duration_ms",
					 (json_int_t)sqlite3_column_int64(st, 4));
		sqlite3_reset(st);
		for (size_t k = 0; k < s->nruns; k++)
			queued += s->runs[k].job == (int)i && s->runs[k].state != RUN_RUNNING;
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:s, s:I, s:i, s:i, s:o}",
			      "name", j->name, "schedule", j->schedule, "zone", j->zone, "worker",
			      j->local ? JOB_LOCAL_WORKER : role_name(j->role), "action", j->action,
			      "priority", j->priority, "enabled", j->enabled, "next_run", next,
			      "next_ms", (json_int_t)(j->enabled ? s->js[i].next_due : -1),
			      "running", s->js[i].running, "waiting", queued, "last", last);
		json_array_append_new(jobs, o);
	}
	return json_pack("{s:b, s:o}", "ok", 1, "jobs", jobs);
}

json_t *sched_run_now(struct supervisor *sup, const char *name)
{
	struct sched *s = sup->sched;
	int job = s ? job_table_find(&s->table, name) : -1;
	int64_t due = clock_now_ms();

	if (job < 0)
		return json_pack("{s:b, s:s}", "ok", 0, "error", "no such job");
	/* A manual run takes the current instant as its due time; never one of the schedule's. */
	if (enqueue_now(s, job, "manual", &due) < 0)
		return json_pack("{s:b, s:s}", "ok", 0, "error", "not queued (queue full)");
	pump(s);
	arm(s);
	return json_pack("{s:b, s:s, s:I}", "ok", 1, "result", "queued", "due_ms", (json_int_t)due);
}

/* Used by sched_ctl.c inside its transaction: the table from the config and job_overrides as
 * they are now, checked, then in force. 0, or -1 with err (the old table stays). */
int sched_rebuild(struct supervisor *sup, char *err, size_t errlen)
{
	struct sched *s = sup->sched;
	struct job_table t = {0};
	json_t *defs = NULL;
	char buf[512];

	if (!s || s->closing) {
		snprintf(err, errlen, "the scheduler is not running");
		return -1;
	}
	if (build_table(s, &t, buf, &defs) < 0 || adopt_table(s, &t) < 0) {
		snprintf(err, errlen, "%s", buf[0] ? buf : "out of memory");
		job_table_free(&t);
		json_decref(defs);
		return -1;
	}
	json_decref(s->defs);
	s->defs = defs;
	pump(s);
	arm(s);
	return 0;
}

void sched_rearm(struct supervisor *sup)
{
	if (sup->sched && !sup->sched->closing)
		arm(sup->sched);
}

json_t *sched_defs(struct supervisor *sup)
{
	return sup->sched ? sup->sched->defs : NULL;
}

int sched_has_job(struct supervisor *sup, const char *name)
{
	return sup->sched && job_table_find(&sup->sched->table, name) >= 0;
}
