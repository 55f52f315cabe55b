/* The status report: process states, restarts, CPU and memory per process, disk, trading
 * state, open positions, today's realised PnL and trade count, and errors in the last hour,
 * written as one notification. A supervisor-local action for the scheduler; until it runs it,
 * the monitor's timer does, every monitor.status_report_s of daemon time. */
#include "supervisor/status_report.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/dec8.h"
#include "common/log.h"
#include "common/outbox.h"
#include "supervisor/control.h"
#include "supervisor/supervisor.h"

#define REPORT_MAX 4096
#define REPORT_POSITIONS_MAX 20

struct report {
	char *buf;
	size_t len, used;
};

static void add(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct report *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->used + 1 >= r->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->buf + r->used, r->len - r->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->used = (size_t)n < r->len - r->used ? r->used + (size_t)n : r->len - 1;
}

static void add_processes(struct report *r, struct supervisor *sup)
{
	add(r, "Processes:\n");
	for (int i = 0; i < ROLE_COUNT; i++) {
		const struct proc *p = &sup->procs[i];

		if (!proc_enabled(p) && p->pid <= 0)
			continue;
		add(r, "  %s %s, %llu restarts", role_name(p->role), proc_state_name(p->state),
		    (unsigned long long)p->restarts);
		if (p->usage.valid)
			add(r, ", CPU %.1f%%, RSS %lld kB, %d fds", p->usage.cpu_pct,
			    (long long)p->usage.last.rss_kb, p->usage.last.fds);
		add(r, "\n");
	}
}

static void add_system(struct report *r, struct supervisor *sup)
{
	const struct sys_usage *s = &sup->sys_usage;

	if (!s->valid) {
		add(r, "System: not sampled yet\n");
		return;
	}
	if (s->last.have_cpu)
		add(r, "System: CPU %.1f%%, ", s->cpu_pct);
	else
		add(r, "System: CPU unknown, ");
	add(r, "load %.2f, memory %lld of %lld MB available\n", s->last.load1,
	    (long long)(s->last.mem_avail_kb / 1024), (long long)(s->last.mem_total_kb / 1024));
	add(r, "Disk (%s): %lld of %lld MB free\n", sup->cfg.s.data_dir,
	    (long long)(s->last.disk_free_kb / 1024), (long long)(s->last.disk_total_kb / 1024));
}

/* The window as `tradectl status` says it: derived from the clock, like the strategy does. */
static const char *window_state(const struct supervisor *sup)
{
	int open = control_window_open(sup);

	return open == 1 ? "open" : open == 0 ? "closed" : "unknown";
}

static int add_trading(struct report *r, struct supervisor *sup)
{
	sqlite3_stmt *st = NULL;
	char day[40], a[DEC8_BUF], b[DEC8_BUF];
	int64_t now = clock_now_ms();
	int n = 0, rc = -1;

	if (sqlite3_prepare_v2(sup->db, "SELECT paused, reason FROM trading_control WHERE id=1", -1,
			       &st, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW)
		add(r, "Trading: window %s, %s%s%s\n", window_state(sup),
		    sqlite3_column_int(st, 0) ? "PAUSED" : "not paused",
		    sqlite3_column_int(st, 0) ? ": " : "",
		    sqlite3_column_int(st, 0) ? (const char *)sqlite3_column_text(st, 1) : "");
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(sup->db,
			       "SELECT market, volume_e8, cost_e8 FROM positions "
			       "WHERE volume_e8 != 0 ORDER BY market",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	add(r, "Positions:");
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n++ >= REPORT_POSITIONS_MAX)
			continue;
		dec8_format(sqlite3_column_int64(st, 1), a);
		dec8_format(sqlite3_column_int64(st, 2), b);
		add(r, "\n  %s volume %s, cost %s KRW", (const char *)sqlite3_column_text(st, 0), a,
		    b);
	}
	add(r, n == 0 ? " none\n" : n > REPORT_POSITIONS_MAX ? "\n  (and more)\n" : "\n");
	sqlite3_finalize(st);
	/* The trading day of fills.day: the UTC date, when Upbit's daily candles start. */
	clock_format(now, 0, day, sizeof(day));
	day[10] = '\0';
	if (sqlite3_prepare_v2(sup->db,
			       "SELECT count(*), coalesce(sum(realized_e8), 0) FROM fills "
			       "WHERE day = ?",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, day, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		dec8_format(sqlite3_column_int64(st, 1), a);
		add(r, "Today (%s): %lld trades, realised PnL %s KRW\n", day,
		    (long long)sqlite3_column_int64(st, 0), a);
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(sup->db,
			       "SELECT count(*) FROM notifications WHERE created_ms >= ? AND "
			       "severity IN ('error', 'critical')",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, now - 3600 * 1000);
	if (sqlite3_step(st) == SQLITE_ROW)
		add(r, "Errors in the last hour: %lld\n", (long long)sqlite3_column_int64(st, 0));
	rc = 0;
out:
	if (rc < 0)
		log_warnx("status report: %s", sqlite3_errmsg(sup->db));
	sqlite3_finalize(st);
	return rc;
}

int status_report_text(struct supervisor *sup, char *buf, size_t len)
{
	struct report r = {.buf = buf, .len = len, .used = 0};

	buf[0] = '\0';
	add(&r, "tradingd status (%s mode)\n", config_mode_name(sup->cfg.s.mode));
	add_processes(&r, sup);
	add_system(&r, sup);
	return add_trading(&r, sup);
}

int status_report_queue(struct supervisor *sup, char *msg, size_t len)
{
	char text[REPORT_MAX];
	uint64_t lost = sup->outbox.lost;

	if (!sup->db) {
		snprintf(msg, len, "no database");
		return JOB_PERMANENT;
	}
	if (status_report_text(sup, text, sizeof(text)) < 0) {
		snprintf(msg, len, "cannot read the database: %s", sqlite3_errmsg(sup->db));
		return JOB_TRANSIENT;
	}
	if (outbox_post(&sup->outbox, OUTBOX_INFO, "status_report", text) < 0 ||
	    sup->outbox.lost != lost) {
		snprintf(msg, len, "the report could not be queued");
		return JOB_TRANSIENT;
	}
	snprintf(msg, len, "status report queued (%zu bytes)", strlen(text));
	return JOB_OK;
}
