/* The "prune" action (old candles, delivered notifications, job runs and metric samples, in
 * batches; never orders, fills, intents, audit rows or config versions) and "daily_summary". */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/dec8.h"
#include "common/log.h"
#include "workers/maintenance.h"

#define DAY_MS 86400000LL
#define PRUNE_MAX 8

/* Tables other issues may add (the scheduler's ledger, the monitor's samples): pruned when
 * they exist, by the first of these time columns they have. */
static const char *const optional_tables[] = {"job_runs", "metric_samples", "metrics", "samples"};
static const char *const time_columns[] = {"finished_ms", "ended_ms",  "started_ms", "created_ms",
					   "sampled_ms",  "sample_ms", "ts_ms"};

struct maint_prune {
	struct maintenance *m;
	uint64_t run_id;
	struct db_job job;
	struct db_prune targets[PRUNE_MAX];
	const char *names[PRUNE_MAX];
	int n, cur;
	char names_buf[PRUNE_MAX][40];
};

static int prune_step(void *arg)
{
	struct maint_prune *p = arg;
	int rc;

	if (p->cur >= p->n)
		return SQLITE_DONE;
	rc = db_prune_step(&p->targets[p->cur]);
	if (rc == SQLITE_DONE) {
		p->cur++;
		return p->cur < p->n ? SQLITE_OK : SQLITE_DONE;
	}
	return rc;
}

static void prune_freed(uv_handle_t *handle)
{
	struct maint_prune *p = handle->data;

	for (int i = 0; i < p->n; i++)
		sqlite3_finalize(p->targets[i].stmt);
	free(p);
}

static void prune_release(struct maint_prune *p)
{
	p->job.timer.data = p;
	db_job_close(&p->job, prune_freed);
}

static void prune_done(struct db_job *job, int rc)
{
	struct maint_prune *p =
		(struct maint_prune *)((char *)job - offsetof(struct maint_prune, job));
	struct maintenance *m = p->m;
	char summary[512] = "";
	size_t used = 0;

	for (int i = 0; i < p->n; i++) {
		int k = snprintf(summary + used, sizeof(summary) - used, "%s%s %llu", i ? ", " : "",
				 p->names[i], (unsigned long long)p->targets[i].changed);

		if (k > 0 && (size_t)k < sizeof(summary) - used)
			used += (size_t)k;
	}
	if (rc == SQLITE_DONE)
		worker_job_done(m->w, p->run_id, JOB_OK, "pruned: %s", summary);
	else
		worker_job_done(m->w, p->run_id, JOB_TRANSIENT, "prune of %s failed (%s): %s",
				p->cur < p->n ? p->names[p->cur] : "?", sqlite3_errstr(rc),
				summary);
	m->prune = NULL;
	prune_release(p);
}

static int add_target(struct maint_prune *p, const char *name, const char *sql, int64_t cutoff,
		      int64_t batch)
{
	sqlite3_stmt *st;

	if (p->n >= PRUNE_MAX)
		return -1;
	if (sqlite3_prepare_v2(p->m->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("prune: %s skipped: %s", name, sqlite3_errmsg(p->m->db));
		return -1;
	}
	sqlite3_bind_int64(st, 1, cutoff);
	sqlite3_bind_int64(st, 2, batch);
	snprintf(p->names_buf[p->n], sizeof(p->names_buf[p->n]), "%s", name);
	p->names[p->n] = p->names_buf[p->n];
	p->targets[p->n].stmt = st;
	p->targets[p->n].changed = 0;
	p->n++;
	return 0;
}

/* The time column of an optional table, or NULL when the table is absent or has none. */
static const char *time_column_of(sqlite3 *db, const char *table)
{
	const char *found = NULL;
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?)", -1, &st, NULL) !=
	    SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while (!found && sqlite3_step(st) == SQLITE_ROW) {
		const char *col = (const char *)sqlite3_column_text(st, 0);

		for (size_t i = 0; i < sizeof(time_columns) / sizeof(time_columns[0]); i++)
			if (strcmp(col, time_columns[i]) == 0)
				found = time_columns[i];
	}
	sqlite3_finalize(st);
	return found;
}

void maint_run_prune(struct worker *w, uint64_t run_id, const char *args)
{
	struct maintenance *m = w->state;
	const struct config_settings *s = &w->cfg.s;
	int64_t now = clock_now_ms(), batch = s->maintenance.prune_batch;
	struct maint_prune *p;
	char sql[512];

	(void)args;
	if (m->prune) {
		worker_job_done(w, run_id, JOB_TRANSIENT, "a prune is already running");
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p || db_job_init(&p->job, w->loop, prune_step, p, prune_done) < 0) {
		free(p);
		worker_job_done(w, run_id, JOB_TRANSIENT, "out of memory");
		return;
	}
	p->m = m;
	p->run_id = run_id;
	add_target(p, "candles",
		   "DELETE FROM candles WHERE (market, unit, start_ms) IN (SELECT market, unit,"
		   " start_ms FROM candles WHERE start_ms < ?1 LIMIT ?2)",
		   now - s->maintenance.candle_retention_days * DAY_MS, batch);
	add_target(p, "notifications",
		   "DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE"
		   " delivered_ms IS NOT NULL AND created_ms < ?1 LIMIT ?2)",
		   now - s->maintenance.notification_retention_days * DAY_MS, batch);
	for (size_t i = 0; i < sizeof(optional_tables) / sizeof(optional_tables[0]); i++) {
		const char *col = time_column_of(m->db, optional_tables[i]);

		if (!col)
			continue;
		snprintf(sql, sizeof(sql),
			 "DELETE FROM \"%s\" WHERE rowid IN (SELECT rowid FROM \"%s\" WHERE \"%s\""
			 " < ?1 LIMIT ?2)",
			 optional_tables[i], optional_tables[i], col);
		add_target(p, optional_tables[i], sql,
			   now - s->maintenance.job_run_retention_days * DAY_MS, batch);
	}
	m->prune = p;
	db_job_start(&p->job);
}

void maint_prune_abort(struct maintenance *m)
{
	if (!m->prune)
		return;
	prune_release(m->prune);
	m->prune = NULL;
}

static int64_t query_int(sqlite3 *db, const char *sql, int64_t from, int64_t to)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The day (UTC) that ended last, or args {"day":"YYYY-MM-DD"}; restarts from the monitor's
 * samples of that day, else when the caller (the supervisor) passes {"restarts":N}. */
void maint_run_daily_summary(struct worker *w, uint64_t run_id, const char *args)
{
	struct maintenance *m = w->state;
	int64_t from = (clock_now_ms() / DAY_MS - 1) * DAY_MS, to, restarts = -1;
	int64_t trades, fees, realized, funds, alerts, critical, open_pos, samples;
	char day[16], fee_s[DEC8_BUF], pnl_s[DEC8_BUF], funds_s[DEC8_BUF], restarts_s[48] = "";
	json_t *a = args && args[0] ? json_loads(args, 0, NULL) : NULL;
	const char *want = json_string_value(json_object_get(a, "day"));
	unsigned y, mo, d;

	if (want) {
		if (sscanf(want, "%4u-%2u-%2u", &y, &mo, &d) != 3 || mo < 1 || mo > 12 || d < 1 ||
		    d > 31) {
			worker_job_done(w, run_id, JOB_PERMANENT,
					"daily_summary: bad day \"%.20s\"", want);
			json_decref(a);
			return;
		}
		from = clock_days_from_civil(y, mo, d) * DAY_MS;
	}
	if (json_is_integer(json_object_get(a, "restarts")))
		restarts = json_integer_value(json_object_get(a, "restarts"));
	json_decref(a);
	to = from + DAY_MS;
	/* The monitor's samples (where that table exists) say how far each process's restart
	 * counter moved that day; the supervisor's count since its start is the fallback. */
	samples = query_int(m->db,
			    "SELECT coalesce(sum(d), -1) FROM (SELECT max(restarts) - min(restarts)"
			    " AS d FROM metric_samples WHERE sampled_ms >= ?1 AND sampled_ms < ?2"
			    " GROUP BY name)",
			    from, to);
	if (samples >= 0)
		restarts = samples;
	clock_format(from, 0, day, 11);
	day[10] = '\0';
	trades = query_int(m->db,
			   "SELECT count(*) FROM fills WHERE trade_ms >= ?1 AND trade_ms < ?2",
			   from, to);
	fees = query_int(m->db,
			 "SELECT coalesce(sum(fee_e8), 0) FROM fills WHERE trade_ms >= ?1 AND"
			 " trade_ms < ?2",
			 from, to);
	realized = query_int(m->db,
			     "SELECT coalesce(sum(realized_e8), 0) FROM fills WHERE trade_ms >= ?1"
			     " AND trade_ms < ?2",
			     from, to);
	funds = query_int(m->db,
			  "SELECT coalesce(sum(funds_e8), 0) FROM fills WHERE trade_ms >= ?1 AND"
			  " trade_ms < ?2",
			  from, to);
	alerts = query_int(m->db,
			   "SELECT count(*) FROM notifications WHERE created_ms >= ?1 AND"
			   " created_ms < ?2 AND kind != 'daily_summary'",
			   from, to);
	critical = query_int(m->db,
			     "SELECT count(*) FROM notifications WHERE created_ms >= ?1 AND"
			     " created_ms < ?2 AND severity = 'critical'",
			     from, to);
	open_pos =
		query_int(m->db, "SELECT count(*) FROM positions WHERE volume_e8 > ?1 + ?2", 0, 0);
	if (trades < 0 || fees < 0 || alerts < 0 || open_pos < 0) {
		worker_job_done(w, run_id, JOB_TRANSIENT, "daily_summary: %s",
				sqlite3_errmsg(m->db));
		return;
	}
	dec8_format(fees, fee_s);
	dec8_format(realized, pnl_s);
	dec8_format(funds, funds_s);
	if (restarts >= 0)
		snprintf(restarts_s, sizeof(restarts_s), ", %lld worker restarts",
			 (long long)restarts);
	maint_alert(
		m, OUTBOX_INFO, "daily_summary",
		"daily summary %s (UTC): %lld trades, turnover %s KRW, realized PnL %s KRW, fees "
		"%s KRW, %lld open positions%s, %lld alerts (%lld critical)",
		day, (long long)trades, funds_s, pnl_s, fee_s, (long long)open_pos, restarts_s,
		(long long)alerts, (long long)critical);
	worker_job_done(w, run_id, JOB_OK, "summary of %s: %lld trades, PnL %s, fees %s", day,
			(long long)trades, pnl_s, fee_s);
}
