/* The hourly status report: one notification (kind "status_report") that sums up processes,
 * resources, disk, trading state, positions, today's PnL and recent errors. */
#ifndef TD_STATUS_REPORT_H
#define TD_STATUS_REPORT_H

#include <stddef.h>

struct supervisor;

/* Builds the report from the supervisor's state and SQLite, commits it to the outbox and
 * nudges the notifier. A supervisor-local action: JOB_OK (msg: a summary; a report the
 * database refused for the moment waits in the outbox's memory and is stored later),
 * JOB_TRANSIENT (it could not be read or queued: run it again) or JOB_PERMANENT (no database). */
int status_report_queue(struct supervisor *sup, char *msg, size_t len);
/* The report's text into buf (for tests and tradectl); 0, or -1 when a query failed. */
int status_report_text(struct supervisor *sup, char *buf, size_t len);

#endif
