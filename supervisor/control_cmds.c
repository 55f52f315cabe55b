/* What each tradectl command does to the supervisor, and the JSON it answers with (start, stop
 * and restart: control_wait.c). The wire format is described in README.md ("Control protocol"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/db.h"
#include "supervisor/config_versions.h"
#include "supervisor/control.h"
#include "supervisor/maint_ops.h"
#include "supervisor/sched.h"

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
	/* The monitor's last sample (0 until it has read this process). */
	json_object_set_new(o, "rss_kb",
			    json_integer(p->usage.valid ? (json_int_t)p->usage.last.rss_kb : 0));
	json_object_set_new(o, "cpu_pct", json_real(p->usage.valid ? p->usage.cpu_pct : 0));
	json_object_set_new(o, "fds", json_integer(p->usage.valid ? p->usage.last.fds : 0));
	json_object_set_new(o, "heartbeat_ms",
			    json_pack("{s:I, s:I}", "last", (json_int_t)p->pong_last_ms, "worst",
				      (json_int_t)p->pong_worst_ms));
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
			/* The simulator and the api worker are optional: listed when in use. */
			if ((r != ROLE_SIM && r != ROLE_API) || proc_enabled(&sup->procs[r]) ||
			    sup->procs[r].pid > 0)
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

/* tradectl top: what the monitor's last round saw, per process and for the system. */
static json_t *cmd_top(struct supervisor *sup)
{
	const struct sys_usage *s = &sup->sys_usage;
	const struct proc_usage *self = &sup->self_usage;
	json_t *procs = json_array(), *reply;

	json_array_append_new(procs,
			      json_pack("{s:s, s:s, s:i, s:f, s:I, s:i, s:I}", "name", "tradingd",
					"state", "RUNNING", "pid", (int)getpid(), "cpu_pct",
					self->cpu_pct, "rss_kb", (json_int_t)self->last.rss_kb,
					"fds", self->last.fds, "restarts", (json_int_t)0));
	for (int r = 0; r < ROLE_COUNT; r++) {
		const struct proc *p = &sup->procs[r];

		if (!proc_enabled(p) && p->pid <= 0)
			continue;
		json_array_append_new(
			procs,
			json_pack("{s:s, s:s, s:i, s:f, s:I, s:i, s:I}", "name", role_name(p->role),
				  "state", proc_state_name(p->state), "pid", p->pid, "cpu_pct",
				  p->usage.valid ? p->usage.cpu_pct : 0.0, "rss_kb",
				  (json_int_t)(p->usage.valid ? p->usage.last.rss_kb : 0), "fds",
				  p->usage.valid ? p->usage.last.fds : 0, "restarts",
				  (json_int_t)p->restarts));
	}
	reply = json_pack("{s:b, s:o, s:{s:b, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:s, s:I}}",
			  "ok", 1, "processes", procs, "system", "sampled", s->valid, "cpu_pct",
			  s->cpu_pct, "load1", s->last.load1, "load5", s->last.load5, "load15",
			  s->last.load15, "mem_total_kb", (json_int_t)s->last.mem_total_kb,
			  "mem_avail_kb", (json_int_t)s->last.mem_avail_kb, "disk_total_kb",
			  (json_int_t)s->last.disk_total_kb, "disk_free_kb",
			  (json_int_t)s->last.disk_free_kb, "data_dir", sup->cfg.s.data_dir,
			  "interval_ms", (json_int_t)sup->cfg.s.monitor.interval_ms);
	/* systemd's ProcSubset=pid hides /proc/stat: the system's CPU is then not known. */
	json_object_set_new(json_object_get(reply, "system"), "cpu_known",
			    json_boolean(s->valid && s->last.have_cpu));
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

/* Every command, read-only or mutating, in one table; sub names the first argument when only
 * that form changes something ("jobs rollback"). A command not here counts as mutating. */
static const struct {
	const char *cmd, *sub;
	int mutating;
} command_access[] = {
	{"status", NULL, 0}, {"pid", NULL, 0},		{"version", NULL, 0},
	{"top", NULL, 0},    {"backups", NULL, 0},	{"jobs", "rollback", 1},
	{"jobs", NULL, 0},   {"config", "rollback", 1}, {"config", NULL, 0},
	{"start", NULL, 1},  {"stop", NULL, 1},		{"restart", NULL, 1},
	{"reload", NULL, 1}, {"shutdown", NULL, 1},	{"job", NULL, 1},
	{"backup", NULL, 1}, {"cleanup", NULL, 1},	{"restore", NULL, 1},
};

int control_command_mutating(const char *cmd, const char *sub)
{
	for (size_t i = 0; i < sizeof(command_access) / sizeof(command_access[0]); i++)
		if (strcmp(command_access[i].cmd, cmd) == 0 &&
		    (!command_access[i].sub || (sub && strcmp(command_access[i].sub, sub) == 0)))
			return command_access[i].mutating;
	return 1;
}

/* KEY=VALUE: VALUE is JSON when it parses (3, true, ["a"]), else a string. */
static json_t *parse_settings(json_t *args, size_t from, const char **bad)
{
	json_t *set = json_object();

	for (size_t i = from; i < json_array_size(args); i++) {
		const char *kv = json_string_value(json_array_get(args, i));
		const char *eq = kv ? strchr(kv, '=') : NULL;
		char key[64];
		json_t *v;

		if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
			*bad = kv ? kv : "(not a string)";
			json_decref(set);
			return NULL;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
		v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
		json_object_set_new(set, key, v ? v : json_string(eq + 1));
	}
	return set;
}

static json_t *cmd_jobs(struct supervisor *sup, json_t *args)
{
	const char *sub = json_string_value(json_array_get(args, 0));
	const char *ver = json_string_value(json_array_get(args, 1));
	char *end;
	long long v = 0;

	if (!sub)
		return sched_jobs_json(sup);
	if (strcmp(sub, "history") == 0 && json_array_size(args) == 1)
		return sched_history(sup);
	if (strcmp(sub, "rollback") == 0 && json_array_size(args) <= 2) {
		if (ver) {
			v = strtoll(ver, &end, 10);
			if (*end || v <= 0)
				return control_fail("not a version: %s", ver);
		}
		return sched_rollback(sup, v, (uid_t)sup->request_uid);
	}
	return control_fail("jobs: unknown form %s (jobs [history|rollback [VERSION]])", sub);
}

static json_t *cmd_job(struct supervisor *sup, json_t *args)
{
	const char *sub = json_string_value(json_array_get(args, 0));
	const char *name = json_string_value(json_array_get(args, 1));
	const char *bad = NULL;
	json_t *set, *reply;

	if (!sub || !name)
		return control_fail("%s",
				    "job run|pause|resume NAME, or job set NAME KEY=VALUE...");
	if (strcmp(sub, "run") == 0 && json_array_size(args) == 2)
		return sched_run_now(sup, name);
	if ((strcmp(sub, "pause") == 0 || strcmp(sub, "resume") == 0) &&
	    json_array_size(args) == 2) {
		set = json_pack("{s:b}", "enabled", strcmp(sub, "resume") == 0);
		reply = sched_set(sup, name, sub, set, (uid_t)sup->request_uid);
		json_decref(set);
		return reply;
	}
	if (strcmp(sub, "set") == 0 && json_array_size(args) >= 3) {
		set = parse_settings(args, 2, &bad);
		if (!set)
			return control_fail("not KEY=VALUE: %s", bad);
		reply = sched_set(sup, name, "set", set, (uid_t)sup->request_uid);
		json_decref(set);
		return reply;
	}
	return control_fail("job: unknown form %s (run|pause|resume NAME, set NAME KEY=VALUE...)",
			    sub);
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
	if (sup->request_access != PEER_CONTROL &&
	    control_command_mutating(cmd, json_string_value(json_array_get(args, 0)))) {
		snprintf(err, sizeof(err),
			 "permission denied: \"%.32s\" changes the daemon and needs root, the "
			 "daemon's user or a member of control_group%s%.32s%s; monitor_group may "
			 "only read",
			 cmd, sup->cfg.s.control_group[0] ? " (" : "", sup->cfg.s.control_group,
			 sup->cfg.s.control_group[0] ? ")" : "");
		return refusal(err);
	}
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
	} else if (strcmp(cmd, "top") == 0) {
		reply = cmd_top(sup);
	} else if (strcmp(cmd, "jobs") == 0) {
		reply = cmd_jobs(sup, args);
	} else if (strcmp(cmd, "job") == 0) {
		reply = cmd_job(sup, args);
	} else if (strcmp(cmd, "pid") == 0) {
		reply = cmd_pid(sup, args);
	} else if (strcmp(cmd, "alerts") == 0) {
		reply = control_alerts(sup, args);
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
	} else if (strcmp(cmd, "backup") == 0 || strcmp(cmd, "cleanup") == 0) {
		reply = json_array_size(args) ? control_fail("%s takes no arguments", cmd)
					      : maint_cmd_chain(sup, cmd, wait);
	} else if (strcmp(cmd, "backups") == 0) {
		reply = maint_cmd_backups(sup);
	} else if (strcmp(cmd, "restore") == 0) {
		reply = maint_cmd_restore(sup, args, wait);
	} else if (strcmp(cmd, "config") == 0) {
		reply = config_versions_cmd(sup, args);
	} else {
		reply = control_fail("unknown command: %s", cmd);
	}
	json_decref(args);
	return reply;
}
