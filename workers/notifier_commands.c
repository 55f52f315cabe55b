/* What a configured Telegram chat may ask: /status, /positions and /pnl read SQLite; /pause and
 * /resume write trading_control, the kill switch the strategy re-reads before each entry. */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "workers/notifier.h"

static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Commands are rare: each prepares its statement, keeping the table of hot statements small. */
static void cmd_pause(struct notifier *n, const char *chat, int pause, char *out, size_t len)
{
	sqlite3_stmt *st;
	char by[64], reason[96];
	int64_t paused = -1;

	if (query_int(n->db, "SELECT paused FROM trading_control WHERE id = 1", &paused) == 0 &&
	    paused == pause) {
		snprintf(out, len, "%s",
			 notifier_phrase(n->locale, pause ? PH_ALREADY_PAUSED : PH_NOT_PAUSED));
		return;
	}
	snprintf(by, sizeof(by), "telegram:%s", chat);
	snprintf(reason, sizeof(reason), "%s from Telegram", pause ? "/pause" : "/resume");
	if (sqlite3_prepare_v2(n->db,
			       "UPDATE trading_control SET paused = ?1, reason = ?2, changed_ms = "
			       "?3, changed_by = ?4 WHERE id = 1",
			       -1, &st, NULL) != SQLITE_OK) {
		snprintf(out, len, "%s", notifier_phrase(n->locale, PH_FAILED));
		return;
	}
	sqlite3_bind_int(st, 1, pause);
	sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, clock_now_ms());
	sqlite3_bind_text(st, 4, by, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(n->db) != 1) {
		log_warnx("telegram: %s refused: %s", reason, sqlite3_errmsg(n->db));
		snprintf(out, len, "%s", notifier_phrase(n->locale, PH_FAILED));
	} else {
		log_notice("trading %s by %s", pause ? "paused" : "resumed", by);
		snprintf(out, len, "%s",
			 notifier_phrase(n->locale, pause ? PH_PAUSED : PH_RESUMED));
	}
	sqlite3_finalize(st);
}

static void cmd_status(struct notifier *n, char *out, size_t len)
{
	int64_t paused = 0, positions = 0, undelivered = 0;

	query_int(n->db, "SELECT paused FROM trading_control WHERE id = 1", &paused);
	query_int(n->db, "SELECT COUNT(*) FROM positions WHERE volume_e8 != 0", &positions);
	query_int(n->db, "SELECT COUNT(*) FROM notifications WHERE delivered_ms IS NULL",
		  &undelivered);
	snprintf(out, len, notifier_phrase(n->locale, PH_STATUS),
		 config_mode_name(n->w->cfg.s.mode),
		 notifier_phrase(n->locale, paused ? PH_TRADING_PAUSED : PH_TRADING_RUNNING),
		 (int)positions, (int)undelivered);
}

static void cmd_positions(struct notifier *n, char *out, size_t len)
{
	sqlite3_stmt *st;
	size_t used = 0;
	int rows = 0;

	out[0] = '\0';
	if (sqlite3_prepare_v2(n->db,
			       "SELECT market, volume_e8, cost_e8 FROM positions WHERE volume_e8 "
			       "!= 0 ORDER BY market",
			       -1, &st, NULL) != SQLITE_OK) {
		snprintf(out, len, "%s", notifier_phrase(n->locale, PH_FAILED));
		return;
	}
	used = (size_t)snprintf(out, len, "%s", notifier_phrase(n->locale, PH_POSITIONS));
	while (sqlite3_step(st) == SQLITE_ROW && used + 1 < len) {
		char vol[48], cost[48];

		notifier_format_volume(sqlite3_column_int64(st, 1), vol, sizeof(vol));
		notifier_format_krw(sqlite3_column_int64(st, 2), n->locale, cost, sizeof(cost));
		used += (size_t)snprintf(out + used, len - used, "\n%s %s (%s)",
					 (const char *)sqlite3_column_text(st, 0), vol, cost);
		rows++;
	}
	sqlite3_finalize(st);
	if (!rows)
		snprintf(out, len, "%s", notifier_phrase(n->locale, PH_NO_POSITIONS));
}

static void cmd_pnl(struct notifier *n, char *out, size_t len)
{
	sqlite3_stmt *st;
	int64_t now = clock_now_ms(), y;
	unsigned m, d;
	char day[16], realized[48], fees[48];
	int64_t r = 0, f = 0, count = 0;

	/* fills.day is the UTC date (order-execution, status_report.c): Upbit's trading day
	 * starts at 09:00 in Seoul, 00:00 UTC. */
	clock_civil_from_days(now >= 0 ? now / 86400000 : (now - 86399999) / 86400000, &y, &m, &d);
	snprintf(day, sizeof(day), "%04lld-%02u-%02u", (long long)y, m, d);
	if (sqlite3_prepare_v2(n->db,
			       "SELECT COALESCE(SUM(realized_e8), 0), COALESCE(SUM(fee_e8), 0), "
			       "COUNT(*) FROM fills WHERE day = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		snprintf(out, len, "%s", notifier_phrase(n->locale, PH_FAILED));
		return;
	}
	sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		r = sqlite3_column_int64(st, 0);
		f = sqlite3_column_int64(st, 1);
		count = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	notifier_format_krw(r, n->locale, realized, sizeof(realized));
	notifier_format_krw(f, n->locale, fees, sizeof(fees));
	snprintf(out, len, notifier_phrase(n->locale, PH_PNL), day, realized, fees, (int)count);
}

/* /status goes on with the supervisor's process table; without a free slot or a link to it,
 * the SQLite part is the answer. */
static void ask_supervisor(struct notifier *n, const char *chat_id, char *out)
{
	for (size_t i = 0; i < sizeof(n->asks) / sizeof(n->asks[0]); i++) {
		if (n->asks[i].id)
			continue;
		n->asks[i].id = ++n->ask_seq;
		snprintf(n->asks[i].chat_id, sizeof(n->asks[i].chat_id), "%s", chat_id);
		snprintf(n->asks[i].text, sizeof(n->asks[i].text), "%s", out);
		if (worker_send(n->w, IPC_PROCS_REQ, &n->asks[i].id, sizeof(uint64_t)) < 0) {
			n->asks[i].id = 0;
			return;
		}
		out[0] = '\0';
		return;
	}
}

void notifier_procs(struct notifier *n, const void *payload, uint32_t len)
{
	char reply[IPC_PROCS_TEXT_MAX + 600];
	uint64_t id;

	memcpy(&id, payload, sizeof(id));
	for (size_t i = 0; i < sizeof(n->asks) / sizeof(n->asks[0]); i++) {
		if (n->asks[i].id != id)
			continue;
		snprintf(reply, sizeof(reply), "%s\n%.*s", n->asks[i].text, (int)(len - sizeof(id)),
			 (const char *)payload + sizeof(id));
		tg_reply(n, n->asks[i].chat_id, reply);
		n->asks[i].id = 0;
		return;
	}
}

void notifier_command(struct notifier *n, const char *chat_id, const char *text, char *out,
		      size_t len)
{
	char word[32];
	size_t k = 0;

	/* "/pause@tradingd_bot now" is /pause. */
	while (text[k] && text[k] != ' ' && text[k] != '@' && text[k] != '\n' &&
	       k + 1 < sizeof(word)) {
		word[k] = text[k];
		k++;
	}
	word[k] = '\0';
	log_info("telegram: %s from chat %s", word[0] == '/' ? word : "(text)", chat_id);
	if (!n->db)
		snprintf(out, len, "%s", notifier_phrase(n->locale, PH_FAILED));
	else if (strcmp(word, "/pause") == 0)
		cmd_pause(n, chat_id, 1, out, len);
	else if (strcmp(word, "/resume") == 0)
		cmd_pause(n, chat_id, 0, out, len);
	else if (strcmp(word, "/status") == 0) {
		cmd_status(n, out, len);
		ask_supervisor(n, chat_id, out);
	} else if (strcmp(word, "/positions") == 0)
		cmd_positions(n, out, len);
	else if (strcmp(word, "/pnl") == 0)
		cmd_pnl(n, out, len);
	else
		snprintf(out, len, "%s", notifier_phrase(n->locale, PH_HELP));
}
