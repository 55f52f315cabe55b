/* The notifier's side of the outbox in SQLite: new rows classified (storm, routing) into one
 * delivery row per sink, the oldest pending row of a sink, and the marks once it is done. */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "workers/notifier.h"

#define INGEST_BATCH 256
#define UPDATES_SINK "telegram-updates"

static const char *const sql[NS_COUNT] = {
	[NS_NEW_ROWS] = "SELECT id, created_ms, severity, source, kind, text, COALESCE(uid, '') "
			"FROM notifications WHERE id > ?1 AND delivered_ms IS NULL "
			"AND folded_into IS NULL AND NOT EXISTS (SELECT 1 FROM "
			"notification_deliveries d WHERE d.notification_id = notifications.id) "
			"ORDER BY id LIMIT 256",
	[NS_ADD_DELIVERY] = "INSERT OR IGNORE INTO notification_deliveries(notification_id, "
			    "sink, state, delivered_ms) VALUES (?1, ?2, ?3, ?4)",
	[NS_FOLD] = "UPDATE notifications SET folded_into = ?2 WHERE id = ?1",
	[NS_ROW_DONE] = "UPDATE notifications SET delivered_ms = ?2 WHERE id = ?1 AND "
			"delivered_ms IS NULL AND NOT EXISTS (SELECT 1 FROM "
			"notification_deliveries WHERE notification_id = ?1 AND state = "
			"'pending')",
	[NS_HEAD] = "SELECT d.notification_id, n.created_ms, n.severity, n.source, n.kind, n.text, "
		    "COALESCE(n.uid, ''), d.attempts FROM notification_deliveries d JOIN "
		    "notifications n ON n.id = d.notification_id WHERE d.sink = ?1 AND d.state = "
		    "'pending' ORDER BY d.notification_id LIMIT 1",
	[NS_MARK] = "UPDATE notification_deliveries SET state = ?3, delivered_ms = ?4, attempts = "
		    "attempts + 1, last_error = ?5 WHERE sink = ?1 AND notification_id = ?2",
	[NS_RETRY] = "UPDATE notification_deliveries SET attempts = ?3, next_attempt_ms = ?4, "
		     "last_error = ?5 WHERE sink = ?1 AND notification_id = ?2",
	[NS_ROW] = "SELECT text FROM notifications WHERE id = ?1",
	[NS_ORPHAN_FOLDS] =
		"SELECT folded_into, kind, COUNT(*), MAX(id), MAX(CASE severity WHEN 'critical' "
		"THEN 2 WHEN 'info' THEN 0 ELSE 1 END) FROM notifications n WHERE folded_into IS "
		"NOT NULL AND NOT EXISTS (SELECT 1 FROM notifications s WHERE s.uid LIKE 'storm:' "
		"|| n.folded_into || ':%') GROUP BY folded_into, kind",
	[NS_SINK_STATE] = "INSERT INTO notifier_sinks(sink, state, error, changed_ms) VALUES "
			  "(?1, ?2, ?3, ?4) ON CONFLICT(sink) DO UPDATE SET state = "
			  "excluded.state, error = excluded.error, changed_ms = "
			  "excluded.changed_ms",
	[NS_OFFSET_GET] =
		"SELECT update_offset FROM notifier_sinks WHERE sink = '" UPDATES_SINK "'",
	[NS_OFFSET_SET] = "INSERT INTO notifier_sinks(sink, state, changed_ms, update_offset) "
			  "VALUES ('" UPDATES_SINK "', 'polling', ?1, ?2) ON CONFLICT(sink) DO "
			  "UPDATE SET update_offset = excluded.update_offset, changed_ms = "
			  "excluded.changed_ms",
	[NS_PENDING_SINKS] = "SELECT DISTINCT sink FROM notification_deliveries WHERE state = "
			     "'pending'",
	[NS_SINK_DROP] = "UPDATE notification_deliveries SET state = 'failed', last_error = "
			 "'the sink is no longer configured' WHERE sink = ?1 AND state = 'pending'",
	[NS_ROWS_SETTLED] = "UPDATE notifications SET delivered_ms = ?1 WHERE delivered_ms IS NULL "
			    "AND EXISTS (SELECT 1 FROM notification_deliveries d WHERE "
			    "d.notification_id = notifications.id) AND NOT EXISTS (SELECT 1 FROM "
			    "notification_deliveries d WHERE d.notification_id = notifications.id "
			    "AND d.state = 'pending')",
};

static const char *const severity_words[] = {"info", "warning", "critical"};

static void orphan_storms(struct notifier *n);

int nob_open(struct notifier *n)
{
	const struct config *cfg = &n->w->cfg;

	n->db = db_open_worker(cfg->s.data_dir, db_busy_ms(cfg->s.supervisor.heartbeat_timeout_ms));
	if (!n->db || db_prepare_all(n->db, sql, n->st, NS_COUNT) < 0)
		return -1;
	orphan_storms(n);
	return 0;
}

void nob_close(struct notifier *n)
{
	db_finalize_all(n->st, NS_COUNT);
	sqlite3_close(n->db);
	n->db = NULL;
}

static const char *col(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	return t ? t : "";
}

static void read_item(sqlite3_stmt *st, struct notifier_item *it)
{
	memset(it, 0, sizeof(*it));
	it->id = sqlite3_column_int64(st, 0);
	it->created_ms = sqlite3_column_int64(st, 1);
	snprintf(it->severity, sizeof(it->severity), "%s", col(st, 2));
	snprintf(it->source, sizeof(it->source), "%s", col(st, 3));
	snprintf(it->kind, sizeof(it->kind), "%s", col(st, 4));
	snprintf(it->text, sizeof(it->text), "%s", col(st, 5));
	snprintf(it->uid, sizeof(it->uid), "%s", col(st, 6));
	it->count = 1;
	/* A storm summary says its count in its uid: storm:LEAD:COUNT. */
	if (strncmp(it->uid, "storm:", 6) == 0) {
		const char *c = strrchr(it->uid, ':');
		unsigned long long count = 0;

		if (c && sscanf(c + 1, "%llu", &count) == 1 && count > 1)
			it->count = count;
		/* Its kind is storm:KIND, so that counting KIND's rows stays true; shown as KIND. */
		if (strncmp(it->kind, "storm:", 6) == 0)
			memmove(it->kind, it->kind + 6, strlen(it->kind + 6) + 1);
	}
}

/* The sinks that already delivered the alert of this uid from memory (IPC_ALERT_TEXT). A sink
 * still sending the copy now sends row id: its answer marks the row. */
static unsigned delivered_from_memory(struct notifier *n, const char *uid, int64_t id)
{
	if (!uid[0])
		return 0;
	for (int i = 0; i < NOTIFIER_UID_RING; i++)
		if (strcmp(n->uids[i].uid, uid) == 0)
			return n->uids[i].done;
	for (int i = 0; i < n->nmem; i++)
		if (strcmp(n->mem[i].item.uid, uid) == 0) {
			unsigned done = n->mem[i].done;

			/* The row is stored now: it takes over from the copy in memory. */
			memmove(&n->mem[i], &n->mem[i + 1],
				(size_t)(n->nmem - i - 1) * sizeof(n->mem[0]));
			n->nmem--;
			for (int s = 0; s < n->nsinks; s++) {
				struct sink *k = &n->sinks[s];

				if (!k->busy || k->cur.id != 0)
					continue;
				if (k->cur.mem == i) {
					k->cur.id = id;
					k->cur.mem = -1;
				} else if (k->cur.mem > i) {
					k->cur.mem--;
				}
			}
			return done;
		}
	return 0;
}

static int add_delivery(struct notifier *n, int64_t id, const struct sink *s, const char *state,
			int64_t now)
{
	sqlite3_stmt *st = n->st[NS_ADD_DELIVERY];

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, s->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, state, -1, SQLITE_STATIC);
	if (strcmp(state, "pending") != 0)
		sqlite3_bind_int64(st, 4, now);
	return db_step_reset(st) == SQLITE_DONE ? 0 : -1;
}

static int row_done(struct notifier *n, int64_t id, int64_t now)
{
	sqlite3_bind_int64(n->st[NS_ROW_DONE], 1, id);
	sqlite3_bind_int64(n->st[NS_ROW_DONE], 2, now);
	return db_step_reset(n->st[NS_ROW_DONE]) == SQLITE_DONE ? 0 : -1;
}

/* One new row: its delivery rows (pending where it is routed, sent where the copy in memory
 * already went). A repeat in a storm goes to the log only, the complete record; the chat and
 * the webhook get the storm's summary instead, which the log skips. */
static int classify(struct notifier *n, const struct notifier_item *it, int64_t now)
{
	unsigned done = delivered_from_memory(n, it->uid, it->id);
	int summary = strncmp(it->uid, "storm:", 6) == 0;
	enum storm_verdict v = STORM_LEAD;

	if (!done && !summary)
		v = storm_admit(&n->storm, it->kind, notifier_severity(it->severity), it->id,
				it->created_ms);
	if (v == STORM_FOLD) {
		int64_t lead = 0;

		for (int i = 0; i < STORM_KINDS; i++)
			if (n->storm.k[i].window_end && n->storm.k[i].last_folded_id == it->id)
				lead = n->storm.k[i].lead_id;
		sqlite3_bind_int64(n->st[NS_FOLD], 1, it->id);
		sqlite3_bind_int64(n->st[NS_FOLD], 2, lead);
		n->folded++;
		if (db_step_reset(n->st[NS_FOLD]) != SQLITE_DONE)
			return -1;
	}
	for (int i = 0; i < n->nsinks; i++) {
		struct sink *s = &n->sinks[i];
		int to_log = s->type == SINK_LOG;
		const char *state = "pending";

		if (!notifier_routed(it->severity, s->min_severity))
			state = "skipped";
		else if (done & (1u << i))
			state = "sent";
		else if ((v == STORM_FOLD && !to_log) || (summary && to_log))
			state = "skipped";
		if (add_delivery(n, it->id, s, state, now) < 0)
			return -1;
	}
	return row_done(n, it->id, now);
}

int nob_ingest(struct notifier *n)
{
	sqlite3_stmt *st = n->st[NS_NEW_ROWS];
	struct notifier_item it;
	struct storm saved;
	int64_t now = clock_now_ms(), last = n->ingested;
	int rows, rc;
	char err[256];

	if (!n->db)
		return -1;
	/* Most pumps find nothing new: a read, without taking the write lock. */
	sqlite3_bind_int64(st, 1, last);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE)
		return 0;
	do {
		rows = 0;
		/* A failed batch leaves the storm filter as it was: the rows come again. */
		saved = n->storm;
		if (db_exec(n->db, "BEGIN IMMEDIATE") < 0)
			return -1;
		sqlite3_bind_int64(st, 1, last);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			read_item(st, &it);
			if (classify(n, &it, now) < 0)
				break;
			last = it.id;
			rows++;
		}
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if ((rc != SQLITE_DONE && rc != SQLITE_ROW) || rc == SQLITE_ROW ||
		    db_exec(n->db, "COMMIT") < 0) {
			db_rollback_keep_error(n->db, err, sizeof(err));
			n->storm = saved;
			log_warnx("outbox: cannot classify new alerts: %s", err);
			return -1;
		}
		n->ingested = last;
		n->rows_ingested += (uint64_t)rows;
	} while (rows == INGEST_BATCH);
	return 0;
}

/* A storm whose window ended: one summary row, for the sinks that did not get the repeats. */
static int write_summary(struct notifier *n, const struct storm_kind *k)
{
	char text[512], last[400] = "", uid[64], kind[STORM_KIND_LEN + 8];
	int64_t now = clock_now_ms(), id;

	sqlite3_bind_int64(n->st[NS_ROW], 1, k->last_folded_id);
	if (sqlite3_step(n->st[NS_ROW]) == SQLITE_ROW)
		snprintf(last, sizeof(last), "%s", col(n->st[NS_ROW], 0));
	sqlite3_reset(n->st[NS_ROW]);
	sqlite3_clear_bindings(n->st[NS_ROW]);
	snprintf(text, sizeof(text), notifier_phrase(n->locale, PH_STORM),
		 (unsigned long long)k->folded, (long long)(n->storm.window_ms / 1000));
	snprintf(text + strlen(text), sizeof(text) - strlen(text), " %s", last);
	snprintf(uid, sizeof(uid), "storm:%lld:%llu", (long long)k->lead_id,
		 (unsigned long long)k->folded);
	snprintf(kind, sizeof(kind), "storm:%s", k->kind);
	id = outbox_add_uid(n->db, now, "notifier", severity_words[k->worst], kind, text, uid);
	if (id < 0) {
		log_warnx("outbox: cannot store the summary of %llu repeats of %s: %s",
			  (unsigned long long)k->folded, k->kind, sqlite3_errmsg(n->db));
		return -1;
	}
	log_notice("storm: %llu repeats of %s folded into alert #%lld",
		   (unsigned long long)k->folded, k->kind, (long long)id);
	return 0;
}

void nob_storms(struct notifier *n)
{
	struct storm_kind k;
	int wrote = 0;

	while (n->db && storm_due(&n->storm, clock_now_ms(), &k)) {
		if (write_summary(n, &k) < 0) {
			/* The repeats stay folded in the table; the next start unfolds them. */
			continue;
		}
		wrote = 1;
	}
	if (wrote)
		nob_ingest(n);
}

/* Repeats folded by a notifier that died before their window ended: their summary now. */
static void orphan_storms(struct notifier *n)
{
	sqlite3_stmt *st = n->st[NS_ORPHAN_FOLDS];
	struct storm_kind k[16];
	int found = 0;

	while (found < 16 && sqlite3_step(st) == SQLITE_ROW) {
		memset(&k[found], 0, sizeof(k[found]));
		k[found].lead_id = sqlite3_column_int64(st, 0);
		snprintf(k[found].kind, sizeof(k[found].kind), "%s", col(st, 1));
		k[found].folded = (uint64_t)sqlite3_column_int64(st, 2);
		k[found].last_folded_id = sqlite3_column_int64(st, 3);
		k[found].worst = sqlite3_column_int(st, 4);
		found++;
	}
	sqlite3_reset(st);
	for (int i = 0; i < found; i++)
		write_summary(n, &k[i]);
}

int nob_head(struct notifier *n, struct sink *s, struct notifier_item *it)
{
	sqlite3_stmt *st = n->st[NS_HEAD];
	int rc;

	if (!n->db)
		return -1;
	sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_item(st, it);
		it->attempts = sqlite3_column_int(st, 7);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int nob_mark(struct notifier *n, struct sink *s, int64_t id, const char *state, const char *error)
{
	sqlite3_stmt *st = n->st[NS_MARK];
	int64_t now = clock_now_ms();
	char err[256];

	if (!n->db || db_exec(n->db, "BEGIN IMMEDIATE") < 0)
		return -1;
	sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_text(st, 3, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_text(st, 5, error ? error : "", -1, SQLITE_TRANSIENT);
	if (db_step_reset(st) != SQLITE_DONE || row_done(n, id, now) < 0 ||
	    db_exec(n->db, "COMMIT") < 0) {
		db_rollback_keep_error(n->db, err, sizeof(err));
		log_warnx("outbox: cannot mark alert #%lld %s for %s: %s", (long long)id, state,
			  s->name, err);
		return -1;
	}
	return 0;
}

void nob_note_retry(struct notifier *n, struct sink *s, int64_t id, int attempts, int64_t next_ms,
		    const char *error)
{
	sqlite3_stmt *st = n->st[NS_RETRY];

	if (!n->db)
		return;
	sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_int(st, 3, attempts);
	sqlite3_bind_int64(st, 4, next_ms);
	sqlite3_bind_text(st, 5, error, -1, SQLITE_TRANSIENT);
	db_step_reset(st); /* for tradectl alerts only: a refusal changes nothing */
}

void nob_sink_state(struct notifier *n, const char *sink, const char *state, const char *error)
{
	sqlite3_stmt *st = n->st[NS_SINK_STATE];

	if (!n->db)
		return;
	sqlite3_bind_text(st, 1, sink, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, error, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, clock_now_ms());
	db_step_reset(st);
}

int64_t nob_offset_get(struct notifier *n)
{
	int64_t off = 0;

	if (n->db && sqlite3_step(n->st[NS_OFFSET_GET]) == SQLITE_ROW)
		off = sqlite3_column_int64(n->st[NS_OFFSET_GET], 0);
	if (n->db)
		sqlite3_reset(n->st[NS_OFFSET_GET]);
	return off;
}

void nob_offset_set(struct notifier *n, int64_t offset)
{
	if (!n->db)
		return;
	sqlite3_bind_int64(n->st[NS_OFFSET_SET], 1, clock_now_ms());
	sqlite3_bind_int64(n->st[NS_OFFSET_SET], 2, offset);
	db_step_reset(n->st[NS_OFFSET_SET]);
}

/* By the config, not by the sinks built: a token that cannot be read leaves the chats
 * configured, their rows waiting for a fixed token (docs/architecture.md). */
static int sink_configured(const struct notifier *n, const char *name)
{
	const struct config_notifier *c = n->cfg;

	if (strcmp(name, "log") == 0)
		return 1;
	if (strcmp(name, "webhook") == 0)
		return c->webhook.url[0] != '\0';
	if (strncmp(name, "telegram:", 9) != 0 || !c->telegram.token_file[0])
		return 0;
	for (size_t i = 0; i < c->telegram.chat_ids.n; i++)
		if (strcmp(c->telegram.chat_ids.v[i], name + 9) == 0)
			return 1;
	return 0;
}

void nob_forget_removed_sinks(struct notifier *n)
{
	sqlite3_stmt *q;
	char gone[NOTIFIER_MAX_SINKS][64];
	int ngone = 0, rc = 0;
	char err[256];

	if (!n->db)
		return;
	q = n->st[NS_PENDING_SINKS];
	while (sqlite3_step(q) == SQLITE_ROW && ngone < NOTIFIER_MAX_SINKS) {
		const char *name = (const char *)sqlite3_column_text(q, 0);

		if (name && !sink_configured(n, name))
			snprintf(gone[ngone++], sizeof(gone[0]), "%s", name);
	}
	sqlite3_reset(q);
	if (ngone == 0)
		return;
	if (db_exec(n->db, "BEGIN IMMEDIATE") < 0)
		rc = -1;
	for (int i = 0; i < ngone && rc == 0; i++) {
		sqlite3_bind_text(n->st[NS_SINK_DROP], 1, gone[i], -1, SQLITE_STATIC);
		if (db_step_reset(n->st[NS_SINK_DROP]) != SQLITE_DONE)
			rc = -1;
		else
			log_warnx("%s: no longer configured: %d pending alerts not sent there",
				  gone[i], sqlite3_changes(n->db));
	}
	sqlite3_bind_int64(n->st[NS_ROWS_SETTLED], 1, clock_now_ms());
	if (rc == 0 && db_step_reset(n->st[NS_ROWS_SETTLED]) != SQLITE_DONE)
		rc = -1;
	if (rc == 0 && db_exec(n->db, "COMMIT") == 0)
		return;
	/* Nothing lost: the rows stay pending, tried again at the next start. */
	db_rollback_keep_error(n->db, err, sizeof(err));
	log_warnx("outbox: removed sinks not settled: %s", err);
}
