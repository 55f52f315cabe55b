/* tradectl restore FILE: a verified backup of ours copied into data_dir (in a thread), every
 * worker but the simulator stopped, the database swapped by rename and reopened, the workers
 * started again; the reply once they are RUNNING. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "supervisor/control.h"
#include "supervisor/maint_op.h"
#include "supervisor/maint_ops.h"
#include "supervisor/monitor.h"
#include "supervisor/sched.h"

/* Ours and whole: recorded verified in the backups table at this size (a file grown or cut
 * since is not what was verified), our application_id, a schema we can migrate, quick_check. */
static int check_restorable(struct supervisor *sup, const char *file, char *err, size_t len)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	struct stat sb;
	int verified = -1, ok = 0;
	int64_t size = -1;

	if (sqlite3_prepare_v2(sup->db,
			       "SELECT verified, size FROM backups WHERE (file = ?1 OR copy_file ="
			       " ?1) AND removed_ms IS NULL ORDER BY id DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, len, "cannot read the backups table: %s", sqlite3_errmsg(sup->db));
		return -1;
	}
	sqlite3_bind_text(st, 1, file, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		verified = sqlite3_column_int(st, 0);
		size = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (verified < 0) {
		snprintf(err, len,
			 "refused: %.200s is not one of our backups (see tradectl backups)", file);
		return -1;
	}
	if (!verified) {
		snprintf(err, len, "refused: %.200s is not a verified backup", file);
		return -1;
	}
	if (stat(file, &sb) < 0 || (int64_t)sb.st_size != size) {
		snprintf(err, len, "refused: %.200s is missing or changed since it was verified",
			 file);
		return -1;
	}
	if (sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT (SELECT application_id FROM pragma_application_id),"
			       " (SELECT user_version FROM pragma_user_version),"
			       " (SELECT quick_check FROM pragma_quick_check)",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		snprintf(err, len, "refused: %.200s cannot be read as a database: %s", file,
			 db ? sqlite3_errmsg(db) : "no memory");
		goto out;
	}
	if (sqlite3_column_int(st, 0) != DB_APPLICATION_ID)
		snprintf(err, len, "refused: %.200s is not a tradingd database", file);
	else if (sqlite3_column_int(st, 1) > db_schema_version())
		snprintf(err, len, "refused: %.200s has schema %d, newer than this build's %d",
			 file, sqlite3_column_int(st, 1), db_schema_version());
	else if (strcmp((const char *)sqlite3_column_text(st, 2), "ok") != 0)
		snprintf(err, len, "refused: %.200s fails quick_check: %.100s", file,
			 (const char *)sqlite3_column_text(st, 2));
	else
		ok = 1;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok ? 0 : -1;
}

static int copy_synced(const char *from, const char *to, char *err, size_t len)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n = 0;

	if (in < 0 || out < 0)
		goto failed;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		for (char *p = buf; n > 0;) {
			ssize_t w = write(out, p, (size_t)n);

			if (w < 0)
				goto failed;
			p += w;
			n -= w;
		}
	if (n < 0 || fsync(out) < 0)
		goto failed;
	close(in);
	if (close(out) == 0)
		return 0;
	out = -1;
	in = -1;
failed:
	snprintf(err, len, "cannot copy %.200s into the data directory: %s", from, strerror(errno));
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	unlink(to);
	return -1;
}

static int db_worker(enum role r)
{
	return r != ROLE_SIM;
}

static int all_stopped(const struct supervisor *sup)
{
	for (int r = 0; r < ROLE_COUNT; r++)
		if (db_worker((enum role)r) && sup->procs[r].process)
			return 0;
	return 1;
}

static int side_rename(const char *from, const char *to, const char *suffix)
{
	char a[PATH_MAX + 80], b[PATH_MAX + 80];

	snprintf(a, sizeof(a), "%s%s", from, suffix);
	snprintf(b, sizeof(b), "%s%s", to, suffix);
	return rename(a, b) < 0 && errno != ENOENT ? -1 : 0;
}

/* Every worker has stopped: the current database goes aside (with its -wal, -shm), the copy
 * takes its name (one rename), and the supervisor reopens it. What the current one knew of
 * backups and config versions is carried over: history is never lost by a restore. */
static int swap(struct maint_op *op, char *err, size_t len)
{
	struct supervisor *sup = op->sup;
	char path[PATH_MAX + 32], sql[PATH_MAX + 400];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", sup->cfg.s.data_dir, DB_FILE_NAME);
	snprintf(op->aside, sizeof(op->aside), "%s.before-restore-%lld", path,
		 (long long)clock_now_ms());
	sqlite3_wal_checkpoint_v2(sup->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	/* Every statement on the connection goes first (the monitor's), or it cannot close and
	 * would go on writing into the database set aside. */
	monitor_close(sup);
	sched_db_close(sup);
	if (sqlite3_close(sup->db) != SQLITE_OK) {
		snprintf(err, len, "the supervisor's database connection is still in use: %s",
			 sqlite3_errmsg(sup->db));
		if (monitor_start(sup) < 0)
			log_errx("restore: the monitor could not start again");
		if (sched_db_open(sup) < 0)
			log_errx("restore: the scheduler could not start again");
		return -1;
	}
	sup->db = NULL;
	if (rename(path, op->aside) < 0 || side_rename(path, op->aside, "-wal") < 0 ||
	    side_rename(path, op->aside, "-shm") < 0) {
		snprintf(err, len, "cannot move the database aside: %s", strerror(errno));
		goto reopen;
	}
	if (rename(op->tmp, path) < 0) {
		snprintf(err, len, "cannot move the backup in: %s", strerror(errno));
		rename(op->aside, path);
		goto reopen;
	}
	fd = open(sup->cfg.s.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	err[0] = '\0';
reopen:
	sup->db = db_open(sup->cfg.s.data_dir,
			  db_busy_ms(sup->cfg.s.supervisor.heartbeat_timeout_ms));
	if (!sup->db || db_migrate(sup->db) < 0) {
		if (!err[0])
			snprintf(err, len, "the restored database cannot be opened or migrated");
		return -1;
	}
	sup->outbox.db = sup->db;
	if (monitor_start(sup) < 0)
		log_errx("restore: the monitor could not start again");
	if (sched_db_open(sup) < 0)
		log_errx("restore: the scheduler could not start again");
	if (err[0])
		return -1;
	snprintf(sql, sizeof(sql),
		 "ATTACH '%s' AS prev; INSERT OR IGNORE INTO backups SELECT * FROM prev.backups;"
		 " INSERT OR IGNORE INTO config_versions SELECT * FROM prev.config_versions;"
		 " DETACH prev;",
		 op->aside);
	if (!strchr(op->aside, '\'') && db_exec(sup->db, sql) < 0)
		log_warnx("restore: the backups and config versions of %s were not carried over",
			  op->aside);
	return 0;
}

static void restore_reply(struct maint_op *op, int ok, const char *msg)
{
	json_t *results = json_array();

	for (int r = 0; r < ROLE_COUNT; r++)
		if (op->restart_mask & ROLE_BIT(r))
			json_array_append_new(results,
					      json_pack("{s:s, s:s}", "name",
							role_name((enum role)r), "state",
							proc_state_name(op->sup->procs[r].state)));
	maint_op_finish(op,
			json_pack("{s:b, s:s, s:s, s:s, s:o}", "ok", ok, ok ? "result" : "error",
				  msg, "file", op->file, "aside", op->aside, "workers", results));
}

static int start_settled(const struct supervisor *sup, unsigned mask)
{
	for (int r = 0; r < ROLE_COUNT; r++) {
		const struct proc *p = &sup->procs[r];

		if (!(mask & ROLE_BIT(r)))
			continue;
		if (p->state == PROC_STARTING || (p->state == PROC_STOPPED && p->process))
			return 0;
	}
	return 1;
}

static void restore_tick(uv_timer_t *timer)
{
	struct maint_op *op = timer->data;
	struct supervisor *sup = op->sup;
	char err[256] = "", msg[PATH_MAX + 128];
	int running = 1;

	if (op->phase == RESTORE_COPYING)
		return;
	if (sup->shutting_down) {
		if (op->phase == RESTORE_STOPPING)
			unlink(op->tmp);
		restore_reply(op, 0, "given up: the daemon is shutting down");
		return;
	}
	if (op->phase == RESTORE_STOPPING) {
		if (!all_stopped(sup))
			return;
		if (swap(op, err, sizeof(err)) < 0) {
			unlink(op->tmp);
			log_errx("restore of %s failed: %s", op->file, err);
		} else {
			log_notice("restore: database replaced by %s; the previous one is %s",
				   op->file, op->aside);
			sup->db_damaged = 0;
			supervisor_alert(
				sup, OUTBOX_WARNING, "restore",
				"database restored from %s; the previous one is kept as %s; "
				"order-execution reconciles with the exchange at its start",
				op->file, op->aside);
		}
		op->phase = RESTORE_STARTING;
		for (int r = 0; r < ROLE_COUNT; r++)
			if ((op->restart_mask & ROLE_BIT(r)) && proc_enabled(&sup->procs[r]))
				proc_event(&sup->procs[r], EV_START);
		if (err[0]) {
			snprintf(msg, sizeof(msg), "restore failed, the database is unchanged: %s",
				 err);
			restore_reply(op, 0, msg);
		}
		return;
	}
	if (!start_settled(sup, op->restart_mask))
		return;
	for (int r = 0; r < ROLE_COUNT; r++)
		if ((op->restart_mask & ROLE_BIT(r)) && proc_enabled(&sup->procs[r]))
			running &= sup->procs[r].state == PROC_RUNNING;
	restore_reply(
		op, running,
		running ? "restored; the workers are running again"
			: "restored, but not every worker is running again (tradectl status)");
}

void maint_ops_state_changed(struct supervisor *sup)
{
	struct maint_op *op = sup->maint_op;

	/* Judged once the loop is back: never inside a process's state change. */
	if (op && op->timer_open)
		uv_timer_start(&op->timer, restore_tick, 0, 0);
}

/* How long copying the backup into data_dir may take, at the least a disk's 50 MB/s. */
#define RESTORE_COPY_WAIT_MS (10 * 60 * 1000)

static void copy_work(uv_work_t *req)
{
	struct maint_op *op = req->data;

	copy_synced(op->file, op->tmp, op->copy_err, sizeof(op->copy_err));
}

/* The copy is in data_dir: every worker but the simulator is stopped; restore_tick goes on
 * from there at each state change. */
static void begin_stopping(struct maint_op *op)
{
	struct supervisor *sup = op->sup;

	op->phase = RESTORE_STOPPING;
	log_notice("restore from %s: stopping the workers", op->file);
	for (int r = 0; r < ROLE_COUNT; r++) {
		struct proc *p = &sup->procs[r];

		if (!db_worker((enum role)r))
			continue;
		if (p->state != PROC_STOPPED && p->state != PROC_FATAL)
			op->restart_mask |= ROLE_BIT(r);
		else if (sup->db_damaged && sup->cfg.s.workers[r].enabled)
			op->restart_mask |= ROLE_BIT(r);
		if (p->state != PROC_STOPPED)
			proc_event(p, EV_STOP);
	}
	uv_timer_start(&op->timer, restore_tick, 0, 0);
}

static void copy_done(uv_work_t *req, int status)
{
	struct maint_op *op = req->data;

	op->in_work = 0;
	if (op->aborted) {
		/* The daemon finished meanwhile (maint_ops_close): nothing is waited for. */
		unlink(op->tmp);
		json_decref(op->results);
		uv_close((uv_handle_t *)&op->timer, maint_op_freed);
		return;
	}
	if (status < 0 && !op->copy_err[0])
		snprintf(op->copy_err, sizeof(op->copy_err), "the copy did not run");
	if (op->copy_err[0] || op->sup->shutting_down) {
		unlink(op->tmp);
		restore_reply(op, 0,
			      op->copy_err[0] ? op->copy_err
					      : "given up: the daemon is shutting down");
		return;
	}
	begin_stopping(op);
}

json_t *maint_cmd_restore(struct supervisor *sup, json_t *args, struct control_wait **wait)
{
	const char *arg = json_string_value(json_array_get(args, 0));
	char real[PATH_MAX], err[768];
	struct maint_op *op;

	if (!arg || json_array_size(args) != 1)
		return control_fail("%s", "restore needs one FILE");
	if (sup->shutting_down)
		return control_fail("%s", "restore refused: the daemon is shutting down");
	if (sup->maint_op)
		return control_fail("%s",
				    "restore refused: a backup, cleanup or restore is running");
	if (!realpath(arg, real))
		return control_fail("restore refused: no such file: %s", arg);
	if (check_restorable(sup, real, err, sizeof(err)) < 0)
		return json_pack("{s:b, s:s}", "ok", 0, "error", err);
	op = maint_op_new(sup);
	if (!op)
		return control_fail("%s", "out of memory");
	snprintf(op->file, sizeof(op->file), "%s", real);
	snprintf(op->tmp, sizeof(op->tmp), "%s/.%s.restore", sup->cfg.s.data_dir, DB_FILE_NAME);
	*wait = maint_op_wait(sup, op,
			      2 * (sup->cfg.s.supervisor.stop_timeout_ms +
				   sup->cfg.s.supervisor.ready_timeout_ms) +
				      CONTROL_WAIT_MARGIN_MS + RESTORE_COPY_WAIT_MS);
	if (!*wait || uv_timer_init(sup->loop, &op->timer) < 0) {
		free(*wait);
		*wait = NULL;
		maint_op_finish(op, NULL);
		return control_fail("%s", "out of memory");
	}
	op->timer_open = 1;
	op->timer.data = op;
	op->work.data = op;
	op->phase = RESTORE_COPYING;
	op->in_work = 1;
	if (uv_queue_work(sup->loop, &op->work, copy_work, copy_done) < 0) {
		op->in_work = 0;
		free(*wait);
		*wait = NULL;
		maint_op_finish(op, NULL);
		return control_fail("%s", "restore refused: cannot start the copy");
	}
	log_notice("restore from %s: copying it into %s", real, sup->cfg.s.data_dir);
	return NULL;
}
