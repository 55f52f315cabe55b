/* The notification outbox: any process writes an alert row here before it nudges the notifier,
 * so that an alert survives a crash of the writer, the supervisor or the notifier. */
#include "outbox.h"

#include <stddef.h>

#include "clock.h"
#include "log.h"

int64_t outbox_add(sqlite3 *db, const char *source, const char *severity, const char *kind,
		   const char *text)
{
	sqlite3_stmt *st;
	int64_t id = -1;

	/* Alerts are rare: preparing here keeps the module free of per-connection state. */
	if (sqlite3_prepare_v2(
		    db,
		    "INSERT INTO notifications(created_ms, severity, source, kind, text) "
		    "VALUES(?, ?, ?, ?, ?)",
		    -1, &st, NULL) != SQLITE_OK) {
		log_errx("outbox: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_int64(st, 1, clock_now_ms());
	sqlite3_bind_text(st, 2, severity, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE)
		id = sqlite3_last_insert_rowid(db);
	else
		log_errx("outbox: cannot store \"%s\": %s", text, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return id;
}
