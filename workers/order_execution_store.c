/* Order-execution's database side: the instance id, intents and attempts, orders, fills with
 * their position change in one transaction, balances. Every state change is committed before
 * anything is sent that depends on it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "workers/order_execution.h"

static const char *const sql[ST_COUNT] = {
	/* Unknown outcomes first (nothing new goes out while one is unresolved), then open
	 * orders, then new work, oldest first. */
	[ST_ACTIVE] = "SELECT id FROM order_intents WHERE state IN ('pending', 'sending', "
		      "'unknown', 'open') ORDER BY CASE state WHEN 'pending' THEN 2 WHEN 'open' "
		      "THEN 1 ELSE 0 END, id",
	[ST_INTENT] = "SELECT market, side, ord_type, price_e8, volume_e8, funds_e8, state, "
		      "attempts, created_ms FROM order_intents WHERE id = ?",
	[ST_LAST_ATTEMPT] = "SELECT attempt, identifier, state FROM order_attempts WHERE "
			    "intent_id = ? ORDER BY attempt DESC LIMIT 1",
	[ST_ATTEMPT_INSERT] = "INSERT INTO order_attempts(intent_id, attempt, identifier, state, "
			      "sent_ms) VALUES(?, ?, ?, 'sending', ?)",
	[ST_ATTEMPT_RESOLVE] = "UPDATE order_attempts SET state = ?, order_uuid = ?, error = ?, "
			       "resolved_ms = ? WHERE intent_id = ? AND attempt = ?",
	[ST_INTENT_STATE] = "UPDATE order_intents SET state = ?, reason = ?, updated_ms = ? "
			    "WHERE id = ?",
	[ST_INTENT_SENDING] = "UPDATE order_intents SET state = 'sending', attempts = ?, "
			      "updated_ms = ? WHERE id = ?",
	[ST_ORDER_INSERT] = "INSERT OR IGNORE INTO orders(uuid, intent_id, identifier, market, "
			    "side, ord_type, price_e8, volume_e8, state, created_ms, updated_ms) "
			    "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_ORDER_OPEN_OF_INTENT] = "SELECT uuid, ord_type, created_ms FROM orders WHERE "
				    "intent_id = ? AND done_ms IS NULL ORDER BY created_ms DESC "
				    "LIMIT 1",
	[ST_ORDER_UPDATE] = "UPDATE orders SET state = ?, executed_volume_e8 = ?, paid_fee_e8 = "
			    "?, updated_ms = ?, done_ms = ? WHERE uuid = ?",
	[ST_FILL_INSERT] = "INSERT OR IGNORE INTO fills(trade_uuid, order_uuid, market, side, "
			   "price_e8, volume_e8, funds_e8, fee_e8, realized_e8, trade_ms, day, "
			   "recorded_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_FILL_FEES_OF_ORDER] = "SELECT coalesce(sum(fee_e8), 0), coalesce(sum(volume_e8), 0), "
				  "count(*) FROM fills WHERE order_uuid = ?",
	[ST_POSITION_GET] = "SELECT volume_e8, cost_e8, realized_e8, fees_e8 FROM positions "
			    "WHERE market = ?",
	[ST_POSITION_PUT] =
		"INSERT INTO positions(market, volume_e8, cost_e8, realized_e8, "
		"fees_e8, updated_ms) VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(market) DO "
		"UPDATE SET volume_e8 = excluded.volume_e8, cost_e8 = excluded.cost_e8, "
		"realized_e8 = excluded.realized_e8, fees_e8 = excluded.fees_e8, "
		"updated_ms = excluded.updated_ms",
	[ST_BALANCE_PUT] = "INSERT INTO balances(currency, balance_e8, locked_e8, "
			   "avg_buy_price_e8, checked_ms) VALUES(?, ?, ?, ?, ?) ON "
			   "CONFLICT(currency) DO UPDATE SET balance_e8 = excluded.balance_e8, "
			   "locked_e8 = excluded.locked_e8, avg_buy_price_e8 = "
			   "excluded.avg_buy_price_e8, checked_ms = excluded.checked_ms",
	[ST_POSITIONS_ALL] = "SELECT market, volume_e8 FROM positions",
	[ST_OPEN_ORDERS] = "SELECT count(*) FROM order_intents WHERE state IN ('sending', "
			   "'unknown', 'open')",
};

int oe_store_open(struct oe *oe)
{
	return db_prepare_all(oe->db, sql, oe->st, ST_COUNT);
}

void oe_store_close(struct oe *oe)
{
	db_finalize_all(oe->st, ST_COUNT);
}

int oe_begin(struct oe *oe)
{
	return db_exec(oe->db, "BEGIN IMMEDIATE");
}

int oe_commit(struct oe *oe)
{
	if (db_exec(oe->db, "COMMIT") < 0) {
		oe_rollback(oe, "commit");
		return -1;
	}
	return 0;
}

void oe_rollback(struct oe *oe, const char *what)
{
	char msg[256];

	db_rollback_keep_error(oe->db, msg, sizeof(msg));
	log_warnx("db: %s not stored: %s (tried again at the next scan)", what, msg);
}

/* The instance id is drawn once, at the first start on a database, inside one transaction. */
int oe_load_instance(struct oe *oe)
{
	sqlite3_stmt *q;
	char fresh[OE_INSTANCE_LEN];
	int rc = -1;

	if (oe_instance_new(fresh) < 0) {
		log_err("getrandom");
		return -1;
	}
	if (sqlite3_prepare_v2(oe->db,
			       "INSERT INTO exec_instance(id, instance, created_ms) VALUES(1, ?, "
			       "?) ON CONFLICT(id) DO UPDATE SET id = id RETURNING instance",
			       -1, &q, NULL) != SQLITE_OK) {
		log_errx("db: %s", sqlite3_errmsg(oe->db));
		return -1;
	}
	sqlite3_bind_text(q, 1, fresh, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, clock_now_ms());
	if (sqlite3_step(q) == SQLITE_ROW &&
	    strlen((const char *)sqlite3_column_text(q, 0)) < sizeof(oe->instance)) {
		snprintf(oe->instance, sizeof(oe->instance), "%s", sqlite3_column_text(q, 0));
		rc = 0;
	} else {
		log_errx("db: cannot read the order instance id: %s", sqlite3_errmsg(oe->db));
	}
	sqlite3_finalize(q);
	return rc;
}

/* The exchange said an identifier of ours was used before this database knew it (a restored
 * backup): a new instance makes every identifier from now on new. */
int oe_rotate_instance(struct oe *oe)
{
	sqlite3_stmt *q;
	char fresh[OE_INSTANCE_LEN];
	int rc;

	if (oe_instance_new(fresh) < 0)
		return -1;
	if (sqlite3_prepare_v2(oe->db, "UPDATE exec_instance SET instance = ? WHERE id = 1", -1, &q,
			       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, fresh, -1, SQLITE_STATIC);
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(q);
	if (rc == 0)
		memcpy(oe->instance, fresh, sizeof(fresh));
	return rc;
}

static void copy_col(sqlite3_stmt *q, int col, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	snprintf(buf, len, "%s", t ? (const char *)t : "");
}

int oe_intent_load(struct oe *oe, int64_t id, struct oe_intent *it)
{
	sqlite3_stmt *q = oe->st[ST_INTENT];
	int rc;

	memset(it, 0, sizeof(*it));
	it->id = id;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		copy_col(q, 0, it->market, sizeof(it->market));
		copy_col(q, 1, it->side, sizeof(it->side));
		copy_col(q, 2, it->ord_type, sizeof(it->ord_type));
		it->has_price = sqlite3_column_type(q, 3) != SQLITE_NULL;
		it->price = sqlite3_column_int64(q, 3);
		it->has_volume = sqlite3_column_type(q, 4) != SQLITE_NULL;
		it->volume = sqlite3_column_int64(q, 4);
		it->has_funds = sqlite3_column_type(q, 5) != SQLITE_NULL;
		it->funds = sqlite3_column_int64(q, 5);
		copy_col(q, 6, it->state, sizeof(it->state));
		it->attempts = sqlite3_column_int(q, 7);
		it->created_ms = sqlite3_column_int64(q, 8);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_ROW ? 0 : -1;
}

int oe_set_intent(struct oe *oe, int64_t id, const char *state, const char *reason)
{
	sqlite3_stmt *q = oe->st[ST_INTENT_STATE];

	sqlite3_bind_text(q, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, reason ? reason : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 3, clock_now_ms());
	sqlite3_bind_int64(q, 4, id);
	return db_step_reset(q) == SQLITE_DONE ? 0 : -1;
}

int oe_last_attempt(struct oe *oe, int64_t intent_id, int *attempt, char *ident, size_t len,
		    char *state, size_t slen)
{
	sqlite3_stmt *q = oe->st[ST_LAST_ATTEMPT];
	int rc;

	sqlite3_bind_int64(q, 1, intent_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*attempt = sqlite3_column_int(q, 0);
		copy_col(q, 1, ident, len);
		copy_col(q, 2, state, slen);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_ROW ? 0 : -1;
}

void oe_attempt_info(struct oe *oe, int64_t intent_id, int attempt, int64_t *sent_ms, char *note,
		     size_t len)
{
	sqlite3_stmt *q;

	*sent_ms = 0;
	note[0] = '\0';
	if (sqlite3_prepare_v2(oe->db,
			       "SELECT sent_ms, error FROM order_attempts WHERE intent_id = ? AND "
			       "attempt = ?",
			       -1, &q, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(q, 1, intent_id);
	sqlite3_bind_int(q, 2, attempt);
	if (sqlite3_step(q) == SQLITE_ROW) {
		*sent_ms = sqlite3_column_int64(q, 0);
		copy_col(q, 1, note, len);
	}
	sqlite3_finalize(q);
}

int64_t oe_attempts_turned_down(struct oe *oe, int64_t intent_id, const char *never_note)
{
	sqlite3_stmt *q;
	int64_t n = 0;

	if (sqlite3_prepare_v2(
		    oe->db,
		    "SELECT count(*) FROM order_attempts WHERE intent_id = ? AND state = "
		    "'absent' AND error <> ?",
		    -1, &q, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(q, 1, intent_id);
	sqlite3_bind_text(q, 2, never_note, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

int oe_attempt_note(struct oe *oe, int64_t intent_id, int attempt, const char *note)
{
	sqlite3_stmt *q;
	int rc;

	if (oe_begin(oe) < 0)
		return -1;
	if (sqlite3_prepare_v2(
		    oe->db,
		    "UPDATE order_attempts SET error = ? WHERE intent_id = ? AND attempt "
		    "= ? AND state = 'sending'",
		    -1, &q, NULL) != SQLITE_OK) {
		oe_rollback(oe, "attempt note");
		return -1;
	}
	sqlite3_bind_text(q, 1, note, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, intent_id);
	sqlite3_bind_int(q, 3, attempt);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE || oe_set_intent(oe, intent_id, "unknown", NULL) < 0) {
		oe_rollback(oe, "attempt note");
		return -1;
	}
	return oe_commit(oe);
}

/* The attempt and the intent's state in one committed transaction (synchronous=FULL): after
 * this, a crash leaves 'sending', which the next start resolves by identifier. */
int oe_mark_sending(struct oe *oe, const struct oe_intent *it, int attempt, const char *ident)
{
	sqlite3_stmt *a = oe->st[ST_ATTEMPT_INSERT], *s = oe->st[ST_INTENT_SENDING];
	int64_t now = clock_now_ms();

	if (oe_begin(oe) < 0)
		return -1;
	sqlite3_bind_int64(a, 1, it->id);
	sqlite3_bind_int(a, 2, attempt);
	sqlite3_bind_text(a, 3, ident, -1, SQLITE_STATIC);
	sqlite3_bind_int64(a, 4, now);
	sqlite3_bind_int(s, 1, attempt);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_int64(s, 3, it->id);
	if (db_step_reset(a) != SQLITE_DONE || db_step_reset(s) != SQLITE_DONE) {
		oe_rollback(oe, "attempt");
		return -1;
	}
	return oe_commit(oe);
}

int oe_resolve_attempt(struct oe *oe, int64_t intent_id, int attempt, const char *state,
		       const char *order_uuid, const char *error)
{
	sqlite3_stmt *q = oe->st[ST_ATTEMPT_RESOLVE];

	sqlite3_bind_text(q, 1, state, -1, SQLITE_STATIC);
	if (order_uuid)
		sqlite3_bind_text(q, 2, order_uuid, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(q, 2);
	sqlite3_bind_text(q, 3, error ? error : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 4, clock_now_ms());
	sqlite3_bind_int64(q, 5, intent_id);
	sqlite3_bind_int(q, 6, attempt);
	return db_step_reset(q) == SQLITE_DONE ? 0 : -1;
}

static int bind_dec(sqlite3_stmt *q, int col, const struct upbit_dec *d)
{
	dec8 v;

	if (d->present && dec8_parse(d->text, &v) == 0)
		return sqlite3_bind_int64(q, col, v);
	return sqlite3_bind_null(q, col);
}

static dec8 dec_or_zero(const struct upbit_dec *d)
{
	dec8 v;

	return d->present && dec8_parse(d->text, &v) == 0 ? v : 0;
}

int oe_record_order(struct oe *oe, const struct oe_intent *it, int attempt,
		    const struct upbit_order *o)
{
	sqlite3_stmt *q = oe->st[ST_ORDER_INSERT];
	int64_t now = clock_now_ms();

	if (oe_begin(oe) < 0)
		return -1;
	sqlite3_bind_text(q, 1, o->uuid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, it->id);
	sqlite3_bind_text(q, 3, o->identifier, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, it->market, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, it->side, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, it->ord_type, -1, SQLITE_STATIC);
	bind_dec(q, 7, &o->price);
	bind_dec(q, 8, &o->volume);
	sqlite3_bind_text(q, 9, o->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 10, o->created_ms ? o->created_ms : now);
	sqlite3_bind_int64(q, 11, now);
	if (db_step_reset(q) != SQLITE_DONE ||
	    oe_resolve_attempt(oe, it->id, attempt, "placed", o->uuid, NULL) < 0 ||
	    oe_set_intent(oe, it->id, "open", NULL) < 0) {
		oe_rollback(oe, "order");
		return -1;
	}
	return oe_commit(oe);
}

static int position_get(struct oe *oe, const char *market, struct oe_position *p)
{
	sqlite3_stmt *q = oe->st[ST_POSITION_GET];
	int rc;

	memset(p, 0, sizeof(*p));
	sqlite3_bind_text(q, 1, market, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		p->volume = sqlite3_column_int64(q, 0);
		p->cost = sqlite3_column_int64(q, 1);
		p->realized = sqlite3_column_int64(q, 2);
		p->fees = sqlite3_column_int64(q, 3);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int position_put(struct oe *oe, const char *market, const struct oe_position *p)
{
	sqlite3_stmt *q = oe->st[ST_POSITION_PUT];

	sqlite3_bind_text(q, 1, market, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, p->volume);
	sqlite3_bind_int64(q, 3, p->cost);
	sqlite3_bind_int64(q, 4, p->realized);
	sqlite3_bind_int64(q, 5, p->fees);
	sqlite3_bind_int64(q, 6, clock_now_ms());
	return db_step_reset(q) == SQLITE_DONE ? 0 : -1;
}

static int order_update(struct oe *oe, const char *uuid, const char *state, dec8 executed,
			dec8 fees, int64_t done_ms)
{
	sqlite3_stmt *q = oe->st[ST_ORDER_UPDATE];

	sqlite3_bind_text(q, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, executed);
	sqlite3_bind_int64(q, 3, fees);
	sqlite3_bind_int64(q, 4, clock_now_ms());
	if (done_ms)
		sqlite3_bind_int64(q, 5, done_ms);
	else
		sqlite3_bind_null(q, 5);
	sqlite3_bind_text(q, 6, uuid, -1, SQLITE_STATIC);
	return db_step_reset(q) == SQLITE_DONE ? 0 : -1;
}

static int recorded_of_order(struct oe *oe, const char *uuid, dec8 *fees, dec8 *volume,
			     int64_t *count)
{
	sqlite3_stmt *q = oe->st[ST_FILL_FEES_OF_ORDER];
	int rc;

	sqlite3_bind_text(q, 1, uuid, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*fees = sqlite3_column_int64(q, 0);
		*volume = sqlite3_column_int64(q, 1);
		*count = sqlite3_column_int64(q, 2);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int trade_recorded(struct oe *oe, const char *trade_uuid)
{
	sqlite3_stmt *q;
	int found;

	if (sqlite3_prepare_v3(oe->db, "SELECT 1 FROM fills WHERE trade_uuid = ?", -1, 0, &q,
			       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, trade_uuid, -1, SQLITE_STATIC);
	found = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	return found;
}

/* One trade: the fill row, the position, the order's totals and the notification in one
 * transaction; IPC after the commit. */
static int record_trade(struct oe *oe, int64_t intent_id, const struct upbit_order *o,
			const struct upbit_trade *t, dec8 fee, dec8 *rec_fees, dec8 *rec_volume)
{
	sqlite3_stmt *q = oe->st[ST_FILL_INSERT];
	struct oe_position p;
	struct oe_trade_effect eff;
	dec8 price, volume, funds;
	int64_t now = clock_now_ms(), when = t->created_ms ? t->created_ms : now, nid;
	char day[32], text[320], vb[DEC8_BUF];
	char pb[DEC8_GROUPED_BUF], fb[DEC8_GROUPED_BUF], rb[DEC8_GROUPED_BUF];
	int is_bid = strcmp(o->side, "bid") == 0;

	if (dec8_parse(t->price.text, &price) < 0 || dec8_parse(t->volume.text, &volume) < 0 ||
	    dec8_parse(t->funds.text, &funds) < 0) {
		oe_alert(oe, OUTBOX_WARNING, "fill_invalid",
			 "order %s: trade %s has amounts that are not 8-place decimals: not "
			 "recorded",
			 o->uuid, t->uuid);
		return -1;
	}
	clock_format(when, 0, day, sizeof(day));
	day[10] = '\0';
	if (oe_begin(oe) < 0)
		return -1;
	if (position_get(oe, o->market, &p) < 0 ||
	    oe_position_apply(&p, is_bid, volume, funds, fee, &eff) < 0)
		goto fail;
	sqlite3_bind_text(q, 1, t->uuid, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, o->uuid, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, o->market, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, o->side, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, price);
	sqlite3_bind_int64(q, 6, volume);
	sqlite3_bind_int64(q, 7, funds);
	sqlite3_bind_int64(q, 8, fee);
	sqlite3_bind_int64(q, 9, eff.realized);
	sqlite3_bind_int64(q, 10, when);
	sqlite3_bind_text(q, 11, day, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 12, now);
	if (db_step_reset(q) != SQLITE_DONE || sqlite3_changes(oe->db) != 1 ||
	    position_put(oe, o->market, &p) < 0 ||
	    order_update(oe, o->uuid, o->state, *rec_volume + volume, *rec_fees + fee, 0) < 0)
		goto fail;
	/* The alert is read by people (Telegram): KRW amounts grouped by thousands, exact. */
	dec8_format_grouped(price, pb);
	dec8_format(volume, vb);
	dec8_format_grouped(fee, fb);
	dec8_format_grouped(eff.realized, rb);
	snprintf(text, sizeof(text), "fill: %s %s %s at %s KRW (fee %s KRW%s%s%s) intent %" PRId64,
		 o->market, is_bid ? "bought" : "sold", vb, pb, fb, is_bid ? "" : ", realised ",
		 is_bid ? "" : rb, is_bid ? "" : " KRW", intent_id);
	nid = outbox_add(oe->db, now, role_name(oe->w->role), OUTBOX_INFO, "fill", text);
	if (nid < 0)
		goto fail;
	if (oe_commit(oe) < 0)
		return -1;
	*rec_volume += volume;
	*rec_fees += fee;
	oe->fills++;
	log_notice("%s", text);
	oe_sent_alert(oe, nid);
	oe_sent_fill(oe, o->market, intent_id);
	return 0;
fail:
	oe_rollback(oe, "fill");
	return -1;
}

int oe_record_fills(struct oe *oe, int64_t intent_id, const struct upbit_order *o)
{
	dec8 rec_fees = 0, rec_volume = 0, paid = dec_or_zero(&o->paid_fee);
	dec8 executed = dec_or_zero(&o->executed_volume), *funds, *fees;
	const struct upbit_trade **fresh;
	int64_t count = 0;
	size_t n = 0, cap = o->n_trades ? o->n_trades : 1;
	int over = strcmp(o->state, "done") == 0 || strcmp(o->state, "cancel") == 0, rc = 0;

	if (recorded_of_order(oe, o->uuid, &rec_fees, &rec_volume, &count) < 0)
		return -1;
	funds = calloc(cap, sizeof(*funds));
	fees = calloc(cap, sizeof(*fees));
	fresh = calloc(cap, sizeof(*fresh));
	if (!funds || !fees || !fresh) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < o->n_trades; i++) {
		int r = trade_recorded(oe, o->trades[i].uuid);

		if (r < 0) {
			rc = -1;
			goto out;
		}
		if (r == 0) {
			if (dec8_parse(o->trades[i].funds.text, &funds[n]) < 0)
				funds[n] = 0; /* refused with an alert by record_trade */
			fresh[n++] = &o->trades[i];
		}
	}
	/* The order's fee so far, less what the recorded fills carry, split over the new ones. */
	if (oe_fee_split(paid > rec_fees ? paid - rec_fees : 0, funds, n, fees) < 0) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (record_trade(oe, intent_id, o, fresh[i], fees[i], &rec_fees, &rec_volume) < 0) {
			rc = -1;
			goto out;
		}
		count++;
		if (i + 1 < n)
			oe_crash_point(oe, OE_CRASH_BETWEEN_FILLS);
	}
out:
	free(funds);
	free(fees);
	free(fresh);
	if (rc < 0)
		return -1;
	if (!over) {
		if (n == 0 && order_update(oe, o->uuid, o->state, rec_volume, rec_fees, 0) < 0)
			return -1;
		return 0;
	}
	/* Over by state; finished only when its trades account for all that was executed. */
	if (rec_volume != executed || (o->trades_count > 0 && count < o->trades_count)) {
		log_warnx("order %s is %s but its trades account for %" PRId64 " of %" PRId64
			  " units: polled again",
			  o->uuid, o->state, rec_volume, executed);
		return 0;
	}
	if (oe_begin(oe) < 0)
		return -1;
	if (order_update(oe, o->uuid, o->state, rec_volume, rec_fees, clock_now_ms()) < 0 ||
	    oe_set_intent(oe, intent_id, "done",
			  executed == 0 ? "cancelled with nothing filled"
			  : strcmp(o->state, "cancel") == 0 && strcmp(o->ord_type, "price") != 0
				  ? "filled in part, the rest cancelled"
				  : "filled") < 0) {
		oe_rollback(oe, "order end");
		return -1;
	}
	return oe_commit(oe) < 0 ? -1 : 1;
}

int oe_open_order_of_intent(struct oe *oe, int64_t intent_id, char *uuid, size_t len,
			    char *ord_type, size_t tlen, int64_t *created_ms)
{
	sqlite3_stmt *q = oe->st[ST_ORDER_OPEN_OF_INTENT];
	int rc;

	sqlite3_bind_int64(q, 1, intent_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		copy_col(q, 0, uuid, len);
		copy_col(q, 1, ord_type, tlen);
		*created_ms = sqlite3_column_int64(q, 2);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Balances are stored as the exchange reports them; positions are compared only while no
 * order is in flight (an open order moves balances before its fills are polled). */
int oe_check_balances(struct oe *oe, const struct upbit_account *v, size_t n)
{
	sqlite3_stmt *b = oe->st[ST_BALANCE_PUT], *pos = oe->st[ST_POSITIONS_ALL];
	sqlite3_stmt *act = oe->st[ST_OPEN_ORDERS];
	int64_t now = clock_now_ms(), active = 0;
	char diff[1024] = "";
	size_t used = 0;

	if (oe_begin(oe) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_text(b, 1, v[i].currency, -1, SQLITE_STATIC);
		sqlite3_bind_int64(b, 2, dec_or_zero(&v[i].balance));
		sqlite3_bind_int64(b, 3, dec_or_zero(&v[i].locked));
		sqlite3_bind_int64(b, 4, dec_or_zero(&v[i].avg_buy_price));
		sqlite3_bind_int64(b, 5, now);
		if (db_step_reset(b) != SQLITE_DONE) {
			oe_rollback(oe, "balances");
			return -1;
		}
	}
	if (oe_commit(oe) < 0)
		return -1;
	if (sqlite3_step(act) == SQLITE_ROW)
		active = sqlite3_column_int64(act, 0);
	sqlite3_reset(act);
	if (active > 0)
		return 0;
	/* Every coin the positions hold against the exchange's balance plus locked. */
	while (sqlite3_step(pos) == SQLITE_ROW) {
		const char *market = (const char *)sqlite3_column_text(pos, 0);
		const char *cur = market ? strchr(market, '-') : NULL;
		dec8 want = sqlite3_column_int64(pos, 1), have = 0;
		char wb[DEC8_BUF], hb[DEC8_BUF];

		if (!cur)
			continue;
		cur++;
		for (size_t i = 0; i < n; i++)
			if (strcmp(v[i].currency, cur) == 0)
				have = dec_or_zero(&v[i].balance) + dec_or_zero(&v[i].locked);
		if (have == want)
			continue;
		dec8_format(want, wb);
		dec8_format(have, hb);
		if (used < sizeof(diff))
			used += (size_t)snprintf(diff + used, sizeof(diff) - used,
						 "%s%s: positions %s, exchange %s",
						 used ? "; " : "", cur, wb, hb);
	}
	sqlite3_reset(pos);
	/* Coins on the exchange that no position knows of. */
	for (size_t i = 0; i < n; i++) {
		char market[UPBIT_MARKET_LEN + 8], hb[DEC8_BUF];
		sqlite3_stmt *q;
		int known = 0;
		dec8 have = dec_or_zero(&v[i].balance) + dec_or_zero(&v[i].locked);

		if (strcmp(v[i].currency, "KRW") == 0 || have == 0)
			continue;
		snprintf(market, sizeof(market), "KRW-%s", v[i].currency);
		if (sqlite3_prepare_v2(oe->db, "SELECT 1 FROM positions WHERE market = ?", -1, &q,
				       NULL) == SQLITE_OK) {
			sqlite3_bind_text(q, 1, market, -1, SQLITE_STATIC);
			known = sqlite3_step(q) == SQLITE_ROW;
			sqlite3_finalize(q);
		}
		if (known)
			continue;
		dec8_format(have, hb);
		if (used < sizeof(diff))
			used += (size_t)snprintf(diff + used, sizeof(diff) - used,
						 "%s%s: positions 0, exchange %s", used ? "; " : "",
						 v[i].currency, hb);
	}
	oe->last_balance_ms = now;
	/* Alerted when it appears or changes, not at every check while it lasts. */
	if (strcmp(diff, oe->last_mismatch) != 0 && diff[0]) {
		oe->mismatches++;
		oe_alert(oe, OUTBOX_CRITICAL, "balance_mismatch",
			 "balances differ from the positions: %s (not corrected: check the "
			 "exchange's order history)",
			 diff);
	}
	snprintf(oe->last_mismatch, sizeof(oe->last_mismatch), "%s", diff);
	return 0;
}
