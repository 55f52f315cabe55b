/* The order-execution worker's shared state and the functions its files give each other:
 * intents become attempts and orders exactly once, fills become positions, balances are checked. */
#ifndef TD_ORDER_EXECUTION_H
#define TD_ORDER_EXECUTION_H

#include <sqlite3.h>
#include <stdint.h>

#include "common/close_count.h"
#include "common/db_ckpt.h"
#include "common/dec8.h"
#include "common/outbox.h"
#include "workers/upbit/upbit_client.h"
#include "workers/worker.h"

/* The fixed descriptor on which the supervisor hands order-execution the open keys file. */
#define OE_KEYS_FD WORKER_KEYS_FD
#define OE_INSTANCE_LEN 17 /* 16 hex digits and the NUL */

/* Compiled-in crash points, armed by TRADINGD_FAULT=order-execution:crash-at:NAME (test only,
 * refused in live mode). */
enum oe_crash {
	OE_CRASH_PICKED_UP,	/* an intent was picked up */
	OE_CRASH_AFTER_SENDING, /* the attempt is committed as sending, the POST not yet sent */
	OE_CRASH_AFTER_POST,	/* the POST was sent, its reply not yet looked at */
	OE_CRASH_AFTER_REPLY,	/* the reply is in, the order row not yet written */
	OE_CRASH_BETWEEN_FILLS, /* one fill of an order committed, the next not yet */
	OE_CRASH_COUNT
};

/* How the exchange's answer to a POST /v1/orders is taken. */
enum oe_outcome {
	OE_PLACED,     /* 2xx with an order */
	OE_REFUSED,    /* a definite refusal: the intent ends with the reason */
	OE_NOT_PLACED, /* not taken, worth another attempt later (429, authentication, 418) */
	OE_DUPLICATE,  /* the identifier was burned before this database knew it */
	OE_UNKNOWN,    /* may have been placed: resolve by identifier first */
};

/* A position as average-cost accounting sees it (positions row). */
struct oe_position {
	dec8 volume, cost, realized, fees;
};

/* One trade applied to a position: what the fills row records. */
struct oe_trade_effect {
	dec8 realized; /* realised PnL of this trade (sells), fee included */
};

/* Prepared statements (order_execution_store.c). */
enum oe_stmt {
	ST_ACTIVE,
	ST_INTENT,
	ST_LAST_ATTEMPT,
	ST_ATTEMPT_INSERT,
	ST_ATTEMPT_RESOLVE,
	ST_INTENT_STATE,
	ST_INTENT_SENDING,
	ST_ORDER_INSERT,
	ST_ORDER_OPEN_OF_INTENT,
	ST_ORDER_UPDATE,
	ST_FILL_INSERT,
	ST_FILL_FEES_OF_ORDER,
	ST_POSITION_GET,
	ST_POSITION_PUT,
	ST_BALANCE_PUT,
	ST_POSITIONS_ALL,
	ST_OPEN_ORDERS,
	ST_COUNT
};

struct oe_intent {
	int64_t id, price, volume, funds, created_ms;
	int has_price, has_volume, has_funds;
	char market[UPBIT_MARKET_LEN], side[8], ord_type[16], state[16];
	int attempts;
};

struct oe {
	struct worker *w;
	sqlite3 *db;
	struct db_ckpt *ckpt; /* checkpoints after the POST, not inside the attempt's commit */
	sqlite3_stmt *st[ST_COUNT];
	struct outbox outbox;
	struct upbit_client *client;
	char *urls[UPBIT_MAX_BASES];
	char instance[OE_INSTANCE_LEN];
	char *keys; /* mlock'ed "ACCESS\0SECRET\0", zeroed when freed */
	size_t keys_len;
	const char *access, *secret;
	int mode; /* enum config_mode */
	uv_timer_t scan_timer, balance_timer, retry_timer, startup_timer;

	/* The scan: the active intents found when it started, handled one at a time. */
	int64_t *scan_ids;
	size_t n_scan, i_scan;
	int scanning, rescan, startup, busy, balances_busy, closing, recovering;
	struct close_count parts; /* the timers and the client, after oe_stop */
	uint64_t reconcile_run;	  /* a "reconcile" job waiting for the end of a scan, or 0 */
	uint64_t cancel_run;	  /* a "cancel_open" job in progress, or 0 */
	int cancel_wanted;	  /* asked for: the next scan to begin cancels every open order */
	int cancel_all;		  /* this scan does */

	void (*balances_done)(struct oe *oe);
	/* Nudges made before READY (the start-up reconcile records fills): sent after it. */
	int64_t held_alerts[64];
	struct ipc_fill held_fills[64];
	size_t n_held_alerts, n_held_fills;
	char last_mismatch[1024];
	uint64_t placed, refused, unknown_resolved, fills, mismatches, cancels;
	int64_t last_balance_ms;
};

/* order_execution_ident.c */
void oe_identifier(const char *instance, int64_t intent_id, int attempt, char *buf, size_t len);
int oe_instance_new(char out[OE_INSTANCE_LEN]);
enum oe_outcome oe_classify(enum upbit_status status, const char *error_name);
const char *oe_crash_name(enum oe_crash c);
void oe_crash_point(struct oe *oe, enum oe_crash c);
int oe_crash_armed(const struct worker *w);

/* order_execution_accounting.c: average cost, exact; 0 or -1 on overflow. */
int oe_position_apply(struct oe_position *p, int is_bid, dec8 volume, dec8 funds, dec8 fee,
		      struct oe_trade_effect *out);
/* Splits fee_total over n trades in proportion to their funds, the rest to the last. */
int oe_fee_split(dec8 fee_total, const dec8 *funds, size_t n, dec8 *fees);

/* order_execution_store.c */
int oe_store_open(struct oe *oe);
void oe_store_close(struct oe *oe);
int oe_load_instance(struct oe *oe);
int oe_rotate_instance(struct oe *oe);
int oe_intent_load(struct oe *oe, int64_t id, struct oe_intent *it);
int oe_begin(struct oe *oe);
int oe_commit(struct oe *oe);
void oe_rollback(struct oe *oe, const char *what);
int oe_set_intent(struct oe *oe, int64_t id, const char *state, const char *reason);
int oe_last_attempt(struct oe *oe, int64_t intent_id, int *attempt, char *ident, size_t len,
		    char *state, size_t slen);
/* When the attempt was committed as sending (daemon time, 0 when unknown) and the answer
 * noted for it while its outcome is checked ("" when none). */
void oe_attempt_info(struct oe *oe, int64_t intent_id, int attempt, int64_t *sent_ms, char *note,
		     size_t len);
/* Notes the POST's answer on an attempt still 'sending' (acted on once it is known that the
 * order is not on the exchange), and marks the intent 'unknown'; one transaction. */
int oe_attempt_note(struct oe *oe, int64_t intent_id, int attempt, const char *note);
/* Attempts of the intent that ended absent with an answer (not with never_note). */
int64_t oe_attempts_turned_down(struct oe *oe, int64_t intent_id, const char *never_note);
int oe_mark_sending(struct oe *oe, const struct oe_intent *it, int attempt, const char *ident);
int oe_resolve_attempt(struct oe *oe, int64_t intent_id, int attempt, const char *state,
		       const char *order_uuid, const char *error);
/* Records the order (once), the attempt placed, and the intent open, in one transaction. */
int oe_record_order(struct oe *oe, const struct oe_intent *it, int attempt,
		    const struct upbit_order *o);
/* Records every trade of o not yet recorded, each with its position change in its own
 * transaction; ends the order and the intent when it is over and wholly accounted for.
 * Returns 1 when the order is finished, 0 when still open, -1 on a database error. */
int oe_record_fills(struct oe *oe, int64_t intent_id, const struct upbit_order *o);
int oe_open_order_of_intent(struct oe *oe, int64_t intent_id, char *uuid, size_t len,
			    char *ord_type, size_t tlen, int64_t *created_ms);
/* Stores the exchange's balances and compares them with the positions; mismatches alerted. */
int oe_check_balances(struct oe *oe, const struct upbit_account *v, size_t n);

/* order_execution.c */
void oe_alert(struct oe *oe, const char *severity, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Called once the current intent's step is over (success or not): the scan goes on. */
void oe_step_done(struct oe *oe);
void oe_sent_fill(struct oe *oe, const char *market, int64_t intent_id);
void oe_sent_alert(struct oe *oe, int64_t id);

/* order_execution_exchange.c: one step of an intent against the exchange (sim and live). */
void oe_exchange_step(struct oe *oe, int64_t intent_id);
void oe_fetch_balances(struct oe *oe, void (*done)(struct oe *oe));

/* order_execution_recover.c: records the exchange's orders of this instance that the
 * database does not know (a restored backup), then calls done. after_restore: only when the
 * supervisor recorded a restore not looked after yet (at start); 0: always (reconcile). */
void oe_recover(struct oe *oe, int after_restore, void (*done)(struct oe *oe));

/* order_execution_paper.c: the same step with fills simulated from public prices. */
void oe_paper_step(struct oe *oe, int64_t intent_id);

/* order_execution_keys.c */
int oe_keys_load(struct oe *oe);
void oe_keys_free(struct oe *oe);

#endif
