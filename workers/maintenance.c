/* The maintenance worker: database upkeep the scheduler runs as jobs (checkpoint here; backup
 * in maint_backup.c; prune and the daily summary in maint_prune.c). */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/db.h"
#include "common/log.h"
#include "workers/maintenance.h"

static void alert_stored(void *arg, int64_t id)
{
	struct maintenance *m = arg;

	worker_send(m->w, IPC_ALERT, &id, sizeof(id));
}

void maint_alert(struct maintenance *m, const char *severity, const char *kind, const char *fmt,
		 ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	outbox_post(&m->outbox, severity, kind, text);
}

/* A backup directory that cannot be made or written is a broken config, not a surprise at
 * midnight: the worker refuses to start (a crash loop the supervisor reports, and rolls back
 * when it follows a reload). */
static int check_backup_dir(const struct config_settings *s)
{
	char dir[PATH_MAX];

	if (s->maintenance.backup_dir[0])
		snprintf(dir, sizeof(dir), "%s", s->maintenance.backup_dir);
	else if ((size_t)snprintf(dir, sizeof(dir), "%s/backups", s->data_dir) >= sizeof(dir))
		return -1;
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || access(dir, W_OK | X_OK) < 0) {
		log_err("maintenance.backup_dir %s cannot be used", dir);
		return -1;
	}
	return 0;
}

static int maintenance_init(struct worker *w)
{
	struct maintenance *m;

	if (check_backup_dir(&w->cfg.s) < 0)
		return -1;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -1;
	m->db = db_open_worker(w->cfg.s.data_dir,
			       db_busy_ms(w->cfg.s.supervisor.heartbeat_timeout_ms));
	if (!m->db) {
		free(m);
		return -1;
	}
	m->w = w;
	outbox_init(&m->outbox, m->db, role_name(w->role), alert_stored, m);
	w->state = m;
	return 0;
}

/* TRUNCATE waits for readers and writers in turn (the busy wait) and empties the WAL file. A
 * reader that outlasts the wait makes it BUSY: then a PASSIVE checkpoint copies what no reader
 * needs, and the step is done all the same (the WAL is whole, only longer; the next run
 * truncates it). Any other error is transient. */
static void run_checkpoint(struct worker *w, uint64_t run_id, const char *args)
{
	struct maintenance *m = w->state;
	int log_frames = -1, done_frames = -1;
	const char *how = "";
	int rc;

	(void)args;
	rc = sqlite3_wal_checkpoint_v2(m->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log_frames,
				       &done_frames);
	if (rc == SQLITE_BUSY) {
		how = " (passive: readers kept the WAL from being truncated)";
		rc = sqlite3_wal_checkpoint_v2(m->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
					       &done_frames);
	}
	if (rc != SQLITE_OK) {
		worker_job_done(w, run_id, JOB_TRANSIENT, "checkpoint: %s", sqlite3_errmsg(m->db));
		return;
	}
	/* optimize is advice to the planner: a lock it meets (the busy wait above may have used
	 * the connection's patience) puts it off to the next run, it fails nothing. */
	rc = sqlite3_exec(m->db, "PRAGMA optimize", NULL, NULL, NULL);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
		worker_job_done(w, run_id, JOB_TRANSIENT, "optimize: %s", sqlite3_errmsg(m->db));
		return;
	}
	worker_job_done(w, run_id, JOB_OK, "checkpointed %d of %d WAL frames%s%s", done_frames,
			log_frames, how,
			rc == SQLITE_OK ? "" : "; optimize put off (database busy)");
}

static const struct worker_action maintenance_actions[] = {
	{"checkpoint", run_checkpoint},
	{"backup", maint_run_backup},
	{"prune", maint_run_prune},
	{"daily_summary", maint_run_daily_summary},
	{NULL, NULL},
};

static void maintenance_stop(struct worker *w)
{
	struct maintenance *m = w->state;

	if (!m)
		return;
	maint_backup_abort(m);
	maint_prune_abort(m);
	sqlite3_close(m->db);
	free(m);
	w->state = NULL;
}

const struct worker_ops maintenance_ops = {
	.init = maintenance_init,
	.actions = maintenance_actions,
	.stop = maintenance_stop,
};
