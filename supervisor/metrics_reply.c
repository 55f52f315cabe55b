/* The supervisor's answer to the api worker's METRICS_REQ: its process table, the monitor's
 * last round, the workers' latest STATUS and a few SQLite counts, as JSON. The api worker makes
 * the Prometheus text of it: no HTTP, and no text format, in the supervisor. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "supervisor/supervisor.h"

/* {key: count} of "SELECT key, count(*) ... GROUP BY key"; an empty object when it fails. */
static json_t *grouped_counts(sqlite3 *db, const char *sql)
{
	json_t *o = json_object();
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("metrics: %s", sqlite3_errmsg(db));
		return o;
	}
	while (sqlite3_step(st) == SQLITE_ROW)
		if (sqlite3_column_type(st, 0) == SQLITE_TEXT)
			json_object_set_new(o, (const char *)sqlite3_column_text(st, 0),
					    json_integer(sqlite3_column_int64(st, 1)));
	sqlite3_finalize(st);
	return o;
}

/* {a: {b: count}} of "SELECT a, b, count(*) ... GROUP BY a, b"; empty when it fails (a
 * daemon without the table yet answers with no samples rather than none at all). */
static json_t *grouped_counts2(sqlite3 *db, const char *sql)
{
	json_t *o = json_object();
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("metrics: %s", sqlite3_errmsg(db));
		return o;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *a = (const char *)sqlite3_column_text(st, 0);
		const char *b = (const char *)sqlite3_column_text(st, 1);
		json_t *inner;

		if (!a || !b)
			continue;
		inner = json_object_get(o, a);
		if (!inner) {
			inner = json_object();
			json_object_set_new(o, a, inner);
		}
		json_object_set_new(inner, b, json_integer(sqlite3_column_int64(st, 2)));
	}
	sqlite3_finalize(st);
	return o;
}

static json_t *db_counts(sqlite3 *db)
{
	json_t *o = json_object();

	json_object_set_new(o, "alerts",
			    grouped_counts(db, "SELECT severity, count(*) FROM notifications "
					       "GROUP BY severity"));
	json_object_set_new(o, "alerts_undelivered",
			    grouped_counts(db, "SELECT 'all', count(*) FROM notifications "
					       "WHERE delivered_ms IS NULL"));
	json_object_set_new(o, "order_intents",
			    grouped_counts(db, "SELECT state, count(*) FROM order_intents "
					       "GROUP BY state"));
	json_object_set_new(
		o, "orders",
		grouped_counts(db, "SELECT state, count(*) FROM orders GROUP BY state"));
	json_object_set_new(o, "fills",
			    grouped_counts(db, "SELECT side, count(*) FROM fills GROUP BY side"));
	/* The scheduler's ledger: ended runs by job and outcome, across restarts. */
	json_object_set_new(o, "job_runs",
			    grouped_counts2(db, "SELECT job, state, count(*) FROM job_runs WHERE "
						"state IN ('ok', 'failed', 'missed') GROUP BY job, "
						"state"));
	return o;
}

static json_t *usage_json(const char *name, const char *state, int pid, uint64_t restarts,
			  const struct proc_usage *u, int64_t uptime_s, long ticks)
{
	return json_pack(
		"{s:s, s:s, s:i, s:I, s:b, s:f, s:I, s:i, s:I}", "name", name, "state", state,
		"pid", pid, "restarts", (json_int_t)restarts, "sampled", u->valid, "cpu_seconds",
		u->valid && ticks > 0 ? (double)u->last.cpu_ticks / (double)ticks : 0.0,
		"rss_bytes", (json_int_t)(u->valid ? u->last.rss_kb * 1024 : 0), "fds",
		u->valid && u->last.fds > 0 ? u->last.fds : 0, "uptime_s", (json_int_t)uptime_s);
}

static json_t *metrics_json(struct supervisor *sup)
{
	const struct sys_usage *s = &sup->sys_usage;
	long ticks = sysconf(_SC_CLK_TCK);
	int64_t now = clock_mono_ms();
	json_t *procs = json_array(), *workers = json_object(), *o;

	json_array_append_new(procs,
			      usage_json("tradingd", "RUNNING", (int)getpid(), 0, &sup->self_usage,
					 (now - sup->start_mono) / 1000, ticks));
	for (int r = 0; r < ROLE_COUNT; r++) {
		const struct proc *p = &sup->procs[r];
		json_t *st;

		if (!proc_enabled(p) && p->pid <= 0)
			continue;
		json_array_append_new(
			procs,
			usage_json(role_name(p->role), proc_state_name(p->state), p->pid,
				   p->restarts, &p->usage,
				   p->state == PROC_RUNNING ? (now - p->ready_mono) / 1000 : 0,
				   ticks));
		st = p->status_json ? json_loads(p->status_json, 0, NULL) : NULL;
		if (st)
			json_object_set_new(workers, role_name(p->role), st);
	}
	o = json_pack("{s:{s:s, s:s, s:I}, s:o, s:o, s:{s:b, s:f, s:f, s:f, s:f, s:I, s:I, s:I, "
		      "s:I}, s:{s:I, s:I, s:I}}",
		      "daemon", "version", TRADINGD_VERSION, "mode",
		      config_mode_name(sup->cfg.s.mode), "uptime_s",
		      (json_int_t)((now - sup->start_mono) / 1000), "processes", procs, "workers",
		      workers, "system", "sampled", s->valid, "cpu_pct", s->cpu_pct, "load1",
		      s->last.load1, "load5", s->last.load5, "load15", s->last.load15,
		      "mem_total_bytes", (json_int_t)s->last.mem_total_kb * 1024, "mem_avail_bytes",
		      (json_int_t)s->last.mem_avail_kb * 1024, "disk_total_bytes",
		      (json_int_t)s->last.disk_total_kb * 1024, "disk_free_bytes",
		      (json_int_t)s->last.disk_free_kb * 1024, "jobs", "ok",
		      (json_int_t)sup->jobs_finished[JOB_OK], "transient",
		      (json_int_t)sup->jobs_finished[JOB_TRANSIENT], "permanent",
		      (json_int_t)sup->jobs_finished[JOB_PERMANENT]);
	/* Hidden by ProcSubset=pid under the unit: no sample rather than a false 0. */
	json_object_set_new(json_object_get(o, "system"), "cpu_known",
			    json_boolean(s->valid && s->last.have_cpu));
	if (o && sup->db)
		json_object_set_new(o, "db", db_counts(sup->db));
	return o;
}

void metrics_reply(struct proc *p, uint64_t id)
{
	json_t *o = metrics_json(p->sup);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	size_t len = text ? strlen(text) : 0;
	char *buf = NULL;

	json_decref(o);
	if (text && len + sizeof(id) <= IPC_MAX_PAYLOAD && (buf = malloc(sizeof(id) + len))) {
		memcpy(buf, &id, sizeof(id));
		memcpy(buf + sizeof(id), text, len);
		if (p->peer &&
		    ipc_send(p->peer, IPC_METRICS, buf, (uint32_t)(sizeof(id) + len)) < 0)
			log_warnx("api: the metrics answer could not be queued");
	} else {
		log_warnx("api: no metrics answer (out of memory, or %zu bytes)", len);
	}
	free(buf);
	free(text);
}
