/* The "backup" action: an online copy with SQLite's backup API in bounded steps inside one read
 * transaction (its snapshot), verified in a thread, fsynced and renamed, recorded, rotated. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "workers/maintenance.h"

#define DAY_MS 86400000LL

/* The tables whose row counts must be equal in the copy and at the source's snapshot. */
#define COUNT_SQL                                                                                  \
	"SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM fills),"                      \
	" (SELECT count(*) FROM order_intents)"

struct maint_backup {
	struct maintenance *m;
	uint64_t run_id;
	sqlite3 *src, *dst;
	sqlite3_backup *bk;
	struct db_job job;
	uv_work_t work;
	int in_work, aborted, renamed;
	int record_tries;
	int pages;
	int64_t created_ms, size;
	int64_t counts[3];
	char final[PATH_MAX + 64], tmp[PATH_MAX + 64];
	char copy_dir[PATH_MAX], copy_final[2 * PATH_MAX + 64];
	char err[512], copy_err[256];
};

static void remove_tmp(const char *tmp)
{
	static const char *const side[] = {"", "-journal", "-wal", "-shm"};
	char path[PATH_MAX + 16];

	for (size_t i = 0; i < sizeof(side) / sizeof(side[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", tmp, side[i]);
		unlink(path);
	}
}

static int fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* The directory's entry for a renamed file survives power loss only once the directory is
 * synced too. */
static int fsync_dir_of(const char *file)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", file);
	slash = strrchr(dir, '/');
	if (!slash)
		return fsync_path(".", O_RDONLY | O_DIRECTORY);
	*slash = '\0';
	return fsync_path(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY);
}

static int read_counts(sqlite3 *db, int64_t out[3])
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, COUNT_SQL, -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		for (int i = 0; i < 3; i++)
			out[i] = sqlite3_column_int64(st, i);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* integrity_check says "ok" in one row, or lists up to 100 problems: the first is kept. */
static int check_copy(const char *path, const int64_t want[3], char *err, size_t len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t got[3];
	int ok = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		snprintf(err, len, "cannot open %.200s: %s", path,
			 db ? sqlite3_errmsg(db) : "no memory");
		goto out;
	}
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		snprintf(err, len, "integrity_check of %.200s: %.200s", path, sqlite3_errmsg(db));
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		snprintf(err, len, "integrity_check of %.200s: %.200s", path,
			 (const char *)sqlite3_column_text(st, 0));
		goto out;
	}
	if (read_counts(db, got) < 0) {
		snprintf(err, len, "row counts of %.200s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	if (got[0] != want[0] || got[1] != want[1] || got[2] != want[2]) {
		snprintf(
			err, len,
			"row counts of %.200s differ from the source's snapshot: orders %lld/%lld, "
			"fills %lld/%lld, intents %lld/%lld",
			path, (long long)got[0], (long long)want[0], (long long)got[1],
			(long long)want[1], (long long)got[2], (long long)want[2]);
		goto out;
	}
	ok = 1;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok ? 0 : -1;
}

/* A plain copy to another directory under a temporary name, synced, renamed, then checked as
 * the original was. */
static int copy_file(const char *from, const char *to_tmp, const char *to, char *err, size_t len)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = -1;
	ssize_t n = 0;

	if (in < 0) {
		snprintf(err, len, "cannot open %.200s: %s", from, strerror(errno));
		return -1;
	}
	out = open(to_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		snprintf(err, len, "cannot create %.200s: %s", to_tmp, strerror(errno));
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		char *p = buf;

		while (n > 0) {
			ssize_t w = write(out, p, (size_t)n);

			if (w < 0)
				goto failed;
			p += w;
			n -= w;
		}
	}
	if (n < 0 || fsync(out) < 0)
		goto failed;
	close(in);
	if (close(out) < 0) {
		out = -1;
		goto failed;
	}
	if (rename(to_tmp, to) < 0 || fsync_dir_of(to) < 0) {
		snprintf(err, len, "cannot rename %.200s: %s", to_tmp, strerror(errno));
		unlink(to_tmp);
		return -1;
	}
	return 0;
failed:
	snprintf(err, len, "cannot write %.200s: %s", to_tmp, strerror(errno));
	close(in);
	if (out >= 0)
		close(out);
	unlink(to_tmp);
	return -1;
}

/* In a thread: the copy is whole, so it is made one file (journal_mode DELETE), checked,
 * synced and renamed; the loop keeps answering heartbeats meanwhile. */
static void verify_work(uv_work_t *req)
{
	struct maint_backup *b = req->data;
	struct stat sb;
	char copy_tmp[2 * PATH_MAX + 72];

	if (db_exec(b->dst, "PRAGMA journal_mode=DELETE") < 0) {
		snprintf(b->err, sizeof(b->err), "cannot finish the copy: %s",
			 sqlite3_errmsg(b->dst));
		return;
	}
	sqlite3_close(b->dst);
	b->dst = NULL;
	if (check_copy(b->tmp, b->counts, b->err, sizeof(b->err)) < 0)
		return;
	if (fsync_path(b->tmp, O_RDONLY) < 0 || stat(b->tmp, &sb) < 0) {
		snprintf(b->err, sizeof(b->err), "cannot sync %.200s: %s", b->tmp, strerror(errno));
		return;
	}
	b->size = (int64_t)sb.st_size;
	if (rename(b->tmp, b->final) < 0 || fsync_dir_of(b->final) < 0) {
		snprintf(b->err, sizeof(b->err), "cannot rename %.200s: %s", b->tmp,
			 strerror(errno));
		return;
	}
	b->renamed = 1;
	if (!b->copy_dir[0])
		return;
	snprintf(copy_tmp, sizeof(copy_tmp), "%s.tmp", b->copy_final);
	if (copy_file(b->final, copy_tmp, b->copy_final, b->copy_err, sizeof(b->copy_err)) < 0 ||
	    check_copy(b->copy_final, b->counts, b->copy_err, sizeof(b->copy_err)) < 0) {
		unlink(b->copy_final);
		b->copy_final[0] = '\0';
	}
}

static void backup_freed(uv_handle_t *handle)
{
	struct maint_backup *b = handle->data;

	free(b);
}

static void backup_release(struct maint_backup *b)
{
	if (b->bk)
		sqlite3_backup_finish(b->bk);
	b->bk = NULL;
	if (b->src)
		sqlite3_close(b->src);
	b->src = NULL;
	if (b->dst)
		sqlite3_close(b->dst);
	b->dst = NULL;
	if (!b->renamed && b->tmp[0])
		remove_tmp(b->tmp);
	b->job.timer.data = b;
	db_job_close(&b->job, backup_freed);
}

/* The backups row: SQLITE_DONE once committed, SQLITE_BUSY while writers hold the lock. */
static int record(struct maint_backup *b, int verified)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(
		    b->m->db,
		    "INSERT INTO backups(file, size, created_ms, verified, orders, fills,"
		    " intents, copy_file, error) VALUES(?,?,?,?,?,?,?,?,?)",
		    -1, &st, NULL) != SQLITE_OK) {
		log_errx("backup: cannot record it: %s", sqlite3_errmsg(b->m->db));
		return sqlite3_errcode(b->m->db);
	}
	sqlite3_bind_text(st, 1, b->final, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, verified ? b->size : 0);
	sqlite3_bind_int64(st, 3, b->created_ms);
	sqlite3_bind_int(st, 4, verified);
	for (int i = 0; i < 3; i++)
		sqlite3_bind_int64(st, 5 + i, b->counts[i]);
	if (b->copy_final[0])
		sqlite3_bind_text(st, 8, b->copy_final, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 8);
	sqlite3_bind_text(st, 9, verified ? b->copy_err : b->err, -1, SQLITE_STATIC);
	rc = db_step_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
		log_errx("backup: cannot record it: %s", sqlite3_errmsg(b->m->db));
	sqlite3_finalize(st);
	return rc;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Keeps the newest backup of each of the keep_daily newest days and of each of the keep_weekly
 * newest ISO weeks (the two chosen independently, as restic's forget does); removes the other
 * verified backups' files. */
static int rotate(struct maintenance *m, int *removed)
{
	const struct config_settings *s = &m->w->cfg.s;
	sqlite3_stmt *sel = NULL, *upd = NULL;
	int64_t last_day = INT64_MIN, last_week = INT64_MIN;
	int64_t days = 0, weeks = 0;
	int rc = -1;

	*removed = 0;
	if (sqlite3_prepare_v2(
		    m->db,
		    "SELECT id, file, copy_file, created_ms FROM backups WHERE verified=1"
		    " AND removed_ms IS NULL ORDER BY created_ms DESC, id DESC",
		    -1, &sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(m->db, "UPDATE backups SET removed_ms=? WHERE id=?", -1, &upd,
			       NULL) != SQLITE_OK)
		goto out;
	if (db_exec(m->db, "BEGIN IMMEDIATE") < 0)
		goto out;
	while (sqlite3_step(sel) == SQLITE_ROW) {
		int64_t created = sqlite3_column_int64(sel, 3);
		int64_t day = floor_div(created, DAY_MS);
		int64_t week = floor_div(day + 3, 7); /* 1970-01-01 was a Thursday */
		int keep = 0;

		if (day != last_day) {
			last_day = day;
			if (days < s->maintenance.keep_daily) {
				days++;
				keep = 1;
			}
		}
		if (week != last_week) {
			last_week = week;
			if (weeks < s->maintenance.keep_weekly) {
				weeks++;
				keep = 1;
			}
		}
		if (keep)
			continue;
		unlink((const char *)sqlite3_column_text(sel, 1));
		if (sqlite3_column_type(sel, 2) == SQLITE_TEXT)
			unlink((const char *)sqlite3_column_text(sel, 2));
		sqlite3_bind_int64(upd, 1, clock_now_ms());
		sqlite3_bind_int64(upd, 2, sqlite3_column_int64(sel, 0));
		if (db_step_reset(upd) != SQLITE_DONE)
			break;
		(*removed)++;
	}
	/* A failed backup left no file; its row leaves the list after keep_daily days. */
	sqlite3_finalize(upd);
	upd = NULL;
	if (sqlite3_prepare_v2(m->db,
			       "UPDATE backups SET removed_ms=?1 WHERE verified=0 AND removed_ms IS"
			       " NULL AND created_ms < ?1 - ?2",
			       -1, &upd, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(upd, 1, clock_now_ms());
		sqlite3_bind_int64(upd, 2, s->maintenance.keep_daily * DAY_MS);
		db_step_reset(upd);
	}
	rc = db_exec(m->db, "COMMIT");
	if (rc < 0)
		sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
out:
	if (rc < 0)
		log_errx("backup: rotation failed: %s", sqlite3_errmsg(m->db));
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return rc;
}

static void fail(struct maint_backup *b)
{
	struct maintenance *m = b->m;

	log_errx("backup failed, no file left: %s", b->err);
	record(b, 0);
	maint_alert(m, OUTBOX_CRITICAL, "backup_failed",
		    "backup failed (nothing was left behind; trading goes on): %s", b->err);
	worker_job_done(m->w, b->run_id, JOB_TRANSIENT, "backup failed: %s", b->err);
	m->backup = NULL;
	backup_release(b);
}

/* A verified copy is ours only once its row is committed; the lock is asked for again for
 * a while (writers come and go), then the backup fails and its files are removed. */
#define RECORD_TRIES 50

static int record_step(void *arg)
{
	struct maint_backup *b = arg;
	int rc = record(b, 1);

	if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && ++b->record_tries >= RECORD_TRIES) {
		snprintf(b->err, sizeof(b->err), "cannot record %.200s: the database stayed locked",
			 b->final);
		return SQLITE_ABORT;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_BUSY && rc != SQLITE_LOCKED && !b->err[0])
		snprintf(b->err, sizeof(b->err), "cannot record %.200s: %s", b->final,
			 sqlite3_errstr(rc));
	return rc == SQLITE_DONE || rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? rc : SQLITE_ABORT;
}

static void recorded(struct db_job *job, int rc)
{
	struct maint_backup *b =
		(struct maint_backup *)((char *)job - offsetof(struct maint_backup, job));
	struct maintenance *m = b->m;
	int removed = 0;

	if (rc != SQLITE_DONE) {
		unlink(b->final);
		if (b->copy_final[0])
			unlink(b->copy_final);
		b->renamed = 0;
		fail(b);
		return;
	}
	rotate(m, &removed);
	if (b->copy_err[0])
		maint_alert(m, OUTBOX_WARNING, "backup_copy_failed",
			    "backup %s is verified, but its second copy failed: %s", b->final,
			    b->copy_err);
	log_notice("backup %s verified (%lld bytes; orders %lld, fills %lld, intents %lld)",
		   b->final, (long long)b->size, (long long)b->counts[0], (long long)b->counts[1],
		   (long long)b->counts[2]);
	worker_job_done(m->w, b->run_id, JOB_OK,
			"%s: %lld bytes, verified (orders %lld, fills %lld, intents %lld)%s%s; "
			"%d old removed",
			b->final, (long long)b->size, (long long)b->counts[0],
			(long long)b->counts[1], (long long)b->counts[2],
			b->copy_final[0] ? "; copied to " : "",
			b->copy_final[0] ? b->copy_final : "", removed);
	m->backup = NULL;
	backup_release(b);
}

static void verify_done(uv_work_t *req, int status)
{
	struct maint_backup *b = req->data;

	b->in_work = 0;
	if (b->aborted) {
		/* Not recorded, so never restorable: not left behind either. */
		if (b->renamed)
			unlink(b->final);
		b->renamed = 0;
		backup_release(b);
		return;
	}
	if (status < 0 && !b->err[0])
		snprintf(b->err, sizeof(b->err), "verification did not run: %s",
			 uv_strerror(status));
	if (b->err[0]) {
		if (b->renamed)
			unlink(b->final);
		b->renamed = 0;
		fail(b);
		return;
	}
	/* Recorded in steps of its own: writers may hold the lock for a while, and a verified
	 * file without its row could never be restored. */
	b->job.step = record_step;
	b->job.done = recorded;
	db_job_start(&b->job);
}

static int backup_step(void *arg)
{
	struct maint_backup *b = arg;
	int rc = sqlite3_backup_step(b->bk, b->pages);

	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
		snprintf(b->err, sizeof(b->err), "copying to %.200s: %s", b->tmp,
			 sqlite3_errstr(rc));
	return rc;
}

static void backup_stepped(struct db_job *job, int rc)
{
	struct maint_backup *b =
		(struct maint_backup *)((char *)job - offsetof(struct maint_backup, job));
	int fin;

	/* Finished whatever happened: a source with a backup still attached cannot close. */
	fin = sqlite3_backup_finish(b->bk);
	b->bk = NULL;
	if (rc == SQLITE_DONE) {
		rc = fin;
		if (rc != SQLITE_OK)
			snprintf(b->err, sizeof(b->err), "finishing %.200s: %s", b->tmp,
				 sqlite3_errstr(rc));
	}
	/* The snapshot's read transaction ends here: checkpoints may pass it again. */
	sqlite3_exec(b->src, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(b->src);
	b->src = NULL;
	if (b->err[0] || rc != SQLITE_OK) {
		if (!b->err[0])
			snprintf(b->err, sizeof(b->err), "%s", sqlite3_errstr(rc));
		fail(b);
		return;
	}
	b->work.data = b;
	b->in_work = 1;
	if (uv_queue_work(b->m->w->loop, &b->work, verify_work, verify_done) < 0) {
		b->in_work = 0;
		snprintf(b->err, sizeof(b->err), "cannot start the verification");
		fail(b);
	}
}

static int make_names(struct maint_backup *b, const struct config_settings *s)
{
	char dir[PATH_MAX], abs[PATH_MAX], stamp[40];
	time_t t = (time_t)floor_div(b->created_ms, 1000);
	struct tm tm;
	int n;

	if (s->maintenance.backup_dir[0])
		n = snprintf(dir, sizeof(dir), "%s", s->maintenance.backup_dir);
	else
		n = snprintf(dir, sizeof(dir), "%s/backups", s->data_dir);
	if (n < 0 || (size_t)n >= sizeof(dir) - 64)
		return -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(b->err, sizeof(b->err), "cannot create %.200s: %s", dir, strerror(errno));
		return -1;
	}
	/* Recorded as an absolute path: that is what tradectl restore is given and compares. */
	if (!realpath(dir, abs)) {
		snprintf(b->err, sizeof(b->err), "cannot resolve %.200s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", abs);
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	snprintf(b->final, sizeof(b->final), "%s/tradingd-%s.%03dZ.db", dir, stamp,
		 (int)(b->created_ms - (int64_t)t * 1000));
	snprintf(b->tmp, sizeof(b->tmp), "%s/.tradingd-%s.%03dZ.db.tmp", dir, stamp,
		 (int)(b->created_ms - (int64_t)t * 1000));
	if (s->maintenance.copy_dir[0]) {
		if (mkdir(s->maintenance.copy_dir, 0700) < 0 && errno != EEXIST)
			snprintf(b->copy_err, sizeof(b->copy_err), "cannot create %s: %s",
				 s->maintenance.copy_dir, strerror(errno));
		else {
			snprintf(b->copy_dir, sizeof(b->copy_dir), "%s", s->maintenance.copy_dir);
			snprintf(b->copy_final, sizeof(b->copy_final), "%s%s", b->copy_dir,
				 strrchr(b->final, '/'));
		}
	}
	return 0;
}

/* The snapshot: a read transaction opened by the counts, in which every step of the backup
 * then runs (a step on a source already in a transaction uses it), so that the copy and the
 * counts see the same commits, and writers in other connections go on (WAL) meanwhile. */
static int open_snapshot(struct maint_backup *b, const struct config_settings *s)
{
	b->src = db_open(s->data_dir, db_busy_ms(s->supervisor.heartbeat_timeout_ms));
	if (!b->src) {
		snprintf(b->err, sizeof(b->err), "cannot open the database");
		return -1;
	}
	if (db_exec(b->src, "BEGIN") < 0 || read_counts(b->src, b->counts) < 0) {
		snprintf(b->err, sizeof(b->err), "cannot read the source: %s",
			 sqlite3_errmsg(b->src));
		return -1;
	}
	remove_tmp(b->tmp);
	if (sqlite3_open_v2(b->tmp, &b->dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		snprintf(b->err, sizeof(b->err), "cannot create %.200s: %s", b->tmp,
			 b->dst ? sqlite3_errmsg(b->dst) : "no memory");
		return -1;
	}
	b->bk = sqlite3_backup_init(b->dst, "main", b->src, "main");
	if (!b->bk) {
		snprintf(b->err, sizeof(b->err), "cannot start the backup: %s",
			 sqlite3_errmsg(b->dst));
		return -1;
	}
	return 0;
}

void maint_run_backup(struct worker *w, uint64_t run_id, const char *args)
{
	struct maintenance *m = w->state;
	const struct config_settings *s = &w->cfg.s;
	struct maint_backup *b;

	(void)args;
	if (m->backup) {
		worker_job_done(w, run_id, JOB_TRANSIENT, "a backup is already running");
		return;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		worker_job_done(w, run_id, JOB_TRANSIENT, "out of memory");
		return;
	}
	b->m = m;
	b->run_id = run_id;
	b->pages = (int)s->maintenance.backup_pages_per_step;
	b->created_ms = clock_now_ms();
	if (db_job_init(&b->job, w->loop, backup_step, b, backup_stepped) < 0) {
		free(b);
		worker_job_done(w, run_id, JOB_TRANSIENT, "cannot start a timer");
		return;
	}
	m->backup = b;
	if (make_names(b, s) < 0 || open_snapshot(b, s) < 0) {
		if (!b->err[0])
			snprintf(b->err, sizeof(b->err), "backup_dir is too long");
		fail(b);
		return;
	}
	db_job_start(&b->job);
}

void maint_backup_abort(struct maintenance *m)
{
	struct maint_backup *b = m->backup;

	if (!b)
		return;
	m->backup = NULL;
	if (b->in_work) {
		/* The thread finishes its file; verify_done then removes what is not renamed. */
		b->aborted = 1;
		return;
	}
	/* Verified but not yet recorded: never restorable, so not left behind. */
	if (b->renamed && b->job.step == record_step) {
		unlink(b->final);
		if (b->copy_final[0])
			unlink(b->copy_final);
		b->renamed = 0;
	}
	backup_release(b);
}
