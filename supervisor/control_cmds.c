/* What each tradectl command does to the supervisor, and the JSON it answers with.
 * The wire format is described in README.md ("Control protocol"). */
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/db.h"
#include "supervisor/supervisor.h"

static json_t *fail(const char *fmt, const char *arg)
{
	char msg[1200];

	snprintf(msg, sizeof(msg), fmt, arg);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static json_t *proc_json(const struct proc *p)
{
	char desc[200];
	json_t *o;

	proc_describe(p, desc, sizeof(desc));
	o = json_pack("{s:s, s:s, s:i, s:I, s:I, s:s}", "name", role_name(p->role), "state",
		      proc_state_name(p->state), "pid", p->pid, "uptime_s",
		      (json_int_t)(p->state == PROC_RUNNING
					   ? (clock_mono_ms() - p->ready_mono) / 1000
					   : 0),
		      "restarts", (json_int_t)p->restarts, "description", desc);
	json_object_set_new(o, "last_exit",
			    p->last_exit[0] ? json_string(p->last_exit) : json_null());
	json_object_set_new(o, "enabled", json_boolean(proc_enabled(p)));
	if (p->status_json) {
		json_t *details = json_loads(p->status_json, 0, NULL);

		if (details)
			json_object_set_new(o, "details", details);
	}
	return o;
}

/* Resolves args to processes: names, or "all". Returns the count, or -1 with *bad set. */
static int select_procs(struct supervisor *sup, json_t *args, struct proc **out, int allow_all,
			const char **bad)
{
	size_t i;
	json_t *arg;
	int n = 0;

	json_array_foreach(args, i, arg)
	{
		const char *name = json_string_value(arg);
		int role;

		if (!name) {
			*bad = "(not a string)";
			return -1;
		}
		if (allow_all && strcmp(name, "all") == 0) {
			for (int r = 0; r < ROLE_COUNT; r++)
				if (proc_enabled(&sup->procs[r]))
					out[n++] = &sup->procs[r];
			return n;
		}
		role = role_parse(name);
		if (role < 0 || n >= ROLE_COUNT) {
			*bad = name;
			return -1;
		}
		out[n++] = &sup->procs[role];
	}
	return n;
}

static json_t *cmd_status(struct supervisor *sup, json_t *args)
{
	struct proc *sel[ROLE_COUNT];
	const char *bad = NULL;
	json_t *workers = json_array();
	int n;

	if (json_array_size(args) == 0) {
		for (int r = 0; r < ROLE_COUNT; r++)
			if (r != ROLE_SIM || proc_enabled(&sup->procs[r]) || sup->procs[r].pid > 0)
				json_array_append_new(workers, proc_json(&sup->procs[r]));
	} else {
		n = select_procs(sup, args, sel, 0, &bad);
		if (n < 0) {
			json_decref(workers);
			return fail("no such process: %s", bad);
		}
		for (int i = 0; i < n; i++)
			json_array_append_new(workers, proc_json(sel[i]));
	}
	return json_pack("{s:b, s:o, s:{s:i, s:I, s:s, s:s, s:b}}", "ok", 1, "workers", workers,
			 "daemon", "pid", (int)getpid(), "uptime_s",
			 (json_int_t)((clock_mono_ms() - sup->start_mono) / 1000), "version",
			 TRADINGD_VERSION, "mode", config_mode_name(sup->cfg.s.mode), "test_clock",
			 clock_is_test());
}

static json_t *cmd_lifecycle(struct supervisor *sup, json_t *args, const char *cmd)
{
	struct proc *sel[ROLE_COUNT];
	const char *bad = NULL;
	json_t *results;
	int n;

	if (sup->shutting_down)
		return fail("%s refused: the daemon is shutting down", cmd);
	if (json_array_size(args) == 0)
		return fail("%s needs a process name or all", cmd);
	n = select_procs(sup, args, sel, 1, &bad);
	if (n < 0)
		return fail("no such process: %s", bad);
	results = json_array();
	for (int i = 0; i < n; i++) {
		struct proc *p = sel[i];
		const char *result;

		if (strcmp(cmd, "start") == 0) {
			if (p->state == PROC_RUNNING || p->state == PROC_STARTING) {
				result = "already started";
			} else {
				proc_event(p, EV_START);
				result = "started";
			}
		} else if (strcmp(cmd, "stop") == 0) {
			if (p->pid <= 0 && p->state != PROC_BACKOFF) {
				result = "not running";
			} else {
				proc_event(p, EV_STOP);
				result = "stopped";
			}
		} else {
			/* A running process starts again once its stop completes. */
			proc_event(p, EV_STOP);
			proc_event(p, EV_START);
			result = "restarted";
		}
		json_array_append_new(results, json_pack("{s:s, s:s}", "name", role_name(p->role),
							 "result", result));
	}
	return json_pack("{s:b, s:o}", "ok", 1, "results", results);
}

static json_t *cmd_pid(struct supervisor *sup, json_t *args)
{
	struct proc *sel[ROLE_COUNT];
	const char *bad = NULL;

	if (json_array_size(args) == 0)
		return json_pack("{s:b, s:i}", "ok", 1, "pid", (int)getpid());
	if (select_procs(sup, args, sel, 0, &bad) != 1)
		return fail("no such process: %s", bad ? bad : "(give one name)");
	return json_pack("{s:b, s:i}", "ok", 1, "pid", sel[0]->pid);
}

json_t *control_dispatch(struct supervisor *sup, json_t *request)
{
	const char *cmd = json_string_value(json_object_get(request, "cmd"));
	json_t *args = json_object_get(request, "args");
	char err[1024];

	if (!cmd)
		return fail("%s", "malformed request: no \"cmd\"");
	if (args && !json_is_array(args))
		return fail("%s", "malformed request: \"args\" must be an array");
	if (!args)
		args = json_array();
	else
		json_incref(args);
	json_t *reply;
	if (strcmp(cmd, "status") == 0) {
		reply = cmd_status(sup, args);
	} else if (strcmp(cmd, "start") == 0 || strcmp(cmd, "stop") == 0 ||
		   strcmp(cmd, "restart") == 0) {
		reply = cmd_lifecycle(sup, args, cmd);
	} else if (strcmp(cmd, "reload") == 0) {
		reply = supervisor_reload(sup, err, sizeof(err)) == 0
				? json_pack("{s:b, s:s}", "ok", 1, "result", "reloaded")
				: fail("%s", err);
	} else if (strcmp(cmd, "shutdown") == 0) {
		supervisor_shutdown(sup, "tradectl shutdown");
		reply = json_pack("{s:b, s:s}", "ok", 1, "result", "shutting down");
	} else if (strcmp(cmd, "pid") == 0) {
		reply = cmd_pid(sup, args);
	} else if (strcmp(cmd, "version") == 0) {
		reply = json_pack("{s:b, s:s, s:i, s:i}", "ok", 1, "version", TRADINGD_VERSION,
				  "ipc_version", IPC_VERSION, "schema_version",
				  db_schema_version());
	} else {
		reply = fail("unknown command: %s", cmd);
	}
	json_decref(args);
	return reply;
}
