/* What each tradectl command does to the supervisor, and the JSON it answers with (start, stop
 * and restart: control_wait.c). The wire format is described in README.md ("Control protocol"). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/db.h"
#include "supervisor/control.h"

void control_quote(const char *arg, char *out, size_t len)
{
	size_t n = strlen(arg);

	if (n <= CONTROL_QUOTE_BYTES) {
		snprintf(out, len, "%s", arg);
		return;
	}
	/* The argument came as JSON, so it is UTF-8: cut before a continuation byte. */
	n = CONTROL_QUOTE_BYTES;
	while (n > 0 && ((unsigned char)arg[n] & 0xC0) == 0x80)
		n--;
	snprintf(out, len, "%.*s...", (int)n, arg);
}

json_t *control_fail(const char *fmt, const char *arg)
{
	char quoted[CONTROL_QUOTE_BYTES + 4], msg[256];

	control_quote(arg, quoted, sizeof(quoted));
	snprintf(msg, sizeof(msg), fmt, quoted);
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

int control_select(struct supervisor *sup, json_t *args, struct proc **out, int allow_all,
		   const char **bad)
{
	int chosen[ROLE_COUNT] = {0};
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
			n = 0;
			for (int r = 0; r < ROLE_COUNT; r++)
				if (proc_enabled(&sup->procs[r]))
					out[n++] = &sup->procs[r];
			return n;
		}
		role = role_parse(name);
		if (role < 0) {
			*bad = name;
			return -1;
		}
		/* A name given twice is one process: its events are sent once. */
		if (!chosen[role]) {
			chosen[role] = 1;
			out[n++] = &sup->procs[role];
		}
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
		n = control_select(sup, args, sel, 0, &bad);
		if (n < 0) {
			json_decref(workers);
			return control_fail("no such process: %s", bad);
		}
		for (int i = 0; i < n; i++)
			json_array_append_new(workers, proc_json(sel[i]));
	}
	json_t *reply = json_pack("{s:b, s:o, s:{s:i, s:I, s:s, s:s, s:b}}", "ok", 1, "workers",
				  workers, "daemon", "pid", (int)getpid(), "uptime_s",
				  (json_int_t)((clock_mono_ms() - sup->start_mono) / 1000),
				  "version", TRADINGD_VERSION, "mode",
				  config_mode_name(sup->cfg.s.mode), "test_clock", clock_is_test());

	if (reply)
		control_trading_status(sup, reply);
	return reply;
}

static json_t *cmd_pid(struct supervisor *sup, json_t *args)
{
	struct proc *sel[ROLE_COUNT];
	const char *bad = NULL;

	if (json_array_size(args) == 0)
		return json_pack("{s:b, s:i}", "ok", 1, "pid", (int)getpid());
	if (control_select(sup, args, sel, 0, &bad) != 1)
		return control_fail("no such process: %s", bad ? bad : "(give one name)");
	return json_pack("{s:b, s:i}", "ok", 1, "pid", sel[0]->pid);
}

/* A message of the daemon's own, such as the errors of a config file: never cut. */
static json_t *refusal(const char *message)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", message);
}

json_t *control_dispatch(struct supervisor *sup, json_t *request, struct control_wait **wait)
{
	const char *cmd = json_string_value(json_object_get(request, "cmd"));
	json_t *args = json_object_get(request, "args");
	json_t *reply;
	char err[1024];

	*wait = NULL;
	if (!cmd)
		return refusal("malformed request: no \"cmd\"");
	if (args && !json_is_array(args))
		return refusal("malformed request: \"args\" must be an array");
	if (!args)
		args = json_array();
	else
		json_incref(args);
	if (strcmp(cmd, "status") == 0) {
		reply = cmd_status(sup, args);
	} else if (strcmp(cmd, "start") == 0 || strcmp(cmd, "stop") == 0 ||
		   strcmp(cmd, "restart") == 0) {
		reply = control_lifecycle(sup, args, cmd, wait);
	} else if (strcmp(cmd, "reload") == 0) {
		reply = supervisor_reload(sup, err, sizeof(err)) == 0
				? json_pack("{s:b, s:s}", "ok", 1, "result", "reloaded")
				: refusal(err);
	} else if (strcmp(cmd, "shutdown") == 0) {
		supervisor_shutdown(sup, "tradectl shutdown");
		reply = json_pack("{s:b, s:s}", "ok", 1, "result", "shutting down");
	} else if (strcmp(cmd, "pid") == 0) {
		reply = cmd_pid(sup, args);
	} else if (strcmp(cmd, "pause") == 0) {
		reply = control_pause(sup, args);
	} else if (strcmp(cmd, "resume") == 0) {
		reply = control_resume(sup, args);
	} else if (strcmp(cmd, "positions") == 0) {
		reply = control_positions(sup, args);
	} else if (strcmp(cmd, "orders") == 0 || strcmp(cmd, "trades") == 0 ||
		   strcmp(cmd, "pnl") == 0) {
		reply = control_trading_report(sup, cmd, args);
	} else if (strcmp(cmd, "version") == 0) {
		reply = json_pack("{s:b, s:s, s:i, s:i}", "ok", 1, "version", TRADINGD_VERSION,
				  "ipc_version", IPC_VERSION, "schema_version",
				  db_schema_version());
	} else {
		reply = control_fail("unknown command: %s", cmd);
	}
	json_decref(args);
	return reply;
}
