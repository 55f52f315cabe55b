/* start, stop and restart: the events each sends to its processes, and a reply that comes only
 * once they have really stopped or are running (or have failed, or the wait is over), saying which. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/control.h"

/* How long each command may take: the timeouts the policy applies, and the margin. */
static int64_t wait_bound(const struct supervisor *sup, const char *cmd)
{
	int64_t stop = sup->cfg.s.supervisor.stop_timeout_ms;
	int64_t ready = sup->cfg.s.supervisor.ready_timeout_ms;

	if (strcmp(cmd, "stop") == 0)
		return stop + CONTROL_WAIT_MARGIN_MS;
	if (strcmp(cmd, "start") == 0)
		return ready + CONTROL_WAIT_MARGIN_MS;
	return stop + ready + CONTROL_WAIT_MARGIN_MS;
}

static void begin(struct control_wait_entry *e, const char *cmd)
{
	struct proc *p = e->proc;

	if (strcmp(cmd, "stop") == 0) {
		if (p->state == PROC_STOPPED || p->state == PROC_FATAL) {
			e->result = "not running";
			return;
		}
		proc_event(p, EV_STOP);
		e->goal = GOAL_STOPPED;
	} else if (strcmp(cmd, "start") == 0) {
		if (p->state == PROC_RUNNING) {
			e->result = "already started";
			return;
		}
		/* One already STARTING is waited for like one started now. */
		if (p->state != PROC_STARTING)
			proc_event(p, EV_START);
		e->goal = GOAL_RUNNING;
	} else {
		/* A running process starts again once its stop completes. */
		proc_event(p, EV_STOP);
		proc_event(p, EV_START);
		e->goal = GOAL_RUNNING;
	}
}

json_t *control_lifecycle(struct supervisor *sup, json_t *args, const char *cmd,
			  struct control_wait **wait)
{
	static const char *const cmds[] = {"start", "stop", "restart"};
	struct proc *sel[ROLE_COUNT];
	struct control_wait *w;
	const char *bad = NULL;
	json_t *reply;
	int n;

	*wait = NULL;
	if (sup->shutting_down)
		return control_fail("%s refused: the daemon is shutting down", cmd);
	if (json_array_size(args) == 0)
		return control_fail("%s needs a process name or all", cmd);
	n = control_select(sup, args, sel, 1, &bad);
	if (n < 0)
		return control_fail("no such process: %s", bad);
	/* A damaged database is not traded on: no start by hand either, until a restore. */
	for (int i = 0; sup->db_damaged && strcmp(cmd, "stop") != 0 && i < n; i++)
		if (sel[i]->role != ROLE_SIM && !proc_enabled(sel[i]))
			return control_fail(
				"%s refused: the database failed its integrity check at "
				"start; restore a verified backup first (tradectl "
				"backups, tradectl restore FILE)",
				role_name(sel[i]->role));
	w = calloc(1, sizeof(*w));
	if (!w)
		return control_fail("%s", "out of memory");
	w->cmd = cmds[2];
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmd, cmds[i]) == 0)
			w->cmd = cmds[i];
	w->wait_ms = wait_bound(sup, w->cmd);
	w->n = n;
	for (int i = 0; i < n; i++) {
		w->entries[i].proc = sel[i];
		begin(&w->entries[i], w->cmd);
	}
	/* What the events did at once counts: a stop in BACKOFF is over already. */
	control_wait_observe(w);
	if (!control_wait_settled(w)) {
		*wait = w;
		return NULL;
	}
	reply = control_wait_reply(w, 0);
	free(w);
	return reply;
}

void control_wait_observe(struct control_wait *w)
{
	for (int i = 0; i < w->n; i++) {
		struct control_wait_entry *e = &w->entries[i];
		const struct proc *p = e->proc;

		if (p->state == PROC_STOPPED && !e->stopped_seen) {
			e->stopped_seen = 1;
			snprintf(e->stopped_exit, sizeof(e->stopped_exit), "%s", p->last_exit);
		}
		if (p->state == PROC_RUNNING)
			e->running_seen = 1;
	}
}

/* A start that cannot become RUNNING any more without something else happening. */
static int start_failed(const struct proc *p)
{
	switch (p->state) {
	case PROC_BACKOFF:
	case PROC_FATAL:
	case PROC_EXITED:
		return 1;
	case PROC_STOPPED:
		/* Stopped by someone else, or by the shutdown, before it was running. */
		return !p->restart_after_stop || p->sup->shutting_down;
	default:
		return 0;
	}
}

static int entry_settled(const struct control_wait_entry *e)
{
	switch (e->goal) {
	case GOAL_STOPPED:
		return e->stopped_seen;
	case GOAL_RUNNING:
		return e->running_seen || start_failed(e->proc);
	default:
		return 1;
	}
}

int control_wait_settled(const struct control_wait *w)
{
	if (w->op_id)
		return w->sup->maint_done_id == w->op_id;
	for (int i = 0; i < w->n; i++)
		if (!entry_settled(&w->entries[i]))
			return 0;
	return 1;
}

/* Sets text to the result of e and returns 1, or to its error and returns 0. */
static int entry_text(const struct control_wait *w, const struct control_wait_entry *e,
		      int timed_out, char *text, size_t len)
{
	const struct proc *p = e->proc;
	const char *verb = strcmp(w->cmd, "restart") == 0 ? "restarted" : "started";
	char desc[200];

	if (e->goal == GOAL_NONE) {
		snprintf(text, len, "%s", e->result);
		return 1;
	}
	if (e->goal == GOAL_STOPPED && e->stopped_seen) {
		if (strncmp(e->stopped_exit, "stop timeout", 12) == 0)
			snprintf(text, len, "stopped (SIGKILL: it did not exit within %lld ms)",
				 (long long)p->sup->cfg.s.supervisor.stop_timeout_ms);
		else
			snprintf(text, len, "stopped");
		return 1;
	}
	if (e->goal == GOAL_RUNNING && e->running_seen) {
		snprintf(text, len, "%s", verb);
		return 1;
	}
	if (!entry_settled(e)) {
		if (timed_out)
			snprintf(text, len, "still %s after %lld ms (see the log)",
				 proc_state_name(p->state), (long long)w->wait_ms);
		else
			snprintf(text, len, "still %s (the daemon is shutting down)",
				 proc_state_name(p->state));
		return 0;
	}
	if (p->state == PROC_STOPPED) {
		snprintf(text, len, "not %s: stopped before it was running%s", verb,
			 p->sup->shutting_down ? " (the daemon is shutting down)" : "");
		return 0;
	}
	proc_describe(p, desc, sizeof(desc));
	snprintf(text, len, "not %s: %s (%s)", verb, proc_state_name(p->state), desc);
	return 0;
}

json_t *control_wait_reply(const struct control_wait *w, int timed_out)
{
	json_t *results;

	if (w->op_id) {
		if (w->sup->maint_done_id == w->op_id && w->sup->maint_reply)
			return json_deep_copy(w->sup->maint_reply);
		return json_pack("{s:b, s:s}", "ok", 0, "error",
				 timed_out ? "still running when the wait was over: see the log "
					     "and tradectl backups"
					   : "given up: the daemon is shutting down");
	}
	results = json_array();

	for (int i = 0; i < w->n; i++) {
		const struct control_wait_entry *e = &w->entries[i];
		char text[320];
		int ok = entry_text(w, e, timed_out, text, sizeof(text));

		json_array_append_new(
			results, json_pack("{s:s, s:s, s:s, s:i}", "name", role_name(e->proc->role),
					   ok ? "result" : "error", text, "state",
					   proc_state_name(e->proc->state), "pid", e->proc->pid));
	}
	return json_pack("{s:b, s:o}", "ok", 1, "results", results);
}
