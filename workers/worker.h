/* The runtime every worker process shares: one libuv loop, the socket to the supervisor on
 * IPC_WORKER_FD, config delivery, READY, heartbeats, status, and a clean shutdown. */
#ifndef TD_WORKER_H
#define TD_WORKER_H

#include <jansson.h>
#include <uv.h>

#include "common/config.h"
#include "common/roles.h"
#include "ipc/ipc.h"

struct worker;

/* order-execution alone may receive the open exchange.keys_file on this descriptor, said by
 * this variable in its environment (supervisor/spawn.c). */
#define WORKER_KEYS_FD (IPC_WORKER_FD + 1)
#define WORKER_KEYS_FD_ENV "TRADINGD_KEYS_FD"

/* What init returns when READY must wait for start-up work (a reconciliation, a rescan):
 * the worker calls worker_ready() when it is done, within supervisor.ready_timeout_ms. */
#define WORKER_READY_LATER 1

/* A job this worker can run when the supervisor sends JOB_RUN (the scheduler, tradectl). run
 * starts it; the run ends with exactly one worker_job_done for its run id, now or later.
 * args is the JSON text the job carries, "" when none. The names are listed for config checks
 * in common/job_actions.c. */
struct worker_action {
	const char *name;
	void (*run)(struct worker *w, uint64_t run_id, const char *args);
};

struct worker_ops {
	/* Called once the first config has arrived; returns -1 to exit with status 1, 0 to be
	 * READY now, or WORKER_READY_LATER. */
	int (*init)(struct worker *w);
	/* A message from the supervisor that the runtime does not handle itself. */
	void (*on_msg)(struct worker *w, const struct ipc_hdr *hdr, const void *payload);
	/* A role this worker depends on went into (running) or out of RUNNING; w->peers_down
	 * already says so. Optional. */
	void (*on_peer)(struct worker *w, enum role role, int running);
	/* A new validated config (reload); w->cfg already holds it. */
	void (*on_config)(struct worker *w);
	/* Adds this worker's state (counters, breakers) to out for `tradectl status --json`. */
	void (*status)(struct worker *w, json_t *out);
	/* The actions it runs as jobs, ended by a row with a NULL name; NULL when none. */
	const struct worker_action *actions;
	/* Close every handle the worker opened so that the loop can end; free its state. */
	void (*stop)(struct worker *w);
};

struct worker {
	enum role role;
	uv_loop_t *loop;
	struct ipc_peer *supervisor;
	struct config cfg;
	int have_config;
	int ready;	     /* READY was sent */
	unsigned peers_down; /* ROLE_BIT of each role it depends on that is not RUNNING */
	int stopping;
	uv_timer_t fault_timer; /* test-only: a delayed READY */
	uv_signal_t sigusr1;	/* test-only: grow-rss, burn-cpu */
	void *fault_rss;	/* test-only: the blocks grow-rss allocated, a list */
	uv_idle_t fault_burn;	/* test-only: burn-cpu spins in slices until this time */
	int64_t fault_burn_until_mono;
	/* test-only, with a delayed READY: the delay has passed; the worker asked for READY */
	int fault_delay_over, ready_asked, ready_later;
	const struct worker_ops *ops;
	void *state;
	uv_signal_t sigterm, sigint;
	unsigned jobs_running; /* JOB_RUNs without their JOB_DONE yet */
};

/* Runs the worker of role with its operations until it is told to stop; returns the process
 * exit status. */
int worker_run(enum role role, const struct worker_ops *ops);
/* Sends to the supervisor; see ipc_send for the results. */
int worker_send(struct worker *w, uint32_t type, const void *payload, uint32_t len);
int worker_send_coalesce(struct worker *w, uint32_t type, const char *key, const void *payload,
			 uint32_t len);
/* Ends a job run: result, and a message (the error, or a one-line summary; may be NULL). */
void worker_job_done(struct worker *w, uint64_t run_id, enum ipc_job_result result, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));
struct outbox_pending;
/* An alert the database refused for now (an outbox's kept hook): its text to the notifier, so
 * that it is delivered anyway (IPC_ALERT_TEXT). */
void worker_send_alert_text(struct worker *w, const char *source, const struct outbox_pending *p);
/* Says READY to the supervisor once (after init, or after start-up work). */
void worker_ready(struct worker *w);
/* Test-only: the argument of TRADINGD_FAULT=ROLE:FAULT[:ARG] for this worker ("" when it has
 * none), or NULL when that fault is not requested. */
const char *worker_fault(const struct worker *w, const char *fault);
/* Begins a clean exit: stop the worker's handles, then the runtime's. */
void worker_stop(struct worker *w);

/* The roles' operation tables (workers/<role>.c). */
extern const struct worker_ops market_data_ops;
extern const struct worker_ops strategy_ops;
extern const struct worker_ops order_execution_ops;
extern const struct worker_ops notifier_ops;
extern const struct worker_ops maintenance_ops;
extern const struct worker_ops api_ops;

#endif
