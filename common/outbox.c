/* The notification outbox: any process writes an alert row here before it nudges the notifier,
 * so that an alert survives a crash of the writer, the supervisor or the notifier. */
#include "outbox.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

int64_t outbox_add(sqlite3 *db, int64_t created_ms, const char *source, const char *severity,
		   const char *kind, const char *text)
{
	return outbox_add_uid(db, created_ms, source, severity, kind, text, NULL);
}

int64_t outbox_add_uid(sqlite3 *db, int64_t created_ms, const char *source, const char *severity,
		       const char *kind, const char *text, const char *uid)
{
	sqlite3_stmt *st;
	int64_t id = -1;
	int rc;

	/* Alerts are rare: preparing here keeps the module free of per-connection state. */
	if (sqlite3_prepare_v2(
		    db,
		    "INSERT INTO notifications(created_ms, severity, source, kind, text, uid) "
		    "VALUES(?, ?, ?, ?, ?, ?)",
		    -1, &st, NULL) != SQLITE_OK) {
		log_errx("outbox: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_int64(st, 1, created_ms);
	sqlite3_bind_text(st, 2, severity, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC);
	if (uid)
		sqlite3_bind_text(st, 6, uid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		id = sqlite3_last_insert_rowid(db);
	else if (rc == SQLITE_BUSY)
		id = -EBUSY;
	else if (rc == SQLITE_FULL)
		id = -ENOSPC;
	else
		log_errx("outbox: cannot store \"%s\": %s", text, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return id;
}

void outbox_init(struct outbox *ob, sqlite3 *db, const char *source,
		 void (*stored)(void *arg, int64_t id), void *arg)
{
	memset(ob, 0, sizeof(*ob));
	ob->db = db;
	ob->source = source;
	ob->stored = stored;
	ob->arg = arg;
}

static const char *refusal(int64_t rc)
{
	return rc == -EBUSY ? "database is locked" : "database or disk is full";
}

static int keep(struct outbox *ob, int64_t created_ms, const char *severity, const char *kind,
		const char *text, const char *why)
{
	struct outbox_pending *p;

	if (ob->n == OUTBOX_PENDING_MAX) {
		ob->lost++;
		log_errx("outbox: %s and %d alerts already wait: alert lost: %s", why,
			 OUTBOX_PENDING_MAX, text);
		return -1;
	}
	p = &ob->pending[(ob->head + ob->n++) % OUTBOX_PENDING_MAX];
	p->created_ms = created_ms;
	p->kept_mono_ms = clock_mono_ms();
	snprintf(p->severity, sizeof(p->severity), "%s", severity);
	snprintf(p->kind, sizeof(p->kind), "%s", kind);
	snprintf(p->text, sizeof(p->text), "%s", text);
	snprintf(p->uid, sizeof(p->uid), "%s:%d:%lld:%llu", ob->source, (int)getpid(),
		 (long long)created_ms, (unsigned long long)++ob->seq);
	ob->deferred++;
	log_warnx("outbox: %s: alert kept in memory and retried (%zu waiting): %s", why, ob->n,
		  text);
	/* A full disk lasts: the notifier gets the text now. A lock passes within a retry. */
	if (ob->kept && ob->disk_full)
		ob->kept(ob->arg, ob->source, p);
	return 0;
}

void outbox_on_kept(struct outbox *ob,
		    void (*kept)(void *arg, const char *source, const struct outbox_pending *p))
{
	ob->kept = kept;
}

/* Keeps the alert; on a full disk, an alert about the disk goes first, once per episode. */
static int keep_refused(struct outbox *ob, int64_t created_ms, const char *severity,
			const char *kind, const char *text, int64_t rc)
{
	if (rc == -ENOSPC && ob->kept && !ob->disk_full) {
		ob->disk_full = 1;
		keep(ob, created_ms, OUTBOX_CRITICAL, "disk_full",
		     "database or disk is full: alerts are kept in memory and delivered from there",
		     refusal(rc));
	}
	return keep(ob, created_ms, severity, kind, text, refusal(rc));
}

void outbox_retry(struct outbox *ob)
{
	size_t stored = 0;

	while (ob->n > 0) {
		struct outbox_pending *p = &ob->pending[ob->head];
		int64_t id = outbox_add_uid(ob->db, p->created_ms, ob->source, p->severity, p->kind,
					    p->text, p->uid);

		if (id == -EBUSY || id == -ENOSPC) {
			if (clock_mono_ms() - p->kept_mono_ms < OUTBOX_KEEP_MS)
				break;
			ob->lost++;
			log_errx("outbox: %s for %d s: alert lost: %s", refusal(id),
				 OUTBOX_KEEP_MS / 1000, p->text);
		} else if (id > 0) {
			stored++;
			ob->stored(ob->arg, id);
		} else {
			ob->lost++; /* outbox_add said why */
		}
		ob->head = (ob->head + 1) % OUTBOX_PENDING_MAX;
		ob->n--;
	}
	/* The episode ends when everything kept is stored. */
	if (ob->n == 0)
		ob->disk_full = 0;
	if (stored)
		log_notice("outbox: %zu kept alerts stored (%zu still waiting)", stored, ob->n);
}

int outbox_post(struct outbox *ob, const char *severity, const char *kind, const char *text)
{
	int64_t now = clock_now_ms(), id;

	outbox_retry(ob);
	if (ob->n > 0) /* after the older ones, so that the notifier sees them in order */
		return keep(ob, now, severity, kind, text, "older alerts still wait");
	id = outbox_add(ob->db, now, ob->source, severity, kind, text);
	if (id == -EBUSY || id == -ENOSPC)
		return keep_refused(ob, now, severity, kind, text, id);
	if (id < 0) {
		ob->lost++;
		return -1;
	}
	ob->disk_full = 0;
	ob->stored(ob->arg, id);
	return 0;
}

int outbox_alertv(struct outbox *ob, const char *severity, const char *kind, const char *fmt,
		  va_list ap)
{
	char text[512];

	vsnprintf(text, sizeof(text), fmt, ap);
	log_msg(strcmp(severity, OUTBOX_INFO) == 0 ? LOG_LVL_NOTICE : LOG_LVL_WARN, "%s", text);
	return outbox_post(ob, severity, kind, text);
}

int outbox_alert(struct outbox *ob, const char *severity, const char *kind, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = outbox_alertv(ob, severity, kind, fmt, ap);
	va_end(ap);
	return rc;
}
