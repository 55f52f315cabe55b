/* tradectl's output: status lines in supervisorctl's columns, the other replies as short lines,
 * --json as the daemon sent it. The reply is input: every member is checked before use. */
#include "ctl.h"

#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"

int ctl_exit_code(enum ctl_outcome outcome)
{
	switch (outcome) {
	case CTL_OK:
		return CTL_EXIT_OK;
	case CTL_REFUSED:
	case CTL_BAD_REPLY:
	case CTL_NO_REPLY:
		return CTL_EXIT_FAILED;
	case CTL_USAGE:
	case CTL_CONFIG_ERROR:
		return CTL_EXIT_USAGE;
	case CTL_CONNECT_FAILED:
		return CTL_EXIT_NOCONNECT;
	}
	return CTL_EXIT_FAILED;
}

/* Copies a string from the daemon with control characters replaced, so that one message stays
 * one line on a terminal. */
static void copy_printable(char *dst, size_t len, const char *src)
{
	size_t i = 0;

	if (len == 0)
		return;
	for (; src[i] && i + 1 < len; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	dst[i] = '\0';
}

static const char *member_str(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_int_t member_int(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

void ctl_format_uptime(int64_t seconds, char *buf, size_t len)
{
	int64_t days, h, m, s;

	if (seconds < 0)
		seconds = 0;
	days = seconds / 86400;
	h = seconds % 86400 / 3600;
	m = seconds % 3600 / 60;
	s = seconds % 60;
	if (days > 0)
		snprintf(buf, len, "%" PRId64 " day%s, %" PRId64 ":%02" PRId64 ":%02" PRId64, days,
			 days == 1 ? "" : "s", h, m, s);
	else
		snprintf(buf, len, "%" PRId64 ":%02" PRId64 ":%02" PRId64, h, m, s);
}

void ctl_format_description(const json_t *worker, char *buf, size_t len)
{
	const char *state = member_str(worker, "state");
	const char *desc = member_str(worker, "description");
	const char *last_exit = member_str(worker, "last_exit");
	json_int_t pid = member_int(worker, "pid");
	char uptime[64];

	if (!state)
		state = "";
	/* "STOPPED   Stopped" says nothing twice: a description that only repeats the state is
	 * left out (an older daemon sends one). */
	if (desc && (desc[0] == '\0' || strcasecmp(desc, state) == 0))
		desc = NULL;
	if (strcmp(state, "RUNNING") == 0) {
		ctl_format_uptime(member_int(worker, "uptime_s"), uptime, sizeof(uptime));
		snprintf(buf, len, "pid %" JSON_INTEGER_FORMAT ", uptime %s", pid, uptime);
	} else if ((strcmp(state, "STARTING") == 0 || strcmp(state, "STOPPING") == 0) && pid > 0) {
		snprintf(buf, len, "pid %" JSON_INTEGER_FORMAT, pid);
	} else if (desc) {
		copy_printable(buf, len, desc);
	} else if (strcmp(state, "STOPPED") == 0 && !last_exit) {
		snprintf(buf, len, "Not started");
	} else if (strcmp(state, "STOPPED") == 0) {
		copy_printable(buf, len, last_exit);
	} else if (last_exit) {
		char clean[128];

		copy_printable(clean, sizeof(clean), last_exit);
		snprintf(buf, len, "exited: %s", clean);
	} else if (strcmp(state, "BACKOFF") == 0 || strcmp(state, "FATAL") == 0) {
		snprintf(buf, len, "unknown error");
	} else if (len > 0) {
		buf[0] = '\0';
	}
}

void ctl_format_status_line(const json_t *worker, char *buf, size_t len)
{
	const char *name = member_str(worker, "name");
	const char *state = member_str(worker, "state");
	char clean_name[256], clean_state[64], desc[512];

	copy_printable(clean_name, sizeof(clean_name), name ? name : "?");
	copy_printable(clean_state, sizeof(clean_state), state ? state : "UNKNOWN");
	ctl_format_description(worker, desc, sizeof(desc));
	/* An overlong name or state still gets one space before the next column. */
	snprintf(buf, len, "%-*s%-*s%s",
		 strlen(clean_name) < CTL_NAME_COLUMNS ? CTL_NAME_COLUMNS
						       : (int)strlen(clean_name) + 1,
		 clean_name,
		 strlen(clean_state) < CTL_STATE_COLUMNS ? CTL_STATE_COLUMNS
							 : (int)strlen(clean_state) + 1,
		 clean_state, desc);
}

json_t *ctl_reply_parse(const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *reply = json_loadb(text, len, 0, &jerr);

	if (!reply) {
		snprintf(err, errlen, "not JSON (%s at column %d)", jerr.text, jerr.column);
		return NULL;
	}
	if (!json_is_object(reply)) {
		snprintf(err, errlen, "not a JSON object");
	} else if (!json_is_boolean(json_object_get(reply, "ok"))) {
		snprintf(err, errlen, "no boolean \"ok\" member");
	} else {
		return reply;
	}
	json_decref(reply);
	return NULL;
}

int64_t ctl_pending_wait_ms(const char *text, size_t len)
{
	json_t *line = json_loadb(text, len, 0, NULL);
	const json_t *wait = json_object_get(line, "wait_ms");
	int64_t ms = -1;

	if (json_is_true(json_object_get(line, "pending"))) {
		ms = json_is_integer(wait) ? (int64_t)json_integer_value(wait) : -2;
		if (ms < 0 || ms > CTL_PENDING_MAX_MS)
			ms = -2;
	}
	json_decref(line);
	return ms;
}

static void print_json(const json_t *v, FILE *out)
{
	json_dumpf(v, out, JSON_PRESERVE_ORDER);
	fputc('\n', out);
}

static enum ctl_outcome bad_reply(FILE *err, const char *where, const char *command,
				  const char *why)
{
	fprintf(err, "tradectl: malformed reply to %s from %s: %s\n", command, where, why);
	return CTL_BAD_REPLY;
}

static enum ctl_outcome render_refusal(const struct ctl_options *opt, json_t *reply, FILE *out,
				       FILE *err)
{
	const char *error = member_str(reply, "error");
	char clean[512];

	if (opt->json)
		print_json(reply, out);
	copy_printable(clean, sizeof(clean),
		       error && error[0] ? error : "refused, without a reason");
	if (strcmp(clean, "permission denied") == 0)
		fprintf(err,
			"tradectl: permission denied (run as root, as the daemon's user or as a "
			"member of its control_group)\n");
	else
		fprintf(err, "tradectl: %s\n", clean);
	return CTL_REFUSED;
}

static enum ctl_outcome render_status(const struct ctl_options *opt, const char *where,
				      json_t *reply, FILE *out, FILE *err)
{
	json_t *workers = json_object_get(reply, "workers");
	json_t *daemon = json_object_get(reply, "daemon");
	json_t *w;
	size_t i;
	char line[1024];

	if (!json_is_array(workers))
		return bad_reply(err, where, "status", "no \"workers\" array");
	json_array_foreach(workers, i, w)
	{
		if (!json_is_object(w))
			return bad_reply(err, where, "status", "a worker that is not an object");
	}
	if (opt->json) {
		json_t *o = json_object();

		if (!o || json_object_set(o, "workers", workers) < 0 ||
		    (daemon && json_object_set(o, "daemon", daemon) < 0) ||
		    (json_object_get(reply, "paused") &&
		     json_object_set(o, "paused", json_object_get(reply, "paused")) < 0) ||
		    (json_object_get(reply, "window_open") &&
		     json_object_set(o, "window_open", json_object_get(reply, "window_open")) <
			     0)) {
			json_decref(o);
			fprintf(err, "tradectl: out of memory\n");
			return CTL_BAD_REPLY;
		}
		print_json(o, out);
		json_decref(o);
		return CTL_OK;
	}
	json_array_foreach(workers, i, w)
	{
		ctl_format_status_line(w, line, sizeof(line));
		fprintf(out, "%s\n", line);
	}
	return CTL_OK;
}

static enum ctl_outcome render_results(const struct ctl_options *opt, const char *where,
				       json_t *reply, FILE *out, FILE *err)
{
	json_t *results = json_object_get(reply, "results");
	enum ctl_outcome outcome = CTL_OK;
	json_t *r;
	size_t i;

	if (!json_is_array(results))
		return bad_reply(err, where, opt->command->name, "no \"results\" array");
	json_array_foreach(results, i, r)
	{
		if (!json_is_object(r) || !member_str(r, "name") ||
		    (!member_str(r, "result") && !member_str(r, "error")))
			return bad_reply(err, where, opt->command->name,
					 "a result without \"name\" and \"result\"");
		if (!member_str(r, "result"))
			outcome = CTL_REFUSED;
	}
	if (opt->json) {
		print_json(reply, out);
		return outcome;
	}
	json_array_foreach(results, i, r)
	{
		const char *result = member_str(r, "result");
		char name[256], text[512];

		copy_printable(name, sizeof(name), member_str(r, "name"));
		copy_printable(text, sizeof(text), result ? result : member_str(r, "error"));
		if (result)
			fprintf(out, "%s: %s\n", name, text);
		else
			fprintf(out, "%s: ERROR (%s)\n", name, text);
	}
	return outcome;
}

static double member_real(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : 0;
}

/* tradectl top: the system on one line, then a row per process. */
static enum ctl_outcome render_top(const struct ctl_options *opt, const char *where, json_t *reply,
				   FILE *out, FILE *err)
{
	json_t *procs = json_object_get(reply, "processes");
	json_t *sys = json_object_get(reply, "system");
	char name[64], state[32];
	json_t *p;
	size_t i;

	if (!json_is_array(procs) || !json_is_object(sys))
		return bad_reply(err, where, "top", "no \"processes\" array or \"system\" object");
	if (opt->json) {
		print_json(reply, out);
		return CTL_OK;
	}
	copy_printable(name, sizeof(name),
		       member_str(sys, "data_dir") ? member_str(sys, "data_dir") : "");
	fprintf(out,
		"system: CPU %.1f%%, load %.2f %.2f %.2f, memory %" JSON_INTEGER_FORMAT
		" of %" JSON_INTEGER_FORMAT " MB available, disk %" JSON_INTEGER_FORMAT
		" of %" JSON_INTEGER_FORMAT " MB free (%s)\n\n",
		member_real(sys, "cpu_pct"), member_real(sys, "load1"), member_real(sys, "load5"),
		member_real(sys, "load15"), member_int(sys, "mem_avail_kb") / 1024,
		member_int(sys, "mem_total_kb") / 1024, member_int(sys, "disk_free_kb") / 1024,
		member_int(sys, "disk_total_kb") / 1024, name);
	fprintf(out, "%-18s %-9s %8s %7s %10s %6s %8s\n", "NAME", "STATE", "PID", "CPU%", "RSS(kB)",
		"FDS", "RESTARTS");
	json_array_foreach(procs, i, p)
	{
		copy_printable(name, sizeof(name),
			       member_str(p, "name") ? member_str(p, "name") : "?");
		copy_printable(state, sizeof(state),
			       member_str(p, "state") ? member_str(p, "state") : "?");
		fprintf(out,
			"%-18s %-9s %8" JSON_INTEGER_FORMAT " %7.1f %10" JSON_INTEGER_FORMAT
			" %6" JSON_INTEGER_FORMAT " %8" JSON_INTEGER_FORMAT "\n",
			name, state, member_int(p, "pid"), member_real(p, "cpu_pct"),
			member_int(p, "rss_kb"), member_int(p, "fds"), member_int(p, "restarts"));
	}
	return CTL_OK;
}

/* tradectl jobs: one line per job; jobs history: one line per schedule version. */
static enum ctl_outcome render_jobs(const struct ctl_options *opt, const char *where, json_t *reply,
				    FILE *out, FILE *err)
{
	json_t *jobs = json_object_get(reply, "jobs"), *hist = json_object_get(reply, "history");
	json_t *j;
	size_t i;

	if (opt->json) {
		print_json(reply, out);
		return CTL_OK;
	}
	if (json_is_array(hist)) {
		json_array_foreach(hist, i, j)
		{
			char what[32], note[96], summary[1024], when[40];

			copy_printable(what, sizeof(what), member_str(j, "what"));
			copy_printable(note, sizeof(note), member_str(j, "note"));
			copy_printable(summary, sizeof(summary), member_str(j, "summary"));
			clock_format(member_int(j, "changed_ms"), 0, when, sizeof(when));
			fprintf(out,
				"%-4" JSON_INTEGER_FORMAT " %sZ uid %-6" JSON_INTEGER_FORMAT
				" %-8s %s: %s\n",
				member_int(j, "version"), when, member_int(j, "uid"), what, note,
				summary);
		}
		return CTL_OK;
	}
	if (!json_is_array(jobs))
		return bad_reply(err, where, "jobs", "no \"jobs\" array");
	fprintf(out, "%-20s %-18s %-26s %-9s %s\n", "NAME", "SCHEDULE", "NEXT RUN", "LAST",
		"WORKER.ACTION");
	json_array_foreach(jobs, i, j)
	{
		char name[64], sched[64], next[48], last[16], worker[32], action[32];
		json_t *l = json_object_get(j, "last");

		copy_printable(name, sizeof(name), member_str(j, "name"));
		copy_printable(sched, sizeof(sched), member_str(j, "schedule"));
		copy_printable(next, sizeof(next),
			       json_is_true(json_object_get(j, "enabled"))
				       ? member_str(j, "next_run")
				       : "paused");
		copy_printable(last, sizeof(last),
			       json_is_object(l) ? member_str(l, "state") : "-");
		copy_printable(worker, sizeof(worker), member_str(j, "worker"));
		copy_printable(action, sizeof(action), member_str(j, "action"));
		fprintf(out, "%-20s %-18s %-26s %-9s %s.%s\n", name, sched, next, last, worker,
			action);
	}
	return CTL_OK;
}

/* One column of a report: a member printed as it came (strings) or as a number. */
static const char *cell(const json_t *row, const char *key, char *buf, size_t len)
{
	const json_t *v = json_object_get(row, key);

	if (json_is_string(v))
		copy_printable(buf, len, json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		snprintf(buf, len, "-");
	return buf;
}

/* orders, trades, pnl: one line per row under a header; --json as it came. */
static enum ctl_outcome render_report(const struct ctl_options *opt, const char *where,
				      json_t *reply, FILE *out, FILE *err)
{
	static const char *const orders_cols[] = {
		"intent",	   "market",   "side",	   "ord_type", "state",
		"executed_volume", "paid_fee", "attempts", "reason",   NULL};
	static const char *const trades_cols[] = {"market", "side", "price",	"volume",
						  "funds",  "fee",  "realized", NULL};
	static const char *const pnl_cols[] = {"day",	 "realized", "fees", "fills",
					       "bought", "sold",     NULL};
	const char *key = opt->command->command == CTL_CMD_ORDERS   ? "orders"
			  : opt->command->command == CTL_CMD_TRADES ? "trades"
								    : "days";
	const char *const *cols = opt->command->command == CTL_CMD_ORDERS   ? orders_cols
				  : opt->command->command == CTL_CMD_TRADES ? trades_cols
									    : pnl_cols;
	json_t *rows = json_object_get(reply, key), *row;
	size_t i;

	if (!json_is_array(rows))
		return bad_reply(err, where, opt->command->name, "no rows array");
	if (opt->json) {
		print_json(reply, out);
		return CTL_OK;
	}
	for (const char *const *c = cols; *c; c++)
		fprintf(out, "%-*s", c[1] ? 16 : 0, *c);
	fputc('\n', out);
	json_array_foreach(rows, i, row)
	{
		for (const char *const *c = cols; *c; c++) {
			char buf[256];

			fprintf(out, "%-*s ", c[1] ? 15 : 0, cell(row, *c, buf, sizeof(buf)));
		}
		fputc('\n', out);
	}
	return CTL_OK;
}

static enum ctl_outcome render_positions(const struct ctl_options *opt, const char *where,
					 json_t *reply, FILE *out, FILE *err)
{
	json_t *list = json_object_get(reply, "positions"), *p;
	char market[32], vol[48], cost[48], real[48], fees[48];
	size_t i;

	if (!json_is_array(list))
		return bad_reply(err, where, "positions", "no \"positions\" array");
	if (opt->json) {
		print_json(reply, out);
		return CTL_OK;
	}
	fprintf(out, "%-12s %20s %20s %20s %16s\n", "MARKET", "VOLUME", "COST KRW", "REALISED KRW",
		"FEES KRW");
	json_array_foreach(list, i, p)
	{
		copy_printable(market, sizeof(market), member_str(p, "market"));
		copy_printable(vol, sizeof(vol), member_str(p, "volume"));
		copy_printable(cost, sizeof(cost), member_str(p, "cost"));
		copy_printable(real, sizeof(real), member_str(p, "realized"));
		copy_printable(fees, sizeof(fees), member_str(p, "fees"));
		fprintf(out, "%-12s %20s %20s %20s %16s\n", market, vol, cost, real, fees);
	}
	if (json_array_size(list) == 0)
		fprintf(out, "no positions\n");
	return CTL_OK;
}

enum ctl_outcome ctl_render(const struct ctl_options *opt, const char *where, json_t *reply,
			    FILE *out, FILE *err)
{
	const char *s;
	char clean[512];

	switch (opt->command->command) {
	case CTL_CMD_BACKUP:
	case CTL_CMD_CLEANUP:
	case CTL_CMD_BACKUPS:
	case CTL_CMD_RESTORE:
	case CTL_CMD_CONFIG:
		return ctl_render_maint(opt, reply, out, err);
	default:
		break;
	}
	if (!json_is_true(json_object_get(reply, "ok")))
		return render_refusal(opt, reply, out, err);
	switch (opt->command->command) {
	case CTL_CMD_STATUS:
		return render_status(opt, where, reply, out, err);
	case CTL_CMD_TOP:
		return render_top(opt, where, reply, out, err);
	case CTL_CMD_START:
	case CTL_CMD_STOP:
	case CTL_CMD_RESTART:
		return render_results(opt, where, reply, out, err);
	case CTL_CMD_PID:
		if (!json_is_integer(json_object_get(reply, "pid")))
			return bad_reply(err, where, "pid", "no integer \"pid\"");
		if (opt->json)
			print_json(reply, out);
		else
			fprintf(out, "%" JSON_INTEGER_FORMAT "\n", member_int(reply, "pid"));
		return CTL_OK;
	case CTL_CMD_VERSION:
		s = member_str(reply, "version");
		if (!s)
			return bad_reply(err, where, "version", "no \"version\" string");
		if (opt->json) {
			print_json(reply, out);
		} else {
			copy_printable(clean, sizeof(clean), s);
			fprintf(out, "tradectl %s / tradingd %s\n", CTL_VERSION, clean);
		}
		return CTL_OK;
	case CTL_CMD_ALERTS:
		if (json_is_array(json_object_get(reply, "sinks"))) {
			if (opt->json) {
				print_json(reply, out);
				return CTL_OK;
			}
			return ctl_render_alerts(reply, out);
		}
		break;
	case CTL_CMD_JOBS:
		if (json_object_get(reply, "jobs") || json_object_get(reply, "history"))
			return render_jobs(opt, where, reply, out, err);
		break;
	case CTL_CMD_ORDERS:
	case CTL_CMD_TRADES:
	case CTL_CMD_PNL:
		return render_report(opt, where, reply, out, err);
	case CTL_CMD_POSITIONS:
		return render_positions(opt, where, reply, out, err);
	case CTL_CMD_PAUSE:
	case CTL_CMD_RESUME:
	case CTL_CMD_RELOAD:
	case CTL_CMD_SHUTDOWN:
	case CTL_CMD_HELP:
	default:
		break;
	}
	if (opt->json) {
		print_json(reply, out);
	} else if ((s = member_str(reply, "result")) != NULL) {
		copy_printable(clean, sizeof(clean), s);
		fprintf(out, "%s\n", clean);
	}
	return CTL_OK;
}
