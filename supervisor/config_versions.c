/* Configuration versions: each applied config recorded once (time, uid, hash, the JSON without
 * secrets), tradectl config show|history|diff|rollback, and the rollback by itself when a
 * worker crash-loops soon after a reload (the watch of the file: config_watch.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "supervisor/config_versions.h"
#include "supervisor/control.h"

#define SECRET_MARK "(secret)"
#define HISTORY_MAX "100"

/* FNV-1a, 64 bits: tells an unchanged text from a changed one; not a secret's protection (no
 * secret is in the text it hashes). */
static void text_hash(const char *text, char out[17])
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		h ^= *p;
		h *= UINT64_C(1099511628211);
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static int latest_version(struct supervisor *sup, int64_t *id, char hash[17])
{
	sqlite3_stmt *st;
	int found = 0;

	if (sqlite3_prepare_v2(sup->db,
			       "SELECT id, coalesce(hash, '') FROM config_versions ORDER BY id DESC"
			       " LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		snprintf(hash, 17, "%s", (const char *)sqlite3_column_text(st, 1));
		found = 1;
	}
	sqlite3_finalize(st);
	return found;
}

int config_version_record(struct supervisor *sup, const struct config *cfg,
			  const struct config *prev, const char *reason, char *err, size_t errlen)
{
	char *text = config_text_redacted(cfg);
	char hash[17], last_hash[17] = "";
	int64_t last_id = 0;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	text_hash(text, hash);
	/* Unchanged: the same text as the newest version and, at a reload, the same file (a
	 * changed secret alone is a change, though the stored text cannot show it). */
	if (latest_version(sup, &last_id, last_hash) == 1 && strcmp(hash, last_hash) == 0 &&
	    (!prev || json_equal(prev->file, cfg->file))) {
		sup->config_version = last_id;
		free(text);
		return 0;
	}
	if (sqlite3_prepare_v2(
		    sup->db,
		    "INSERT INTO config_versions(applied_ms, path, text, uid, hash, reason)"
		    " VALUES(?,?,?,?,?,?)",
		    -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, clock_now_ms());
		sqlite3_bind_text(st, 2, cfg->path, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, sup->request_uid >= 0 ? sup->request_uid : (int)getuid());
		sqlite3_bind_text(st, 5, hash, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 1 : -1;
	}
	if (rc < 0)
		snprintf(err, errlen, "cannot record the config version: %s",
			 sqlite3_errmsg(sup->db));
	else
		sup->config_version = sqlite3_last_insert_rowid(sup->db);
	sqlite3_finalize(st);
	free(text);
	return rc;
}

/* The stored text of version id (0: the newest), malloc'd; NULL when there is none. */
static char *version_text(struct supervisor *sup, int64_t id, int64_t *got)
{
	sqlite3_stmt *st;
	char *text = NULL;

	if (sqlite3_prepare_v2(sup->db,
			       id ? "SELECT id, text FROM config_versions WHERE id = ?"
				  : "SELECT id, text FROM config_versions ORDER BY id DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return NULL;
	if (id)
		sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*got = sqlite3_column_int64(st, 0);
		text = strdup((const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	return text;
}

static void diff_value(json_t *lines, const char *path, json_t *a, json_t *b);

static void diff_objects(json_t *lines, const char *path, json_t *a, json_t *b)
{
	const char *key;
	json_t *v;
	char sub[512];

	json_object_foreach(a, key, v)
	{
		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", key);
		diff_value(lines, sub, v, json_object_get(b, key));
	}
	json_object_foreach(b, key, v)
	{
		if (json_object_get(a, key))
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", key);
		diff_value(lines, sub, NULL, v);
	}
}

/* One line per key that differs: "~ path: A -> B", "+ path: B", "- path: A". */
static void diff_value(json_t *lines, const char *path, json_t *a, json_t *b)
{
	char *ta, *tb, line[1200];

	if (json_is_object(a) && json_is_object(b)) {
		diff_objects(lines, path, a, b);
		return;
	}
	if (a && b && json_equal(a, b))
		return;
	ta = a ? json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL;
	tb = b ? json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL;
	if (a && b)
		snprintf(line, sizeof(line), "~ %s: %.500s -> %.500s", path, ta, tb);
	else if (b)
		snprintf(line, sizeof(line), "+ %s: %.500s", path, tb);
	else
		snprintf(line, sizeof(line), "- %s: %.500s", path, ta);
	json_array_append_new(lines, json_string(line));
	free(ta);
	free(tb);
}

json_t *config_versions_diff(struct supervisor *sup, int64_t v1, int64_t v2, char *err, size_t len)
{
	int64_t g1 = 0, g2 = 0;
	char *t1 = version_text(sup, v1, &g1), *t2 = version_text(sup, v2, &g2);
	json_t *a = t1 ? json_loads(t1, 0, NULL) : NULL, *b = t2 ? json_loads(t2, 0, NULL) : NULL;
	json_t *lines = NULL;

	if (!a || !b)
		snprintf(err, len, "no config version %lld", (long long)(a ? v2 : v1));
	else if ((lines = json_array()))
		diff_value(lines, "", a, b);
	json_decref(a);
	json_decref(b);
	free(t1);
	free(t2);
	return lines;
}

static int parse_version(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v <= 0)
		return -1;
	*out = v;
	return 0;
}

static json_t *cmd_history(struct supervisor *sup)
{
	sqlite3_stmt *st;
	int rc;
	json_t *list = json_array();

	if (sqlite3_prepare_v2(sup->db,
			       "SELECT id, applied_ms, coalesce(uid, -1), coalesce(hash, ''),"
			       " coalesce(reason, ''), path FROM (SELECT * FROM config_versions"
			       " ORDER BY id DESC LIMIT " HISTORY_MAX ") ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK) {
		json_decref(list);
		return json_pack("{s:b, s:s}", "ok", 0, "error", sqlite3_errmsg(sup->db));
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);

		json_array_append_new(list,
				      json_pack("{s:I, s:I, s:i, s:s, s:s, s:s, s:b}", "version",
						(json_int_t)id, "applied_ms",
						(json_int_t)sqlite3_column_int64(st, 1), "uid",
						sqlite3_column_int(st, 2), "hash",
						(const char *)sqlite3_column_text(st, 3), "reason",
						(const char *)sqlite3_column_text(st, 4), "path",
						(const char *)sqlite3_column_text(st, 5),
						"in_force", id == sup->config_version));
	}
	if (rc != SQLITE_DONE) {
		/* A list cut short is not an empty list: say why. */
		json_t *err = json_pack("{s:b, s:s}", "ok", 0, "error", sqlite3_errmsg(sup->db));

		sqlite3_finalize(st);
		json_decref(list);
		return err;
	}
	sqlite3_finalize(st);
	return json_pack("{s:b, s:o}", "ok", 1, "versions", list);
}

/* The version's text with the secrets of the file in force put back where it says
 * "(secret)". -1 with err when the version has a secret the file in force lacks. */
static char *with_current_secrets(struct supervisor *sup, const char *stored, char *err, size_t len)
{
	json_t *tree = json_loads(stored, 0, NULL);
	char *text = NULL;

	if (!tree) {
		snprintf(err, len, "the stored version is not JSON");
		return NULL;
	}
	for (const struct config_key *k = config_schema; k->path; k++) {
		char parent_path[128];
		const char *dot = strrchr(k->path, '.');
		json_t *parent = tree, *cur = sup->cfg.file, *v;

		if (!(k->flags & CFG_SECRET))
			continue;
		snprintf(parent_path, sizeof(parent_path), "%.*s", dot ? (int)(dot - k->path) : 0,
			 k->path);
		if (dot) {
			parent = json_object_get(tree, parent_path);
			cur = json_object_get(sup->cfg.file, parent_path);
		}
		v = json_object_get(parent, dot ? dot + 1 : k->path);
		if (!v)
			continue;
		if (!json_is_string(v) || strcmp(json_string_value(v), SECRET_MARK) != 0)
			continue;
		v = json_object_get(cur, dot ? dot + 1 : k->path);
		if (!v) {
			snprintf(err, len,
				 "refused: that version had %s and the file in force has none; "
				 "secrets are never stored, so put it in the file by hand",
				 k->path);
			json_decref(tree);
			return NULL;
		}
		json_object_set(parent, dot ? dot + 1 : k->path, v);
	}
	text = json_dumps(tree, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(tree);
	if (!text)
		snprintf(err, len, "out of memory");
	return text;
}

/* The file is replaced whole (temporary name, fsync, rename), keeping its mode. */
static int write_config_file(const char *path, const char *text, char *err, size_t len)
{
	char tmp[PATH_MAX + 16];
	struct stat sb;
	size_t n = strlen(text);
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.rollback", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  stat(path, &sb) == 0 ? sb.st_mode & 0777 : 0640);
	if (fd < 0) {
		snprintf(err, len,
			 "cannot write %.200s (is the config directory writable by the "
			 "daemon's user?): %s",
			 tmp, strerror(errno));
		return -1;
	}
	if (write(fd, text, n) != (ssize_t)n || write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		snprintf(err, len, "cannot write %.200s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		snprintf(err, len, "cannot replace %.200s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The version before the one in force: the newest older one with another hash. */
static int64_t previous_version(struct supervisor *sup)
{
	sqlite3_stmt *st;
	int64_t id = 0;

	if (sqlite3_prepare_v2(sup->db,
			       "SELECT id FROM config_versions WHERE id < ?1 AND coalesce(hash, '')"
			       " != (SELECT coalesce(hash, '') FROM config_versions WHERE id = ?1)"
			       " ORDER BY id DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, sup->config_version);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return id;
}

int config_versions_rollback(struct supervisor *sup, int64_t target, const char *reason, char *err,
			     size_t len)
{
	int64_t got = 0;
	char *stored, *text;
	int rc;

	if (!target)
		target = previous_version(sup);
	stored = target ? version_text(sup, target, &got) : NULL;
	if (!stored) {
		snprintf(err, len, "no config version %lld to roll back to", (long long)target);
		return -1;
	}
	text = with_current_secrets(sup, stored, err, len);
	free(stored);
	if (!text)
		return -1;
	rc = write_config_file(sup->config_path, text, err, len);
	free(text);
	if (rc < 0)
		return -1;
	sup->reload_reason = reason;
	rc = supervisor_reload(sup, err, len);
	sup->reload_reason = NULL;
	return rc;
}

json_t *config_versions_cmd(struct supervisor *sup, json_t *args)
{
	const char *sub = json_string_value(json_array_get(args, 0));
	const char *a1 = json_string_value(json_array_get(args, 1));
	const char *a2 = json_string_value(json_array_get(args, 2));
	int64_t v1 = 0, v2 = 0, got = 0;
	char err[1024], reason[64];

	if (!sub)
		return control_fail("%s", "config needs show|history|diff V1 V2|rollback [V]");
	if ((a1 && parse_version(a1, &v1) < 0) || (a2 && parse_version(a2, &v2) < 0))
		return control_fail("not a version number: %s", a2 && v1 ? a2 : a1);
	if (strcmp(sub, "history") == 0 && !a1)
		return cmd_history(sup);
	if (strcmp(sub, "show") == 0 && !a2) {
		char *text = version_text(sup, v1 ? v1 : sup->config_version, &got);
		json_t *reply;

		if (!text)
			return control_fail("no config version %s", a1 ? a1 : "in force");
		reply = json_pack("{s:b, s:I, s:s}", "ok", 1, "version", (json_int_t)got, "text",
				  text);
		free(text);
		return reply;
	}
	if (strcmp(sub, "diff") == 0 && a1 && a2 && json_array_size(args) == 3) {
		json_t *lines = config_versions_diff(sup, v1, v2, err, sizeof(err));

		if (!lines)
			return json_pack("{s:b, s:s}", "ok", 0, "error", err);
		return json_pack("{s:b, s:I, s:I, s:o}", "ok", 1, "from", (json_int_t)v1, "to",
				 (json_int_t)v2, "diff", lines);
	}
	if (strcmp(sub, "rollback") == 0 && !a2) {
		snprintf(reason, sizeof(reason), "rollback to %lld", (long long)v1);
		if (config_versions_rollback(sup, v1, v1 ? reason : "rollback", err, sizeof(err)) <
		    0)
			return json_pack("{s:b, s:s}", "ok", 0, "error", err);
		return json_pack("{s:b, s:s, s:I}", "ok", 1, "result",
				 "rolled back (secrets kept from the file in force)", "version",
				 (json_int_t)sup->config_version);
	}
	return control_fail("unknown config subcommand or arguments: %s", sub);
}

/* Deferred out of the process's state change: the reload restarts processes itself. */
static void rollback_tick(uv_timer_t *timer)
{
	struct supervisor *sup = timer->data;
	int64_t from = sup->config_version, to = previous_version(sup);
	json_t *lines;
	char err[1024], diff[1024] = "";
	size_t used = 0;

	if (sup->shutting_down || !to)
		return;
	lines = config_versions_diff(sup, to, from, err, sizeof(err));
	for (size_t i = 0; lines && i < json_array_size(lines); i++) {
		int n = snprintf(diff + used, sizeof(diff) - used, "%s%s", i ? "; " : "",
				 json_string_value(json_array_get(lines, i)));

		if (n < 0 || (size_t)n >= sizeof(diff) - used)
			break;
		used += (size_t)n;
	}
	json_decref(lines);
	if (config_versions_rollback(sup, to, "automatic rollback after a crash loop", err,
				     sizeof(err)) < 0) {
		log_msg(LOG_LVL_CRIT, "config: automatic rollback to version %lld failed: %s",
			(long long)to, err);
		supervisor_alert(sup, OUTBOX_CRITICAL, "config_rollback_failed",
				 "a worker crash-loops after config version %lld; rolling back to "
				 "%lld failed: %s",
				 (long long)from, (long long)to, err);
		return;
	}
	log_msg(LOG_LVL_CRIT, "config: version %lld made a worker crash-loop: rolled back to %lld",
		(long long)from, (long long)to);
	supervisor_alert(sup, OUTBOX_CRITICAL, "config_rollback",
			 "a worker crash-looped after config version %lld: rolled back to %lld "
			 "(now version %lld); the change was: %s",
			 (long long)from, (long long)to, (long long)sup->config_version, diff);
	for (int r = 0; r < ROLE_COUNT; r++)
		if (sup->procs[r].state == PROC_FATAL && proc_enabled(&sup->procs[r]))
			proc_event(&sup->procs[r], EV_START);
}

void config_versions_crash_loop(struct supervisor *sup, const struct proc *p)
{
	char err[512] = "";
	int64_t window = sup->cfg.s.config_watch.rollback_window_s * 1000;

	if (!window || !sup->reload_mono || clock_mono_ms() - sup->reload_mono > window)
		return;
	log_warnx("%s crash-loops %lld ms after a reload: rolling the config back",
		  role_name(p->role), (long long)(clock_mono_ms() - sup->reload_mono));
	sup->reload_mono = 0; /* once per change */
	if (sup->cfg.s.supervisor.fatal_action == FATAL_EXIT) {
		/* The daemon exits now: only the file is rolled back, for the next start. */
		int64_t got = 0, to = previous_version(sup);
		char *stored = to ? version_text(sup, to, &got) : NULL;
		char *text = stored ? with_current_secrets(sup, stored, err, sizeof(err)) : NULL;

		if (text && write_config_file(sup->config_path, text, err, sizeof(err)) == 0)
			supervisor_alert(
				sup, OUTBOX_CRITICAL, "config_rollback",
				"a worker crash-looped after config version %lld: the file "
				"is rolled back to version %lld for the next start",
				(long long)sup->config_version, (long long)to);
		else
			supervisor_alert(sup, OUTBOX_CRITICAL, "config_rollback_failed",
					 "a worker crash-looped after config version %lld; rolling "
					 "the file back failed: %s",
					 (long long)sup->config_version,
					 stored ? err : "no version");
		free(stored);
		free(text);
		return;
	}
	uv_timer_start(&sup->config_rollback, rollback_tick, 0, 0);
}
