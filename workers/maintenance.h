/* The maintenance worker's state and its actions, one file each: maintenance.c (checkpoint,
 * wiring), maint_backup.c (backup, verify, rotate), maint_prune.c (prune, daily summary). */
#ifndef TD_MAINTENANCE_H
#define TD_MAINTENANCE_H

#include <sqlite3.h>
#include <stdint.h>

#include "common/db_job.h"
#include "common/outbox.h"
#include "workers/worker.h"

struct maint_backup;
struct maint_prune;

struct maintenance {
	struct worker *w;
	sqlite3 *db;
	struct outbox outbox;	     /* alerts: a failed backup, the daily summary */
	struct maint_backup *backup; /* the run in progress, or NULL */
	struct maint_prune *prune;   /* the run in progress, or NULL */
};

/* maint_backup.c */
void maint_run_backup(struct worker *w, uint64_t run_id, const char *args);
/* Stops a backup in progress (the worker is stopping): its temporary file is removed. */
void maint_backup_abort(struct maintenance *m);

/* maint_prune.c */
void maint_run_prune(struct worker *w, uint64_t run_id, const char *args);
void maint_prune_abort(struct maintenance *m);
void maint_run_daily_summary(struct worker *w, uint64_t run_id, const char *args);

/* A notification row, then the nudge to the notifier. */
void maint_alert(struct maintenance *m, const char *severity, const char *kind, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));

#endif
