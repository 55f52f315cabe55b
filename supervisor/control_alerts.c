/* tradectl alerts: the delivery sinks with their state and backlog, the alerts not yet
 * delivered, and the recent ones with their state per sink; `alerts send` queues a test alert. */
#include <stdio.h>
#include <string.h>

#include "common/outbox.h"
#include "supervisor/control.h"

#define RECENT_ALERTS 20
#define ALERT_TEXT_MAX 400

static json_t *sinks_json(sqlite3 *db)
{
	json_t *sinks = json_array();
	sqlite3_stmt *st;

	/* Every sink the notifier registered, and any that still owes deliveries. */
	if (sqlite3_prepare_v2(
		    db,
		    "WITH names AS (SELECT sink FROM notifier_sinks WHERE sink != "
		    "'telegram-updates' UNION SELECT DISTINCT sink FROM notification_deliveries) "
		    "SELECT names.sink, COALESCE(s.state, 'unknown'), COALESCE(s.error, ''), "
		    "(SELECT COUNT(*) FROM notification_deliveries d WHERE d.sink = names.sink "
		    "AND d.state = 'pending'), (SELECT COUNT(*) FROM notification_deliveries d "
		    "WHERE d.sink = names.sink AND d.state = 'sent'), (SELECT COUNT(*) FROM "
		    "notification_deliveries d WHERE d.sink = names.sink AND d.state = 'failed') "
		    "FROM names LEFT JOIN notifier_sinks s ON s.sink = names.sink ORDER BY 1",
		    -1, &st, NULL) != SQLITE_OK)
		return sinks;
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(sinks,
				      json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "sink",
						(const char *)sqlite3_column_text(st, 0), "state",
						(const char *)sqlite3_column_text(st, 1), "error",
						(const char *)sqlite3_column_text(st, 2), "pending",
						(json_int_t)sqlite3_column_int64(st, 3), "sent",
						(json_int_t)sqlite3_column_int64(st, 4), "failed",
						(json_int_t)sqlite3_column_int64(st, 5)));
	sqlite3_finalize(st);
	return sinks;
}

static json_t *deliveries_json(sqlite3 *db, sqlite3_int64 id)
{
	json_t *out = json_object();
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db,
			       "SELECT sink, state, attempts, last_error FROM "
			       "notification_deliveries WHERE notification_id = ?1 ORDER BY sink",
			       -1, &st, NULL) != SQLITE_OK)
		return out;
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_object_set_new(out, (const char *)sqlite3_column_text(st, 0),
				    json_pack("{s:s, s:i, s:s}", "state",
					      (const char *)sqlite3_column_text(st, 1), "attempts",
					      sqlite3_column_int(st, 2), "error",
					      (const char *)sqlite3_column_text(st, 3)));
	sqlite3_finalize(st);
	return out;
}

/* The undelivered first (open), then the most recent, newest first. */
static json_t *alerts_json(sqlite3 *db, const char *where, int limit)
{
	json_t *out = json_array();
	sqlite3_stmt *st;
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "SELECT id, created_ms, severity, source, kind, text, delivered_ms, folded_into "
		 "FROM notifications %s ORDER BY id DESC LIMIT %d",
		 where, limit);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		sqlite3_int64 id = sqlite3_column_int64(st, 0);
		json_t *a = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:o}", "id", (json_int_t)id,
				      "created_ms", (json_int_t)sqlite3_column_int64(st, 1),
				      "severity", (const char *)sqlite3_column_text(st, 2),
				      "source", (const char *)sqlite3_column_text(st, 3), "kind",
				      (const char *)sqlite3_column_text(st, 4), "text",
				      (const char *)sqlite3_column_text(st, 5), "deliveries",
				      deliveries_json(db, id));

		json_object_set_new(a, "delivered_ms",
				    sqlite3_column_type(st, 6) == SQLITE_NULL
					    ? json_null()
					    : json_integer(sqlite3_column_int64(st, 6)));
		if (sqlite3_column_type(st, 7) != SQLITE_NULL)
			json_object_set_new(a, "folded_into",
					    json_integer(sqlite3_column_int64(st, 7)));
		json_array_append_new(out, a);
	}
	sqlite3_finalize(st);
	return out;
}

static json_t *alerts_send(struct supervisor *sup, json_t *args)
{
	const char *severity = json_string_value(json_array_get(args, 1));
	const char *kind = json_string_value(json_array_get(args, 2));
	char text[ALERT_TEXT_MAX + 1] = "";
	size_t used = 0;

	if (json_array_size(args) < 4 || !severity || !kind)
		return control_fail("usage: %s", "alerts send SEVERITY KIND TEXT...");
	if (strcmp(severity, OUTBOX_INFO) != 0 && strcmp(severity, OUTBOX_WARNING) != 0 &&
	    strcmp(severity, OUTBOX_CRITICAL) != 0)
		return control_fail("severity must be info, warning or critical, not %s", severity);
	if (kind[0] == '\0' || strlen(kind) > 40 ||
	    strspn(kind, "abcdefghijklmnopqrstuvwxyz"
			 "0123456789_-.") != strlen(kind))
		return control_fail("kind must be 1 to 40 of a-z 0-9 _ - . , not %s", kind);
	for (size_t i = 3; i < json_array_size(args); i++) {
		const char *word = json_string_value(json_array_get(args, i));
		int w;

		if (!word)
			return control_fail("malformed request: %s", "a TEXT word is no string");
		w = snprintf(text + used, sizeof(text) - used, "%s%s", used ? " " : "", word);
		if (w < 0 || (size_t)w >= sizeof(text) - used)
			return control_fail("the text is longer than %s bytes", "400");
		used += (size_t)w;
	}
	supervisor_alert(sup, severity, kind, "%s", text);
	return json_pack("{s:b, s:s}", "ok", 1, "result", "alert queued");
}

json_t *control_alerts(struct supervisor *sup, json_t *args)
{
	const char *sub = json_string_value(json_array_get(args, 0));

	if (sub && strcmp(sub, "send") == 0)
		return alerts_send(sup, args);
	if (sub)
		return control_fail("alerts: unknown subcommand %s (none, or send)", sub);
	if (!sup->db)
		return control_fail("alerts: %s", "no database");
	return json_pack("{s:b, s:o, s:o, s:o}", "ok", 1, "sinks", sinks_json(sup->db), "open",
			 alerts_json(sup->db, "WHERE delivered_ms IS NULL", 100), "recent",
			 alerts_json(sup->db, "", RECENT_ALERTS));
}
