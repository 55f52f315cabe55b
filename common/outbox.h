/* The notification outbox: any process writes an alert row here before it nudges the notifier,
 * so that an alert survives a crash of the writer, the supervisor or the notifier. */
#ifndef TD_OUTBOX_H
#define TD_OUTBOX_H

#include <sqlite3.h>
#include <stdint.h>

/* Severity words stored in notifications.severity. */
#define OUTBOX_INFO "info"
#define OUTBOX_WARNING "warning"
#define OUTBOX_CRITICAL "critical"

/* Inserts one notification; returns its row id, or -1. source is the writer's role. */
int64_t outbox_add(sqlite3 *db, const char *source, const char *severity, const char *kind,
		   const char *text);

#endif
