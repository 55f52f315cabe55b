/* The trading commands of the control socket: the kill switch (pause, resume) written to
 * trading_control, positions read from the database, and the trading part of status. */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/dec8.h"
#include "common/log.h"
#include "common/strategy_conf.h"
#include "common/tzone.h"
#include "supervisor/control.h"
#include "supervisor/job_dispatch.h"
#include "workers/strategy_calc.h"

#define CANCEL_OPEN_TIMEOUT_MS 60000

/* 1 paused, 0 not, -1 unreadable; reason filled when given. */
static int read_paused(struct supervisor *sup, char *reason, size_t len)
{
	sqlite3_stmt *st;
	int paused = -1;

	if (reason)
		reason[0] = '\0';
	if (sqlite3_prepare_v2(sup->db, "SELECT paused, reason FROM trading_control WHERE id = 1",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		paused = sqlite3_column_int(st, 0) != 0;
		if (reason)
			snprintf(reason, len, "%s", (const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	return paused;
}

/* THE pause (the contract every writer uses); committed before the reply. */
static int write_paused(struct supervisor *sup, int paused, const char *reason, char *err,
			size_t len)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(sup->db,
			       "UPDATE trading_control SET paused = ?, reason = ?, changed_ms = ?,"
			       " changed_by = ? WHERE id = 1",
			       -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, len, "cannot write trading_control: %s", sqlite3_errmsg(sup->db));
		return -1;
	}
	sqlite3_bind_int(st, 1, paused);
	sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, clock_now_ms());
	sqlite3_bind_text(st, 4, "tradectl", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, len, "cannot write trading_control: %s", sqlite3_errmsg(sup->db));
		return -1;
	}
	return 0;
}

static void cancel_open_done(struct supervisor *sup, uint64_t run_id, enum ipc_job_result result,
			     const char *msg, int64_t duration_ms, void *arg)
{
	(void)sup;
	(void)arg;
	if (result == JOB_OK)
		log_notice("pause --cancel-open: run %llu: %s (%lld ms)",
			   (unsigned long long)run_id, msg, (long long)duration_ms);
	else
		log_warnx("pause --cancel-open: run %llu failed: %s", (unsigned long long)run_id,
			  msg);
}

json_t *control_pause(struct supervisor *sup, json_t *args)
{
	const char *a = json_string_value(json_array_get(args, 0));
	int cancel = a && strcmp(a, "--cancel-open") == 0;
	char err[512], why[256];
	uint64_t run_id;

	if (json_array_size(args) > 1 || (a && !cancel))
		return control_fail("pause: unknown argument %s (pause [--cancel-open])",
				    a ? a : "?");
	if (write_paused(sup, 1, "tradectl pause", err, sizeof(err)) < 0)
		return json_pack("{s:b, s:s}", "ok", 0, "error", err);
	log_notice("trading paused by tradectl%s", cancel ? " (cancelling open orders)" : "");
	if (!cancel)
		return json_pack("{s:b, s:b, s:s}", "ok", 1, "paused", 1, "result",
				 "trading paused: no new entries until tradectl resume");
	run_id = job_dispatch_new_id(sup);
	if (job_dispatch(sup, ROLE_ORDER_EXECUTION, "cancel_open", NULL, run_id,
			 CANCEL_OPEN_TIMEOUT_MS, cancel_open_done, NULL, why, sizeof(why)) < 0) {
		snprintf(err, sizeof(err),
			 "trading paused, but open orders were NOT cancelled: order-execution "
			 "cannot run cancel_open (%s)",
			 why);
		return json_pack("{s:b, s:b, s:s}", "ok", 0, "paused", 1, "error", err);
	}
	snprintf(err, sizeof(err),
		 "trading paused; order-execution is cancelling every open order (run %llu)",
		 (unsigned long long)run_id);
	return json_pack("{s:b, s:b, s:s, s:I}", "ok", 1, "paused", 1, "result", err,
			 "cancel_run_id", (json_int_t)run_id);
}

json_t *control_resume(struct supervisor *sup, json_t *args)
{
	char err[512];

	(void)args;
	if (write_paused(sup, 0, "", err, sizeof(err)) < 0)
		return json_pack("{s:b, s:s}", "ok", 0, "error", err);
	log_notice("trading resumed by tradectl");
	return json_pack("{s:b, s:b, s:s}", "ok", 1, "paused", 0, "result",
			 "trading resumed: entries allowed again");
}

static json_t *dec_json(sqlite3_stmt *st, int col)
{
	char buf[DEC8_BUF];

	dec8_format(sqlite3_column_int64(st, col), buf);
	return json_string(buf);
}

json_t *control_positions(struct supervisor *sup, json_t *args)
{
	json_t *list = json_array();
	sqlite3_stmt *st;
	int rc;

	(void)args;
	if (sqlite3_prepare_v2(sup->db,
			       "SELECT market, volume_e8, cost_e8, realized_e8, fees_e8, updated_ms"
			       " FROM positions ORDER BY market",
			       -1, &st, NULL) != SQLITE_OK) {
		json_decref(list);
		return json_pack("{s:b, s:s}", "ok", 0, "error", sqlite3_errmsg(sup->db));
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(list, json_pack("{s:s, s:o, s:o, s:o, s:o, s:I}", "market",
						      (const char *)sqlite3_column_text(st, 0),
						      "volume", dec_json(st, 1), "cost",
						      dec_json(st, 2), "realized", dec_json(st, 3),
						      "fees", dec_json(st, 4), "updated_ms",
						      (json_int_t)sqlite3_column_int64(st, 5)));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(list);
		return json_pack("{s:b, s:s}", "ok", 0, "error", sqlite3_errmsg(sup->db));
	}
	return json_pack("{s:b, s:o}", "ok", 1, "positions", list);
}

int control_window_open(const struct supervisor *sup)
{
	const struct config_settings *cs = &sup->cfg.s;
	char err[160];
	struct tzone *z = tzone_load(cs->strategy.timezone, err, sizeof(err));
	int open = z ? strat_window_is_open(z, strat_time_of_day(cs->strategy.window_open),
					    strat_time_of_day(cs->strategy.window_close),
					    clock_now_ms())
		     : -1;

	tzone_free(z);
	return open;
}

void control_trading_status(struct supervisor *sup, json_t *reply)
{
	char reason[160];
	int paused = read_paused(sup, reason, sizeof(reason));
	int open = control_window_open(sup) == 1;

	/* An unreadable switch is reported as paused: the strategy treats it so. */
	json_object_set_new(reply, "paused", json_boolean(paused != 0));
	json_object_set_new(reply, "pause_reason", json_string(paused > 0 ? reason : ""));
	json_object_set_new(reply, "window_open", json_boolean(open));
}
