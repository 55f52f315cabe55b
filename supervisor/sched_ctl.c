/* Audited changes of the schedule: tradectl job set/pause/resume write job_overrides, a
 * schedule_audit row and a schedule version in one transaction; jobs history and rollback. */
#include <inttypes.h>
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

/* What changed from one schedule to the next: per job the keys that differ (before and after
 * hold only those; null when the job did not exist), and a line for people. */
static json_t *diff_schedules(json_t *old, json_t *cur, char *summary, size_t len)
{
	json_t *changes = json_array(), *v;
	const char *job;
	size_t used = 0;

	summary[0] = '\0';
#define SAY(...)                                                                                   \
	do {                                                                                       \
		if (used < len)                                                                    \
			used += (size_t)snprintf(summary + used, len - used, __VA_ARGS__);         \
	} while (0)
	json_object_foreach(cur, job, v)
	{
		json_t *was = old ? json_object_get(old, job) : NULL;
		json_t *b, *a, *x;
		const char *key;

		if (!was) {
			json_array_append_new(changes, json_pack("{s:s, s:n, s:O}", "job", job,
								 "before", "after", v));
			SAY("%s%s: added", used ? "; " : "", job);
			continue;
		}
		if (json_equal(was, v))
			continue;
		b = json_object();
		a = json_object();
		SAY("%s%s:", used ? "; " : "", job);
		json_object_foreach(v, key, x)
		{
			json_t *y = json_object_get(was, key);

			if (y && json_equal(x, y))
				continue;
			char *ys = y ? json_dumps(y, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
			char *xs = json_dumps(x, JSON_ENCODE_ANY | JSON_COMPACT);

			SAY(" %s %s -> %s", key, ys ? ys : "-", xs ? xs : "?");
			free(ys);
			free(xs);
			json_object_set(b, key, y ? y : json_null());
			json_object_set(a, key, x);
		}
		json_array_append_new(
			changes, json_pack("{s:s, s:o, s:o}", "job", job, "before", b, "after", a));
	}
	json_object_foreach(old, job, v)
	{
		if (json_object_get(cur, job))
			continue;
		json_array_append_new(
			changes, json_pack("{s:s, s:O, s:n}", "job", job, "before", v, "after"));
		SAY("%s%s: removed", used ? "; " : "", job);
	}
#undef SAY
	return changes;
}

/* The schedule of version (0: the latest; -1: the one before the latest), a new reference;
 * its id in *id. NULL when there is no such version. */
static json_t *version_schedule(sqlite3 *db, int64_t version, int64_t *id)
{
	sqlite3_stmt *st = NULL;
	json_t *o = NULL;
	const char *sql =
		version > 0 ? "SELECT id, schedule FROM schedule_versions WHERE id=?"
		: version == 0
			? "SELECT id, schedule FROM schedule_versions ORDER BY id DESC LIMIT 1"
			: "SELECT id, schedule FROM schedule_versions ORDER BY id DESC "
			  "LIMIT 1 OFFSET 1";

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (version > 0)
			sqlite3_bind_int64(st, 1, version);
		if (sqlite3_step(st) == SQLITE_ROW) {
			*id = sqlite3_column_int64(st, 0);
			o = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
		}
	}
	sqlite3_finalize(st);
	return o;
}

int sched_version_record(struct supervisor *sup, const char *what, const char *note, uid_t uid,
			 int64_t *version)
{
	json_t *cur = sched_defs(sup), *last, *changes;
	int64_t last_id = 0;
	char summary[1024], *sched_text = NULL, *changes_text = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (version)
		*version = 0;
	if (!cur)
		return 0;
	last = version_schedule(sup->db, 0, &last_id);
	if (last && json_equal(last, cur)) {
		json_decref(last);
		return 0;
	}
	changes = diff_schedules(last, cur, summary, sizeof(summary));
	json_decref(last);
	sched_text = json_dumps(cur, JSON_SORT_KEYS | JSON_COMPACT);
	changes_text = json_dumps(changes, JSON_SORT_KEYS | JSON_COMPACT);
	if (sched_text && changes_text &&
	    sqlite3_prepare_v2(
		    sup->db,
		    "INSERT INTO schedule_versions(changed_ms, uid, what, note, summary, "
		    "changes, schedule) VALUES(?,?,?,?,?,?,?)",
		    -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, clock_now_ms());
		sqlite3_bind_int64(st, 2, (sqlite3_int64)uid);
		sqlite3_bind_text(st, 3, what, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, note, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, summary, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, changes_text, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, sched_text, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_DONE) {
			rc = 1;
			if (version)
				*version = sqlite3_last_insert_rowid(sup->db);
		}
	}
	if (rc < 0)
		log_warnx("schedule_versions: cannot record the %s: %s", what,
			  sqlite3_errmsg(sup->db));
	else
		log_notice("schedule version (%s by uid %u): %s", what, (unsigned)uid, summary);
	sqlite3_finalize(st);
	free(sched_text);
	free(changes_text);
	json_decref(changes);
	return rc;
}

/* Stores after as job's overrides (none when empty) with an audit row; inside the caller's
 * transaction. 0 or -1 (the database's message in err). */
static int put_override(struct supervisor *sup, const char *job, const char *what, json_t *after,
			uid_t uid, char *err, size_t errlen)
{
	json_t *before = overrides_of(sup->db, job);
	char *b = json_dumps(before, JSON_SORT_KEYS | JSON_COMPACT);
	char *a = json_dumps(after, JSON_SORT_KEYS | JSON_COMPACT);
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (!a || !b) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (sqlite3_prepare_v2(sup->db,
			       json_object_size(after)
				       ? "INSERT INTO job_overrides(job, settings) VALUES(?1, ?2) "
					 "ON CONFLICT(job) DO UPDATE SET settings=?2"
				       : "DELETE FROM job_overrides WHERE job=?1",
			       -1, &st, NULL) != SQLITE_OK)
		goto db_error;
	sqlite3_bind_text(st, 1, job, -1, SQLITE_STATIC);
	if (json_object_size(after))
		sqlite3_bind_text(st, 2, a, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto db_error;
	if (sched_audit(sup, job, what, before, after, uid) < 0)
		goto db_error;
	log_notice("schedule: %s %s by uid %u: %s -> %s", what, job, (unsigned)uid, b, a);
	rc = 0;
	goto out;
db_error:
	snprintf(err, errlen, "cannot write the schedule: %s", sqlite3_errmsg(sup->db));
out:
	sqlite3_finalize(st);
	free(a);
	free(b);
	json_decref(before);
	return rc;
}

/* The overrides are written (put_override); the table is rebuilt, checked and put in force, and
 * the schedule version recorded, all in the open transaction, which this commits or rolls
 * back. The reply. */
static json_t *finish(struct supervisor *sup, const char *what, const char *note, uid_t uid)
{
	char err[600];
	int64_t version = 0;
	int rc;

	if (sched_rebuild(sup, err, sizeof(err)) < 0) {
		db_exec(sup->db, "ROLLBACK");
		return fail(err);
	}
	rc = sched_version_record(sup, what, note, uid, &version);
	if (rc < 0 || db_exec(sup->db, "COMMIT") < 0) {
		db_exec(sup->db, "ROLLBACK");
		sched_rebuild(sup, err, sizeof(err));
		return fail("cannot commit the change: nothing changed");
	}
	sched_rearm(sup);
	return json_pack("{s:b, s:s, s:I}", "ok", 1, "result", rc ? "changed" : "unchanged",
			 "version", (json_int_t)version);
}

/* One job's overrides become after, audited, and a new schedule version; all or nothing. */
static json_t *change(struct supervisor *sup, const char *job, const char *what, json_t *after,
		      uid_t uid)
{
	char err[600], note[96];

	if (db_exec(sup->db, "BEGIN IMMEDIATE") < 0)
		return fail("cannot write the schedule (database busy)");
	if (put_override(sup, job, what, after, uid, err, sizeof(err)) < 0) {
		db_exec(sup->db, "ROLLBACK");
		return fail(err);
	}
	snprintf(note, sizeof(note), "tradectl job %s %s", what, job);
	return finish(sup, what, note, uid);
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
	int rc;
	json_t *rows = json_array();

	if (sqlite3_prepare_v2(sup->db,
			       "SELECT id, changed_ms, uid, what, note, summary, changes FROM "
			       "schedule_versions ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK) {
		json_decref(rows);
		return fail("cannot read schedule_versions");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *changes = json_loads((const char *)sqlite3_column_text(st, 6), 0, NULL);

		json_array_append_new(
			rows,
			json_pack("{s:I, s:I, s:I, s:s, s:s, s:s, s:o}", "version",
				  (json_int_t)sqlite3_column_int64(st, 0), "changed_ms",
				  (json_int_t)sqlite3_column_int64(st, 1), "uid",
				  (json_int_t)sqlite3_column_int64(st, 2), "what",
				  sqlite3_column_text(st, 3), "note", sqlite3_column_text(st, 4),
				  "summary", sqlite3_column_text(st, 5), "changes",
				  changes ? changes : json_array()));
	}
	if (rc != SQLITE_DONE) {
		/* A list cut short is not an empty list: say why. */
		json_t *err = fail("cannot read schedule_versions");

		sqlite3_finalize(st);
		json_decref(rows);
		return err;
	}
	sqlite3_finalize(st);
	return json_pack("{s:b, s:o}", "ok", 1, "history", rows);
}

/* The overrides that make the file's job look as target: the keys where they differ. */
static json_t *overrides_for(json_t *file_job, json_t *target)
{
	json_t *o = json_object(), *v;
	const char *key;

	json_object_foreach(target, key, v)
	{
		if (!json_equal(json_object_get(file_job, key), v))
			json_object_set(o, key, v);
	}
	return o;
}

/* The whole schedule as it was at version (0: the one before the latest). The file stays the
 * base: each job the file has gets the overrides that make it what it was at that version; one
 * the file added since is paused; one the file removed since cannot come back (named in the
 * reply). The rollback is itself audited and a new version. */
json_t *sched_rollback(struct supervisor *sup, int64_t version, uid_t uid)
{
	json_t *file = json_object_get(json_object_get(sup->cfg.root, "jobs"), "defs");
	json_t *target, *gone, *reply, *v;
	const char *job;
	int64_t id = 0;
	char err[600], note[64];

	target = version_schedule(sup->db, version ? version : -1, &id);
	if (!target)
		return fail(version ? "no such version" : "nothing to roll back to (one version)");
	if (!sched_defs(sup)) {
		json_decref(target);
		return fail("the scheduler is not running");
	}
	if (db_exec(sup->db, "BEGIN IMMEDIATE") < 0) {
		json_decref(target);
		return fail("cannot write the schedule (database busy)");
	}
	json_object_foreach(file, job, v)
	{
		json_t *was = json_object_get(target, job);
		json_t *ov = was ? overrides_for(v, was) : json_pack("{s:b}", "enabled", 0);
		json_t *cur = overrides_of(sup->db, job);
		int same = json_equal(cur, ov), rc = 0;

		if (!same)
			rc = put_override(sup, job, "rollback", ov, uid, err, sizeof(err));
		json_decref(cur);
		json_decref(ov);
		if (rc < 0) {
			db_exec(sup->db, "ROLLBACK");
			json_decref(target);
			return fail(err);
		}
	}
	gone = json_array();
	json_object_foreach(target, job, v)
	{
		if (!json_object_get(file, job))
			json_array_append_new(gone, json_string(job));
	}
	snprintf(note, sizeof(note), "to version %" PRId64, id);
	reply = finish(sup, "rollback", note, uid);
	if (json_is_true(json_object_get(reply, "ok"))) {
		if (strcmp(json_string_value(json_object_get(reply, "result")), "unchanged") == 0) {
			json_decref(reply);
			reply = json_pack("{s:b, s:s}", "ok", 0, "error",
					  "the schedule is already as at that version");
		} else {
			json_object_set_new(reply, "to", json_integer(id));
			json_object_set(reply, "not_restored", gone);
		}
	}
	json_decref(gone);
	json_decref(target);
	return reply;
}
