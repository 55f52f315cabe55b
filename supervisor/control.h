/* Between the control socket (control.c) and what its commands do (control_cmds.c, and
 * control_wait.c for start/stop/restart, whose reply waits until the processes have settled). */
#ifndef TD_CONTROL_H
#define TD_CONTROL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "supervisor/supervisor.h"

/* A reply quotes a bad argument up to this many bytes, then "...": a huge one never echoes. */
#define CONTROL_QUOTE_BYTES 40
/* Added to the process timeouts a wait is bounded by: a SIGKILLed process still has to be
 * reaped, which takes a moment on a loaded machine. */
#define CONTROL_WAIT_MARGIN_MS 2000

enum control_goal {
	GOAL_NONE,    /* the result was known at once */
	GOAL_STOPPED, /* stop */
	GOAL_RUNNING, /* start, restart */
};

struct control_wait_entry {
	struct proc *proc;
	enum control_goal goal;
	int stopped_seen, running_seen; /* since the request, as each state change happened */
	char stopped_exit[48];		/* last_exit when it was seen STOPPED */
	const char *result;		/* GOAL_NONE: the result */
};

/* One start, stop or restart: its processes and what each must reach before the reply. */
struct control_wait {
	const char *cmd; /* "start", "stop" or "restart" */
	int n;
	struct control_wait_entry entries[ROLE_COUNT];
	int64_t wait_ms; /* the reply comes at the latest this long after the request */
	/* A maintenance operation (backup, cleanup, restore; maint_ops.c) instead of processes:
	 * settled once sup->maint_done_id is op_id, its reply sup->maint_reply. */
	struct supervisor *sup;
	uint64_t op_id;
};

/* Copies arg into out (len >= CONTROL_QUOTE_BYTES + 4), cut at a character boundary after
 * CONTROL_QUOTE_BYTES bytes with "..." appended. */
void control_quote(const char *arg, char *out, size_t len);
/* {"ok":false,"error":fmt} with its one %s replaced by arg, quoted. */
json_t *control_fail(const char *fmt, const char *arg);
/* control_reports.c: "orders", "trades" or "pnl" from the trading tables. */
json_t *control_trading_report(struct supervisor *sup, const char *cmd, json_t *args);
/* Resolves args to distinct processes: names, or "all" (the enabled ones). Returns the count,
 * or -1 with *bad set to the offending argument. */
int control_select(struct supervisor *sup, json_t *args, struct proc **out, int allow_all,
		   const char **bad);

/* control_cmds.c: answers one request. Returns the reply, or NULL with *wait set (malloc'd, the
 * caller's) when the reply must wait for the processes: see control_wait_settled. */
json_t *control_dispatch(struct supervisor *sup, json_t *request, struct control_wait **wait);
/* 1 when cmd (with its first argument sub, may be NULL) changes something: root, the daemon's
 * uid or control_group only; 0 when monitor_group may run it too. */
int control_command_mutating(const char *cmd, const char *sub);

/* control_alerts.c: tradectl alerts (the sinks, open and recent alerts; "send" queues one). */
json_t *control_alerts(struct supervisor *sup, json_t *args);

/* control_wait.c */
/* Sends the events of cmd ("start", "stop", "restart") to the processes args names. Returns the
 * reply when it is known at once, else NULL with *wait set. */
/* control_trading.c: pause [--cancel-open], resume, positions; status's trading members. */
json_t *control_pause(struct supervisor *sup, json_t *args);
json_t *control_resume(struct supervisor *sup, json_t *args);
json_t *control_positions(struct supervisor *sup, json_t *args);
void control_trading_status(struct supervisor *sup, json_t *reply);
/* Whether the trading window is open now, from the clock and strategy.window_* (a level, as
 * the strategy derives it): 1, 0, or -1 when the zone cannot be read. */
int control_window_open(const struct supervisor *sup);
json_t *control_lifecycle(struct supervisor *sup, json_t *args, const char *cmd,
			  struct control_wait **wait);
/* Notes what each process has reached; called on every state change, as it happens, so that a
 * state passed through within one callback (STOPPED on the way to a restart) is not missed. */
void control_wait_observe(struct control_wait *w);
/* Whether every process has reached its goal or given up; judged once the loop is back, when
 * the states are settled. */
int control_wait_settled(const struct control_wait *w);
/* The reply: each process's result, or its error. A process not yet settled is reported as
 * still waited for after wait_ms (timed_out), or as left behind by the shutdown. */
json_t *control_wait_reply(const struct control_wait *w, int timed_out);

#endif
