/* The supervisor's monitor: every monitor.interval_ms it samples each process and the system,
 * stores one round of rows in metric_samples (pruned), and raises and clears threshold alerts. */
#ifndef TD_MONITOR_H
#define TD_MONITOR_H

#include <stdint.h>

#include "supervisor/monitor_alarm.h"
#include "supervisor/monitor_proc.h"

/* What the last round saw of one process (valid: it was read). */
struct proc_usage {
	int valid;
	int pid; /* the process the reading belongs to: a new one starts a new CPU delta */
	struct proc_reading last;
	int64_t read_mono;
	double cpu_pct;
	struct alarm cpu_alarm;
	int over_limit; /* restarted for its memory limit; cleared once back under it */
};

/* The system as the last round saw it. */
struct sys_usage {
	int valid;
	struct sys_reading last;
	double cpu_pct;
	struct alarm mem_alarm, disk_alarm, load_alarm;
	uint64_t rounds, store_failures;
};

struct supervisor;

/* Starts the timer (monitor.enabled) and prepares its statements. 0, or -1 (logged). */
int monitor_start(struct supervisor *sup);
/* The config changed: the new period applies at once. */
void monitor_reconfigure(struct supervisor *sup);
void monitor_close(struct supervisor *sup);
/* One round now (also what the timer runs). */
void monitor_sample(struct supervisor *sup);

#endif
