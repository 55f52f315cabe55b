/* Audited changes of the schedule: tradectl job set/pause/resume write job_overrides and a
 * schedule_audit row (when, uid, before, after) in one transaction; jobs history and rollback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/db.h"
#include "common/log.h"
#include "supervisor/sched.h"
#include "supervisor/supervisor.h"

static json_t *fail(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

/* The overrides of job as stored ({} when none); a new reference. */
static json_t *overrides_of(sqlite3 *db, const char *job)
{
	sqlite3_stmt *st = NULL;
	json_t *o = NULL;

	if (sqlite3_prepare_v2(db, "SELECT settings FROM job_overrides WHERE job=?", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, job, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			o = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
	}
	sqlite3_finalize(st);
	return o ? o : json_object();
}

/* A value for "jobs.defs.*.KEY" of the right type and range, or a message. */
static const char *check_value(const char *key, json_t *value, char *buf, size_t len)
{
	char path[96];
	const struct config_key *k = NULL;

	snprintf(path, sizeof(path), "jobs.defs.*.%s", key);
	for (const struct config_key *c = config_schema; c->path; c++)
		if (strcmp(c->path, path) == 0)
			k = c;
	if (!k)
		return snprintf(buf, len, "unknown job key \"%.40s\"", key), buf;
	switch (k->type) {
	case CFG_INT:
		if (!json_is_integer(value) || (double)json_integer_value(value) < k->min ||
		    (double)json_integer_value(value) > k->max)
			return snprintf(buf, len, "%s: an integer in [%.0f, %.0f]", key, k->min,
					k->max),
			       buf;
		break;
	case CFG_NUMBER:
		if (!json_is_number(value) || json_number_value(value) < k->min ||
		    json_number_value(value) > k->max)
			return snprintf(buf, len, "%s: a number in [%g, %g]", key, k->min, k->max),
			       buf;
		break;
	case CFG_BOOL:
		if (!json_is_boolean(value))
			return snprintf(buf, len, "%s: true or false", key), buf;
		break;
	case CFG_STRING_ARRAY:
		if (!json_is_array(value))
			return snprintf(buf, len, "%s: a JSON array of names", key), buf;
		break;
	default:
		if (!json_is_string(value))
			return snprintf(buf, len, "%s: a string", key), buf;
		if (k->choices && !strstr(k->choices, json_string_value(value)))
			return snprintf(buf, len, "%s: one of %s", key, k->choices), buf;
		break;
	}
	return NULL;
}

int sched_audit(struct supervisor *sup, const char *job, const char *what, json_t *before,
		json_t *after, uid_t uid)
{
	char *b = before ? json_dumps(before, JSON_SORT_KEYS | JSON_COMPACT) : strdup("null");
	char *a = after ? json_dumps(after, JSON_SORT_KEYS | JSON_COMPACT) : strdup("null");
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (a && b &&
	    sqlite3_prepare_v2(sup->db,
			       "INSERT INTO schedule_audit(changed_ms, uid, job, what, before, "
			       "after) VALUES(?,?,?,?,?,?)",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, clock_now_ms());
		sqlite3_bind_int64(st, 2, (sqlite3_int64)uid);
		sqlite3_bind_text(st, 3, job, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, what, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, b, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, a, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	}
	if (rc < 0)
		log_warnx("schedule_audit: cannot record the %s of %s: %s", what, job,
			  sqlite3_errmsg(sup->db));
	sqlite3_finalize(st);
	free(a);
	free(b);
	return rc;
}

/* Stores after as job's overrides with an audit row, then puts the table in force; all or
 * nothing. */
static json_t *change(struct supervisor *sup, const char *job, const char *what, json_t *after,
		      uid_t uid)
{
	json_t *before = overrides_of(sup->db, job);
	char *b = json_dumps(before, JSON_SORT_KEYS | JSON_COMPACT);
	char *a = json_dumps(after, JSON_SORT_KEYS | JSON_COMPACT);
	sqlite3_stmt *st = NULL;
	char err[600];
	json_t *reply = NULL;
	int64_t version = 0;

	if (!a || !b || db_exec(sup->db, "BEGIN IMMEDIATE") < 0) {
		reply = fail("cannot write the schedule (database busy or out of memory)");
		goto out;
	}
	if (sqlite3_prepare_v2(sup->db,
			       "INSERT INTO job_overrides(job, settings) VALUES(?1, ?2) "
			       "ON CONFLICT(job) DO UPDATE SET settings=?2",
			       -1, &st, NULL) != SQLITE_OK)
		goto db_error;
	sqlite3_bind_text(st, 1, job, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto db_error;
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(sup->db,
			       "INSERT INTO schedule_audit(changed_ms, uid, job, what, before, "
			       "after) VALUES(?,?,?,?,?,?)",
			       -1, &st, NULL) != SQLITE_OK)
		goto db_error;
	sqlite3_bind_int64(st, 1, clock_now_ms());
	sqlite3_bind_int64(st, 2, (sqlite3_int64)uid);
	sqlite3_bind_text(st, 3, job, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, what, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, b, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, a, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto db_error;
	version = sqlite3_last_insert_rowid(sup->db);
	sqlite3_finalize(st);
	st = NULL;
	if (sched_rebuild(sup, err, sizeof(err)) < 0) {
		db_exec(sup->db, "ROLLBACK");
		reply = fail(err);
		goto out;
	}
	if (db_exec(sup->db, "COMMIT") < 0) {
		db_exec(sup->db, "ROLLBACK");
		sched_rebuild(sup, err, sizeof(err));
		reply = fail("cannot commit the change: nothing changed");
		goto out;
	}
	log_notice("schedule: %s %s by uid %u: %s -> %s", what, job, (unsigned)uid, b, a);
	reply = json_pack("{s:b, s:s, s:I}", "ok", 1, "result", "changed", "version",
			  (json_int_t)version);
	goto out;
db_error:
	snprintf(err, sizeof(err), "cannot write the schedule: %s", sqlite3_errmsg(sup->db));
	sqlite3_finalize(st);
	st = NULL;
	db_exec(sup->db, "ROLLBACK");
	reply = fail(err);
out:
	sqlite3_finalize(st);
	free(a);
	free(b);
	json_decref(before);
	return reply;
}

json_t *sched_set(struct supervisor *sup, const char *name, const char *what, json_t *changes,
		  uid_t uid)
{
	const char *key;
	json_t *value, *after, *reply;
	char buf[160];

	if (!sched_has_job(sup, name))
		return fail("no such job");
	json_object_foreach(changes, key, value)
	{
		const char *bad = check_value(key, value, buf, sizeof(buf));

		if (bad)
			return fail(bad);
	}
	after = overrides_of(sup->db, name);
	json_object_update(after, changes);
	reply = change(sup, name, what, after, uid);
	json_decref(after);
	return reply;
}

json_t *sched_history(struct supervisor *sup)
{
	sqlite3_stmt *st = NULL;
	json_t *rows = json_array();

	if (sqlite3_prepare_v2(sup->db,
			       "SELECT id, changed_ms, uid, job, what, before, after FROM "
			       "schedule_audit ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK) {
		json_decref(rows);
		return fail("cannot read schedule_audit");
	}
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(
			rows,
			json_pack("{s:I, s:I, s:I, s:s, s:s, s:s, s:s}", "version",
				  (json_int_t)sqlite3_column_int64(st, 0), "changed_ms",
				  (json_int_t)sqlite3_column_int64(st, 1), "uid",
				  (json_int_t)sqlite3_column_int64(st, 2), "job",
				  sqlite3_column_text(st, 3), "what", sqlite3_column_text(st, 4),
				  "before", sqlite3_column_text(st, 5), "after",
				  sqlite3_column_text(st, 6)));
	sqlite3_finalize(st);
	return json_pack("{s:b, s:o}", "ok", 1, "history", rows);
}

/* Undoes change version (0: the latest) and, for its job, every later one: the job's
 * overrides become what they were before it. The rollback is itself a change, audited. */
json_t *sched_rollback(struct supervisor *sup, int64_t version, uid_t uid)
{
	sqlite3_stmt *st = NULL;
	char job[64] = "", what[48];
	json_t *before = NULL, *reply;

	if (sqlite3_prepare_v2(sup->db,
			       version ? "SELECT job, before FROM schedule_audit WHERE id=?"
				       : "SELECT job, before FROM schedule_audit ORDER BY id DESC "
					 "LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return fail("cannot read schedule_audit");
	if (version)
		sqlite3_bind_int64(st, 1, version);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(job, sizeof(job), "%s", sqlite3_column_text(st, 0));
		before =
			json_loads((const char *)sqlite3_column_text(st, 1), JSON_DECODE_ANY, NULL);
	}
	sqlite3_finalize(st);
	if (!before)
		return fail(version ? "no such version" : "nothing to roll back");
	if (!json_is_object(before)) {
		json_decref(before);
		return fail("the job did not exist before that change: remove it from the config");
	}
	if (!sched_has_job(sup, job)) {
		json_decref(before);
		return fail("the job of that version is no longer in the config");
	}
	snprintf(what, sizeof(what), "rollback");
	reply = change(sup, job, what, before, uid);
	json_decref(before);
	return reply;
}
