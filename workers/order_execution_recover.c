/* Start-up recovery of orders the database does not know (a restored backup): the exchange's
 * open and closed orders with this database's identifier prefix become intents, orders and fills. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "workers/order_execution.h"

/* Orders a little older than the newest the database knows are listed too: the exchange's
 * clock and ours may differ, and a backup's snapshot falls between two writes. */
#define RECOVER_MARGIN_MS (3600LL * 1000)
/* /v1/orders/closed takes a window of at most 7 days; end_time is rounded up to a second. */
#define RECOVER_WINDOW_MS (7LL * 86400000 - 2000)
#define CLOSED_LIMIT 1000
#define OPEN_LIMIT 100
#define MAX_CALLS 200 /* a bound on the listing (a year of windows and more) */

struct recover {
	struct oe *oe;
	int64_t restore_note; /* the restore looked after, 0 for a reconcile asked by hand */
	void (*done)(struct oe *oe);
	char prefix[OE_INSTANCE_LEN + 8];
	int64_t start, end, now;
	int page, calls, open_phase, failed, conflict;
	char (*uuids)[UPBIT_UUID_LEN];
	size_t n, cap, i;
	int recovered;
};

static void list_next(struct recover *rc);
static void fetch_next(struct recover *rc);

static int64_t query_i64(struct oe *oe, const char *q_sql, const char *text)
{
	sqlite3_stmt *q;
	int64_t v = -1;

	if (sqlite3_prepare_v2(oe->db, q_sql, -1, &q, NULL) != SQLITE_OK)
		return -1;
	if (text)
		sqlite3_bind_text(q, 1, text, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_type(q, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

/* Once looked after, a restore is not looked after again at every start: the listing costs
 * requests that a restarted worker's empty rate budget makes slow. */
static void remember_restore(struct oe *oe, int64_t note)
{
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(
		    oe->db,
		    "INSERT INTO exec_recovery(id, restore_note, checked_ms) VALUES(1, ?, "
		    "?) ON CONFLICT(id) DO UPDATE SET restore_note = excluded.restore_note, "
		    "checked_ms = excluded.checked_ms",
		    -1, &q, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(q, 1, note);
	sqlite3_bind_int64(q, 2, clock_now_ms());
	if (sqlite3_step(q) != SQLITE_DONE)
		log_warnx("db: the recovery after restore %" PRId64 " is not remembered: %s", note,
			  sqlite3_errmsg(oe->db));
	sqlite3_finalize(q);
}

static void finish(struct recover *rc)
{
	struct oe *oe = rc->oe;
	void (*done)(struct oe *) = rc->done;

	if (rc->recovered > 0)
		oe_alert(oe, OUTBOX_WARNING, "orders_recovered",
			 "%d orders recovered from the exchange (placed by this database's "
			 "instance but unknown to it, e.g. after a restored backup): recorded "
			 "with their fills",
			 rc->recovered);
	if (rc->failed)
		log_warnx("recovery from the exchange incomplete: looked again at the next start "
			  "or reconcile");
	if (!rc->failed && rc->restore_note > 0)
		remember_restore(oe, rc->restore_note);
	if (rc->conflict && oe_rotate_instance(oe) == 0)
		log_notice("a recovered order's intent id was taken: new identifiers from now on "
			   "(instance %s)",
			   oe->instance);
	free(rc->uuids);
	free(rc);
	if (!oe->closing)
		done(oe);
}

static int stopping(struct recover *rc, const struct upbit_result *r)
{
	if (r->status != UPBIT_ERR_CANCELLED && !rc->oe->closing)
		return 0;
	free(rc->uuids);
	free(rc);
	return 1;
}

/* An order of ours that neither the orders nor the attempts know. */
static int unknown_to_db(struct recover *rc, const struct upbit_order *o)
{
	if (strncmp(o->identifier, rc->prefix, strlen(rc->prefix)) != 0)
		return 0;
	for (size_t i = 0; i < rc->n; i++)
		if (strcmp(rc->uuids[i], o->uuid) == 0)
			return 0;
	return query_i64(rc->oe, "SELECT 1 FROM orders WHERE uuid = ?", o->uuid) < 0 &&
	       query_i64(rc->oe, "SELECT 1 FROM order_attempts WHERE identifier = ?",
			 o->identifier) < 0;
}

static void note_orders(struct recover *rc, const struct upbit_order *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!unknown_to_db(rc, &v[i]))
			continue;
		if (rc->n == rc->cap) {
			size_t cap = rc->cap ? 2 * rc->cap : 8;
			char(*more)[UPBIT_UUID_LEN] = realloc(rc->uuids, cap * sizeof(*more));

			if (!more) {
				rc->failed = 1;
				return;
			}
			rc->uuids = more;
			rc->cap = cap;
		}
		snprintf(rc->uuids[rc->n++], UPBIT_UUID_LEN, "%s", v[i].uuid);
	}
}

static void on_listed(void *arg, const struct upbit_result *r, const struct upbit_order *v,
		      size_t n)
{
	struct recover *rc = arg;

	if (stopping(rc, r))
		return;
	if (r->status != UPBIT_OK) {
		log_warnx("recovery: cannot list the exchange's %s orders (%s %s)",
			  rc->open_phase ? "open" : "closed", upbit_status_name(r->status),
			  r->error.name);
		rc->failed = 1;
		rc->i = 0;
		fetch_next(rc);
		return;
	}
	note_orders(rc, v, n);
	if (rc->open_phase) {
		if (n < OPEN_LIMIT) {
			rc->i = 0;
			fetch_next(rc);
			return;
		}
		rc->page++;
	} else if (n >= CLOSED_LIMIT) {
		/* Newest first: the rest of the window is older than the oldest listed. */
		int64_t oldest = v[n - 1].created_ms;

		rc->end = oldest > rc->start ? oldest : rc->start;
	} else {
		rc->start = rc->end;
		rc->end = rc->start + RECOVER_WINDOW_MS;
	}
	list_next(rc);
}

static void list_next(struct recover *rc)
{
	struct oe *oe = rc->oe;
	int err;

	if (++rc->calls > MAX_CALLS) {
		rc->failed = 1;
		rc->i = 0;
		fetch_next(rc);
		return;
	}
	if (!rc->open_phase && rc->start > rc->now) {
		rc->open_phase = 1;
		rc->page = 1;
	}
	if (rc->open_phase)
		err = upbit_get_open_orders(oe->client, NULL, rc->page, OPEN_LIMIT, on_listed, rc);
	else
		err = upbit_get_closed_orders(oe->client, NULL, rc->start, rc->end, CLOSED_LIMIT,
					      on_listed, rc);
	if (err < 0) {
		rc->failed = 1;
		rc->i = 0;
		fetch_next(rc);
	}
}

/* td-INSTANCE-INTENT-ATTEMPT: the intent id and attempt the order was placed for. */
static int parse_ident(const struct recover *rc, const char *ident, int64_t *intent, int *attempt)
{
	long long id;
	int at, used = 0;

	if (sscanf(ident + strlen(rc->prefix), "%lld-%d%n", &id, &at, &used) != 2 ||
	    ident[strlen(rc->prefix) + (size_t)used] != '\0' || id < 1 || at < 1)
		return -1;
	*intent = id;
	*attempt = at;
	return 0;
}

static int bind_dec_or_null(sqlite3_stmt *q, int col, const struct upbit_dec *d)
{
	dec8 v;

	if (d->present && dec8_parse(d->text, &v) == 0)
		return sqlite3_bind_int64(q, col, v);
	return sqlite3_bind_null(q, col);
}

/* The intent (under its own id when free) and its attempt as 'sending' in one transaction,
 * then the order as for one just placed: a crash in between leaves an attempt that the scan
 * resolves by identifier. The fills follow through the usual accounting. */
static int record_recovered(struct recover *rc, const struct upbit_order *o, int64_t *intent_id)
{
	struct oe *oe = rc->oe;
	struct oe_intent it = {0};
	sqlite3_stmt *q = NULL;
	int64_t id, now = clock_now_ms(), when = o->created_ms ? o->created_ms : now;
	int attempt, is_price = strcmp(o->ord_type, "price") == 0;

	if (parse_ident(rc, o->identifier, &id, &attempt) < 0)
		return -1;
	if (oe_begin(oe) < 0)
		return -1;
	if (sqlite3_prepare_v2(oe->db,
			       "INSERT INTO order_intents(id, market, side, ord_type, price_e8, "
			       "volume_e8, funds_e8, state, reason, attempts, created_ms, "
			       "updated_ms) VALUES((SELECT CASE WHEN EXISTS(SELECT 1 FROM "
			       "order_intents WHERE id = ?1) THEN NULL ELSE ?1 END), ?2, ?3, ?4, "
			       "?5, ?6, ?7, 'sending', 'recovered from the exchange', ?8, ?9, ?10) "
			       "RETURNING id",
			       -1, &q, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_text(q, 2, o->market, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, o->side, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, o->ord_type, -1, SQLITE_STATIC);
	/* A buy by total carries its funds in price. */
	if (is_price)
		sqlite3_bind_null(q, 5);
	else
		bind_dec_or_null(q, 5, &o->price);
	bind_dec_or_null(q, 6, &o->volume);
	if (is_price)
		bind_dec_or_null(q, 7, &o->price);
	else
		sqlite3_bind_null(q, 7);
	sqlite3_bind_int(q, 8, attempt);
	sqlite3_bind_int64(q, 9, when);
	sqlite3_bind_int64(q, 10, now);
	if (sqlite3_step(q) != SQLITE_ROW)
		goto fail;
	it.id = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	q = NULL;
	if (it.id != id)
		rc->conflict = 1;
	if (sqlite3_prepare_v2(oe->db,
			       "INSERT INTO order_attempts(intent_id, attempt, identifier, state, "
			       "sent_ms) VALUES(?, ?, ?, 'sending', ?)",
			       -1, &q, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(q, 1, it.id);
	sqlite3_bind_int(q, 2, attempt);
	sqlite3_bind_text(q, 3, o->identifier, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, when);
	if (sqlite3_step(q) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(q);
	q = NULL;
	if (oe_commit(oe) < 0)
		return -1;
	/* The order row, the attempt placed and the intent open: as for an order just placed. */
	snprintf(it.market, sizeof(it.market), "%s", o->market);
	snprintf(it.side, sizeof(it.side), "%s", o->side);
	snprintf(it.ord_type, sizeof(it.ord_type), "%s", o->ord_type);
	if (oe_record_order(oe, &it, attempt, o) < 0)
		return -1; /* the attempt stays 'sending': the scan resolves it by identifier */
	*intent_id = it.id;
	return 0;
fail:
	sqlite3_finalize(q);
	oe_rollback(oe, "recovered order");
	return -1;
}

static void on_fetched(void *arg, const struct upbit_result *r, const struct upbit_order *o)
{
	struct recover *rc = arg;
	int64_t intent_id;

	if (stopping(rc, r))
		return;
	if (r->status != UPBIT_OK) {
		log_warnx("recovery: cannot read order %s (%s %s)", rc->uuids[rc->i - 1],
			  upbit_status_name(r->status), r->error.name);
		rc->failed = 1;
	} else if (record_recovered(rc, o, &intent_id) < 0) {
		rc->failed = 1;
	} else {
		rc->recovered++;
		log_notice("order %s (%s) recovered from the exchange as intent %" PRId64, o->uuid,
			   o->identifier, intent_id);
		/* Its fills once each, positions with them; an order still open is polled by
		 * the scans from now on. */
		if (oe_record_fills(rc->oe, intent_id, o) < 0)
			rc->failed = 1;
	}
	fetch_next(rc);
}

static void fetch_next(struct recover *rc)
{
	if (rc->i >= rc->n) {
		finish(rc);
		return;
	}
	if (upbit_get_order(rc->oe->client, rc->uuids[rc->i++], NULL, on_fetched, rc) < 0) {
		rc->failed = 1;
		fetch_next(rc);
	}
}

void oe_recover(struct oe *oe, int after_restore, void (*done)(struct oe *oe))
{
	struct recover *rc;
	int64_t newest, note = 0;

	if (after_restore) {
		/* A restore the supervisor recorded that no recovery has looked after yet. */
		note = query_i64(
			oe,
			"SELECT max(id) FROM notifications WHERE kind = 'restore' AND id > "
			"coalesce((SELECT restore_note FROM exec_recovery), 0)",
			NULL);
		if (note <= 0) {
			done(oe);
			return;
		}
		log_notice("the database was restored: looking for the orders it lost on the "
			   "exchange");
	}
	rc = calloc(1, sizeof(*rc));
	if (!rc) {
		done(oe);
		return;
	}
	rc->restore_note = note;
	rc->oe = oe;
	rc->done = done;
	rc->now = clock_now_ms();
	snprintf(rc->prefix, sizeof(rc->prefix), "td-%s-", oe->instance);
	/* The newest instant the database knows of an order of this instance. */
	newest = query_i64(oe,
			   "SELECT max(t) FROM (SELECT max(created_ms) AS t FROM orders UNION ALL "
			   "SELECT max(created_ms) FROM order_intents UNION ALL SELECT created_ms "
			   "FROM exec_instance)",
			   NULL);
	if (newest < 0)
		newest = rc->now;
	rc->start = newest - RECOVER_MARGIN_MS;
	if (rc->start < UPBIT_EPOCH_MIN_MS)
		rc->start = UPBIT_EPOCH_MIN_MS;
	rc->end = rc->start + RECOVER_WINDOW_MS;
	list_next(rc);
}
