/* Runs one worker action as a job: JOB_RUN out, JOB_DONE (or the worker's exit, or a timeout)
 * back to a callback. The scheduler and the control commands (tradectl backup, job run) are
 * its callers; what is due when, retries and the ledger are theirs. */
#ifndef TD_JOB_DISPATCH_H
#define TD_JOB_DISPATCH_H

#include <stdint.h>

#include "common/roles.h"
#include "ipc/ipc.h"

struct supervisor;
struct proc;

/* A run ended. msg is the worker's message, or why the supervisor ended it; never NULL. */
typedef void (*job_done_fn)(struct supervisor *sup, uint64_t run_id, enum ipc_job_result result,
			    const char *msg, int64_t duration_ms, void *arg);

/* An id no run of this process has had; the scheduler passes its ledger's ids instead. */
uint64_t job_dispatch_new_id(struct supervisor *sup);
/* Sends JOB_RUN(run_id, action, args) to role's worker. 0: done runs once, with JOB_DONE's
 * result, or JOB_TRANSIENT when the worker exits first or timeout_ms (0: none) passes. -1:
 * not sent (the worker is not RUNNING, the id is in use, the queue is full); err says why and
 * done does not run. */
int job_dispatch(struct supervisor *sup, enum role role, const char *action, const char *args,
		 uint64_t run_id, int64_t timeout_ms, job_done_fn done, void *arg, char *err,
		 size_t errlen);
/* How many runs wait for role's JOB_DONE. */
int job_dispatch_pending(const struct supervisor *sup, enum role role);
/* route.c: a JOB_DONE from p. */
void job_dispatch_done(struct proc *p, const void *payload, uint32_t len);
/* p's process ended: its runs end JOB_TRANSIENT ("worker exited"). */
void job_dispatch_proc_gone(struct proc *p);
/* The daemon is finishing: drop every run without calling back. */
void job_dispatch_close(struct supervisor *sup);

#endif
