/* The notification outbox: any process writes an alert row here before it nudges the notifier,
 * so that an alert survives a crash of the writer, the supervisor or the notifier. */
#ifndef TD_OUTBOX_H
#define TD_OUTBOX_H

#include <stdarg.h>

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Severity words stored in notifications.severity. */
#define OUTBOX_INFO "info"
#define OUTBOX_WARNING "warning"
#define OUTBOX_CRITICAL "critical"

/* Alerts kept in memory while the database refuses them, and for how long (real time). */
#define OUTBOX_PENDING_MAX 32
#define OUTBOX_KEEP_MS (10 * 60 * 1000)

/* Inserts one notification made at created_ms (daemon time); source is the writer's role.
 * Returns its row id; -EBUSY when the database is locked and -ENOSPC when it is full (nothing
 * stored: worth another try); -1 on any other error (logged). */
int64_t outbox_add(sqlite3 *db, int64_t created_ms, const char *source, const char *severity,
		   const char *kind, const char *text);
/* The same with uid, the key that ties the row to the copy sent over IPC while it waited;
 * NULL for none. */
int64_t outbox_add_uid(sqlite3 *db, int64_t created_ms, const char *source, const char *severity,
		       const char *kind, const char *text, const char *uid);

struct outbox_pending {
	int64_t created_ms, kept_mono_ms;
	char severity[16], kind[48], text[512];
	char uid[64]; /* source:pid:created_ms:sequence, unique per alert */
};

/* A writer's outbox: alerts the database refused for the moment wait here, in order, and are
 * retried; stored(arg, id) is called for each row written, to nudge the notifier. */
struct outbox {
	sqlite3 *db;
	const char *source;
	void (*stored)(void *arg, int64_t id);
	void *arg;
	struct outbox_pending pending[OUTBOX_PENDING_MAX];
	size_t head, n;
	uint64_t deferred, lost;
	/* Optional: told of each alert kept while the disk is full, to send it to the notifier as
	 * text (a locked database passes within a retry: no copy then). */
	void (*kept)(void *arg, const char *source, const struct outbox_pending *p);
	uint64_t seq;
	int disk_full; /* a "disk_full" alert was raised and alerts still wait */
};

void outbox_init(struct outbox *ob, sqlite3 *db, const char *source,
		 void (*stored)(void *arg, int64_t id), void *arg);
/* Sets ob->kept. A full disk then also raises one "disk_full" alert, kept like the others;
 * every alert kept until the outbox stores again goes to the hook. */
void outbox_on_kept(struct outbox *ob,
		    void (*kept)(void *arg, const char *source, const struct outbox_pending *p));
/* Stores an alert after the ones still waiting, or keeps it when the database is busy or
 * full. 0 when stored or kept; -1 when lost (a full queue or a hard error, logged). */
int outbox_post(struct outbox *ob, const char *severity, const char *kind, const char *text);
/* A worker's alert: the text formatted, logged (notice for info, a warning otherwise), then
 * posted as outbox_post does. */
int outbox_alert(struct outbox *ob, const char *severity, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int outbox_alertv(struct outbox *ob, const char *severity, const char *kind, const char *fmt,
		  va_list ap) __attribute__((format(printf, 4, 0)));
/* Retries the waiting alerts, oldest first, until the database refuses one; drops (and logs)
 * an alert kept longer than OUTBOX_KEEP_MS. Call it from a timer of the writer's loop. */
void outbox_retry(struct outbox *ob);

#endif
