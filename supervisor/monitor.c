/* The supervisor's monitor: samples every process and the system from /proc on a timer, stores
 * each round in one transaction (pruned by count and age), raises and clears threshold alerts
 * with hysteresis, and restarts a worker over its memory limit through the normal stop path. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "common/outbox.h"
#include "supervisor/status_report.h"
#include "supervisor/supervisor.h"

enum monitor_stmt {
	MS_INSERT,
	MS_PRUNE_AGE,
	MS_PRUNE_COUNT,
	MS_COUNT,
};

static const char *const monitor_sql[MS_COUNT] = {
	[MS_INSERT] = "INSERT INTO metric_samples(sampled_ms, name, pid, state, cpu_pct, rss_kb, "
		      "fds, restarts, mem_total_kb, mem_avail_kb, load1, disk_free_kb, "
		      "disk_total_kb) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[MS_PRUNE_AGE] = "DELETE FROM metric_samples WHERE sampled_ms < ?",
	/* ids only grow: the newest keep rows are those above max(id) - keep. */
	[MS_PRUNE_COUNT] = "DELETE FROM metric_samples WHERE id <= "
			   "(SELECT max(id) FROM metric_samples) - ?",
};

struct monitor {
	uv_timer_t timer;
	sqlite3_stmt *st[MS_COUNT];
	long ticks_per_s;
	int64_t last_store_warn_mono;
};

static void on_timer(uv_timer_t *timer)
{
	monitor_sample(timer->data);
}

int monitor_start(struct supervisor *sup)
{
	struct monitor *m = calloc(1, sizeof(*m));

	if (!m) {
		log_errx("monitor: out of memory");
		return -1;
	}
	if (db_prepare_all(sup->db, monitor_sql, m->st, MS_COUNT) < 0) {
		free(m);
		return -1;
	}
	m->ticks_per_s = sysconf(_SC_CLK_TCK);
	uv_timer_init(sup->loop, &m->timer);
	m->timer.data = sup;
	sup->monitor = m;
	monitor_reconfigure(sup);
	return 0;
}

void monitor_reconfigure(struct supervisor *sup)
{
	struct monitor *m = sup->monitor;
	uint64_t every = (uint64_t)sup->cfg.s.monitor.interval_ms;

	if (!m)
		return;
	/* The report's period counts from the start, or from the reload that set it. */
	if (sup->cfg.s.monitor.status_report_s <= 0)
		sup->next_report_ms = 0;
	else if (sup->next_report_ms == 0)
		sup->next_report_ms = clock_now_ms() + sup->cfg.s.monitor.status_report_s * 1000;
	if (!sup->cfg.s.monitor.enabled) {
		uv_timer_stop(&m->timer);
		return;
	}
	/* A first round soon after the start, so that tradectl top has numbers at once. */
	uv_timer_start(&m->timer, on_timer, every < 1000 ? every : 1000, every);
}

static void timer_closed(uv_handle_t *handle)
{
	free(handle->data);
}

void monitor_close(struct supervisor *sup)
{
	struct monitor *m = sup->monitor;

	if (!m)
		return;
	db_finalize_all(m->st, MS_COUNT);
	sup->monitor = NULL;
	m->timer.data = m;
	uv_close((uv_handle_t *)&m->timer, timer_closed);
}

/* A new reading of pid; the CPU % is the delta since the last one of the same process. */
static void sample_usage(struct monitor *m, struct proc_usage *u, int pid, int64_t now)
{
	struct proc_reading r;

	if (pid <= 0 || monitor_read_proc(pid, &r) < 0) {
		u->valid = 0;
		u->pid = 0;
		u->cpu_pct = 0;
		return;
	}
	u->cpu_pct = u->valid && u->pid == pid ? monitor_cpu_pct(u->last.cpu_ticks, r.cpu_ticks,
								 now - u->read_mono, m->ticks_per_s)
					       : 0;
	u->valid = 1;
	u->pid = pid;
	u->last = r;
	u->read_mono = now;
}

/* The fds a worker counted of itself in its last STATUS (worker_runtime.c); 0 when unknown. */
static int fds_of_status(const struct proc *p)
{
	json_t *st = p->status_json ? json_loads(p->status_json, 0, NULL) : NULL;
	json_t *v = json_object_get(st, "fds");
	int n = json_is_integer(v) ? (int)json_integer_value(v) : 0;

	json_decref(st);
	return n;
}

static void alert_change(struct supervisor *sup, enum alarm_change c, const char *kind,
			 const char *raised_text, const char *cleared_text)
{
	char cleared_kind[64];

	if (c == ALARM_RAISED) {
		log_warnx("monitor: %s", raised_text);
		supervisor_alert(sup, OUTBOX_WARNING, kind, "%s", raised_text);
	} else if (c == ALARM_CLEARED) {
		log_notice("monitor: %s", cleared_text);
		snprintf(cleared_kind, sizeof(cleared_kind), "%s_cleared", kind);
		supervisor_alert(sup, OUTBOX_INFO, cleared_kind, "%s", cleared_text);
	}
}

/* A worker over monitor.memory_limit_mb is a leak: stopped with SHUTDOWN and SIGTERM like any
 * stop, then started afresh (leak protection); an alert says so, another once it is back. */
static void check_memory_limit(struct supervisor *sup, struct proc *p)
{
	const struct config_monitor *mc = &sup->cfg.s.monitor;
	int64_t limit_mb, limit_kb;
	char text[256];

	if (p->role >= ROLE_WORKER_COUNT || !p->usage.valid)
		return;
	limit_mb =
		mc->role_limit_mb[p->role] > 0 ? mc->role_limit_mb[p->role] : mc->memory_limit_mb;
	limit_kb = limit_mb * 1024;
	if (limit_kb <= 0)
		return;
	if (p->usage.last.rss_kb <= limit_kb) {
		if (p->usage.over_limit && p->state == PROC_RUNNING) {
			p->usage.over_limit = 0;
			snprintf(text, sizeof(text),
				 "%s is back under its memory limit (RSS %lld kB, pid %d)",
				 role_name(p->role), (long long)p->usage.last.rss_kb, p->pid);
			alert_change(sup, ALARM_CLEARED, "memory_limit", "", text);
		}
		return;
	}
	if (p->state != PROC_RUNNING)
		return;
	snprintf(text, sizeof(text),
		 "%s uses %lld kB, over its memory limit of %lld MB: restarting it (pid %d)",
		 role_name(p->role), (long long)p->usage.last.rss_kb, (long long)limit_mb, p->pid);
	/* One alert until the clear: a leak at every start restarts it each round, quietly. */
	if (!p->usage.over_limit)
		alert_change(sup, ALARM_RAISED, "memory_limit", text, "");
	else
		log_warnx("monitor: %s", text);
	p->usage.over_limit = 1;
	p->restarts++;
	p->restart_after_stop = 1;
	proc_event(p, EV_STOP);
}

static void check_thresholds(struct supervisor *sup)
{
	const struct config_monitor *mc = &sup->cfg.s.monitor;
	struct sys_usage *s = &sup->sys_usage;
	char up[256], down[256];

	for (int i = 0; i < ROLE_COUNT; i++) {
		struct proc *p = &sup->procs[i];
		enum alarm_change c;

		if (!p->usage.valid)
			continue;
		c = alarm_update(&p->usage.cpu_alarm, ALARM_ABOVE, p->usage.cpu_pct,
				 mc->cpu_raise_pct, mc->cpu_clear_pct);
		snprintf(up, sizeof(up), "%s uses %.0f%% CPU (threshold %.0f%%)",
			 role_name(p->role), p->usage.cpu_pct, mc->cpu_raise_pct);
		snprintf(down, sizeof(down), "%s CPU back to %.0f%%", role_name(p->role),
			 p->usage.cpu_pct);
		alert_change(sup, c, "cpu_high", up, down);
		check_memory_limit(sup, p);
	}
	if (!s->valid)
		return;
	if (s->last.mem_total_kb > 0) {
		double used = 100.0 * (double)(s->last.mem_total_kb - s->last.mem_avail_kb) /
			      (double)s->last.mem_total_kb;

		snprintf(up, sizeof(up), "system memory %.0f%% in use (threshold %.0f%%)", used,
			 mc->mem_raise_pct);
		snprintf(down, sizeof(down), "system memory back to %.0f%% in use", used);
		alert_change(sup,
			     alarm_update(&s->mem_alarm, ALARM_ABOVE, used, mc->mem_raise_pct,
					  mc->mem_clear_pct),
			     "memory_high", up, down);
	}
	/* Load per CPU, so that one setting fits any machine; an alarm raised before a reload
	 * that turned the watch off is cleared, not left open for ever. */
	if (mc->load_raise > 0 || s->load_alarm.raised) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		double per_cpu = s->last.load1 / (double)(cpus > 0 ? cpus : 1);

		snprintf(up, sizeof(up),
			 "system load %.2f on %ld CPUs, %.2f per CPU (threshold %g per CPU)",
			 s->last.load1, cpus, per_cpu, mc->load_raise);
		snprintf(down, sizeof(down), "system load back to %.2f per CPU", per_cpu);
		alert_change(sup,
			     mc->load_raise > 0
				     ? alarm_update(&s->load_alarm, ALARM_ABOVE, per_cpu,
						    mc->load_raise, mc->load_clear)
				     : alarm_update(&s->load_alarm, ALARM_ABOVE, 0, 1, 1),
			     "load_high", up, down);
	}
	if (s->last.disk_total_kb > 0) {
		double free_pct =
			100.0 * (double)s->last.disk_free_kb / (double)s->last.disk_total_kb;

		snprintf(up, sizeof(up),
			 "data_dir %s: %.1f%% free (%lld kB), below %.1f%%: the database may "
			 "soon refuse writes",
			 sup->cfg.s.data_dir, free_pct, (long long)s->last.disk_free_kb,
			 mc->disk_free_raise_pct);
		snprintf(down, sizeof(down), "data_dir %s: %.1f%% free again (%lld kB)",
			 sup->cfg.s.data_dir, free_pct, (long long)s->last.disk_free_kb);
		alert_change(sup,
			     alarm_update(&s->disk_alarm, ALARM_BELOW, free_pct,
					  mc->disk_free_raise_pct, mc->disk_free_clear_pct),
			     "disk_low", up, down);
	}
}

static void bind_common(sqlite3_stmt *st, int64_t now_ms, const char *name)
{
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
}

static int insert_proc_row(struct monitor *m, int64_t now_ms, const struct proc *p)
{
	sqlite3_stmt *st = m->st[MS_INSERT];

	bind_common(st, now_ms, role_name(p->role));
	sqlite3_bind_int(st, 3, p->usage.valid ? p->pid : 0);
	sqlite3_bind_text(st, 4, proc_state_name(p->state), -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 5, p->usage.cpu_pct);
	sqlite3_bind_int64(st, 6, p->usage.valid ? p->usage.last.rss_kb : 0);
	sqlite3_bind_int(st, 7, p->usage.valid ? p->usage.last.fds : 0);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)p->restarts);
	for (int i = 9; i <= 13; i++)
		sqlite3_bind_int(st, i, 0);
	return db_step_reset(st) == SQLITE_DONE ? 0 : -1;
}

static int insert_sys_row(struct monitor *m, int64_t now_ms, const struct sys_usage *s)
{
	sqlite3_stmt *st = m->st[MS_INSERT];

	bind_common(st, now_ms, "system");
	sqlite3_bind_int(st, 3, (int)getpid());
	sqlite3_bind_text(st, 4, "system", -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 5, s->cpu_pct);
	sqlite3_bind_int(st, 6, 0);
	sqlite3_bind_int(st, 7, 0);
	sqlite3_bind_int(st, 8, 0);
	sqlite3_bind_int64(st, 9, s->last.mem_total_kb);
	sqlite3_bind_int64(st, 10, s->last.mem_avail_kb);
	sqlite3_bind_double(st, 11, s->last.load1);
	sqlite3_bind_int64(st, 12, s->last.disk_free_kb);
	sqlite3_bind_int64(st, 13, s->last.disk_total_kb);
	return db_step_reset(st) == SQLITE_DONE ? 0 : -1;
}

/* One transaction per round: every process, the system, then the prune. A refused round
 * (full disk, a lock held too long) is dropped: samples are for reports, not truth. */
static void store_round(struct supervisor *sup, int64_t now_ms)
{
	struct monitor *m = sup->monitor;
	char msg[256];
	int rc = 0;

	if (sqlite3_exec(sup->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		rc = -1;
	} else {
		for (int i = 0; i < ROLE_COUNT && rc == 0; i++)
			if (proc_enabled(&sup->procs[i]) || sup->procs[i].pid > 0)
				rc = insert_proc_row(m, now_ms, &sup->procs[i]);
		if (rc == 0)
			rc = insert_sys_row(m, now_ms, &sup->sys_usage);
		sqlite3_bind_int64(m->st[MS_PRUNE_AGE], 1,
				   now_ms - sup->cfg.s.monitor.keep_s * 1000);
		if (rc == 0 && db_step_reset(m->st[MS_PRUNE_AGE]) != SQLITE_DONE)
			rc = -1;
		sqlite3_bind_int64(m->st[MS_PRUNE_COUNT], 1, sup->cfg.s.monitor.keep_samples);
		if (rc == 0 && db_step_reset(m->st[MS_PRUNE_COUNT]) != SQLITE_DONE)
			rc = -1;
		if (rc == 0 && sqlite3_exec(sup->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			rc = -1;
	}
	if (rc == 0)
		return;
	db_rollback_keep_error(sup->db, msg, sizeof(msg));
	sup->sys_usage.store_failures++;
	/* Once a minute at most: a full disk must not fill the journal too. */
	if (clock_mono_ms() - m->last_store_warn_mono >= 60000 || m->last_store_warn_mono == 0) {
		m->last_store_warn_mono = clock_mono_ms();
		log_warnx("monitor: samples not stored (%llu rounds so far): %s",
			  (unsigned long long)sup->sys_usage.store_failures, msg);
	}
}

void monitor_sample(struct supervisor *sup)
{
	struct sys_usage *s = &sup->sys_usage;
	struct sys_reading r;
	int64_t now = clock_mono_ms();
	char msg[256];

	if (!sup->monitor || sup->shutting_down)
		return;
	for (int i = 0; i < ROLE_COUNT; i++) {
		struct proc *p = &sup->procs[i];

		sample_usage(sup->monitor, &p->usage, p->pid, now);
		if (p->usage.valid && p->usage.last.fds < 0)
			p->usage.last.fds = fds_of_status(p);
	}
	sample_usage(sup->monitor, &sup->self_usage, (int)getpid(), now);
	if (monitor_read_sys(sup->cfg.s.data_dir, &r) == 0) {
		s->cpu_pct = s->valid && s->last.have_cpu && r.have_cpu
				     ? monitor_sys_cpu_pct(s->last.cpu_total, s->last.cpu_idle,
							   r.cpu_total, r.cpu_idle)
				     : 0;
		s->last = r;
		s->valid = 1;
	}
	s->rounds++;
	store_round(sup, clock_now_ms());
	check_thresholds(sup);
	if (sup->next_report_ms > 0 && clock_now_ms() >= sup->next_report_ms) {
		sup->next_report_ms = clock_now_ms() + sup->cfg.s.monitor.status_report_s * 1000;
		if (status_report_queue(sup, msg, sizeof(msg)) != 0)
			log_warnx("status report: %s", msg);
	}
}
