/* One step of an intent against the exchange (sim and live): place a new attempt, resolve an
 * unknown one by its identifier, poll or cancel an open order. Each step ends in oe_step_done. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "workers/order_execution.h"

/* How an attempt's note says that the POST was answered with a definite refusal. */
#define REFUSED_NOTE "refused: "
/* An attempt that got no answer at all (a crash before or during the POST): the exchange did
 * not turn it down, so it does not count against orders.max_attempts. */
#define NEVER_ANSWERED_NOTE "not on the exchange after an unknown outcome"

struct step {
	struct oe *oe;
	struct oe_intent it;
	int attempt;
	char ident[UPBIT_IDENT_LEN];
	char uuid[UPBIT_UUID_LEN];
	/* What the POST's answer said when it did not place the order; acted on only once the
	 * lookup by identifier has shown that the order is not on the exchange. */
	enum oe_outcome outcome;
	char why[400];
	int64_t sent_ms; /* daemon time the attempt was committed as sending */
};

static void step_end(struct step *s)
{
	struct oe *oe = s->oe;

	free(s);
	oe_step_done(oe);
}

/* The client is closing (the worker stops): whatever state the intent is in stays committed
 * and the next start resolves it; the scan does not go on. */
static int stopping(struct step *s, const struct upbit_result *r)
{
	if (r->status != UPBIT_ERR_CANCELLED && !s->oe->closing)
		return 0;
	free(s);
	return 1;
}

static void on_polled(void *arg, const struct upbit_result *r, const struct upbit_order *o)
{
	struct step *s = arg;

	if (stopping(s, r))
		return;
	if (r->status != UPBIT_OK) {
		log_warnx("order %s of intent %" PRId64 ": cannot poll it (%s%s%s): again at the "
			  "next scan",
			  s->uuid, s->it.id, upbit_status_name(r->status),
			  r->error.name[0] ? ": " : "", r->error.name);
		step_end(s);
		return;
	}
	oe_record_fills(s->oe, s->it.id, o);
	step_end(s);
}

static void poll_order(struct step *s)
{
	if (upbit_get_order(s->oe->client, s->uuid, NULL, on_polled, s) < 0)
		step_end(s);
}

static void on_cancelled(void *arg, const struct upbit_result *r, const struct upbit_order *o)
{
	struct step *s = arg;

	(void)o;
	if (stopping(s, r))
		return;
	if (r->status == UPBIT_OK)
		s->oe->cancels++;
	else
		log_warnx("order %s: cancel answered %s %s (polled to see how it ended)", s->uuid,
			  upbit_status_name(r->status), r->error.name);
	poll_order(s);
}

static void resolve_by_identifier(struct step *s);
static void refused(struct step *s);

/* An order the exchange has (from the POST's reply or found by identifier): its row first,
 * then its trades. */
static void placed(struct step *s, const struct upbit_order *o)
{
	snprintf(s->uuid, sizeof(s->uuid), "%s", o->uuid);
	if (oe_record_order(s->oe, &s->it, s->attempt, o) < 0) {
		step_end(s); /* still 'sending'/'unknown': found again by identifier */
		return;
	}
	log_info("intent %" PRId64 ": order %s placed as %s", s->it.id, o->uuid, s->ident);
	s->oe->placed++;
	poll_order(s);
}

/* Not placed: the attempt is over and the intent goes back to pending for a new one. */
static void not_placed(struct step *s, const char *why)
{
	struct oe *oe = s->oe;

	if (oe_begin(oe) == 0) {
		if (oe_resolve_attempt(oe, s->it.id, s->attempt, "absent", NULL, why) < 0 ||
		    oe_set_intent(oe, s->it.id, "pending", why) < 0)
			oe_rollback(oe, "attempt end");
		else
			oe_commit(oe);
	}
	step_end(s);
}

/* The order an identifier names is this intent's when market, side and type agree. */
static int same_order(const struct oe_intent *it, const struct upbit_order *o)
{
	return strcmp(it->market, o->market) == 0 && strcmp(it->side, o->side) == 0 &&
	       strcmp(it->ord_type, o->ord_type) == 0;
}

static void on_resolved(void *arg, const struct upbit_result *r, const struct upbit_order *o)
{
	struct step *s = arg;

	if (stopping(s, r))
		return;
	if (r->status == UPBIT_OK && !same_order(&s->it, o)) {
		oe_rotate_instance(s->oe);
		oe_alert(s->oe, OUTBOX_CRITICAL, "identifier_reused",
			 "identifier %s names order %s (%s %s %s) on the exchange, not intent "
			 "%" PRId64
			 " (a restored backup?): new identifiers from now on; compare the "
			 "exchange's orders with the database",
			 s->ident, o->uuid, o->market, o->side, o->ord_type, s->it.id);
		not_placed(s, "identifier already used on the exchange by another order");
		return;
	}
	if (r->status == UPBIT_OK) {
		log_notice("intent %" PRId64 ": %s found on the exchange as order %s", s->it.id,
			   s->ident, o->uuid);
		s->oe->unknown_resolved++;
		placed(s, o);
		return;
	}
	if (r->status == UPBIT_ERR_API && r->http_status == 404 &&
	    (double)(clock_now_ms() - s->sent_ms) / clock_rate() <
		    (double)s->oe->w->cfg.s.exchange.request_timeout_ms) {
		/* An order just sent may not be visible yet: absence is believed only once the
		 * request itself would have timed out. */
		log_info("intent %" PRId64 ": %s not on the exchange yet: looked up again at the "
			 "next scan",
			 s->it.id, s->ident);
		step_end(s);
		return;
	}
	if (r->status == UPBIT_ERR_API && r->http_status == 404) {
		s->oe->unknown_resolved++;
		if (s->outcome == OE_REFUSED) {
			refused(s);
			return;
		}
		log_notice("intent %" PRId64 ": %s is not on the exchange: a new attempt follows",
			   s->it.id, s->ident);
		not_placed(s, s->why[0] ? s->why : NEVER_ANSWERED_NOTE);
		return;
	}
	log_warnx("intent %" PRId64 ": cannot look %s up (%s %s): again at the next scan", s->it.id,
		  s->ident, upbit_status_name(r->status), r->error.name);
	step_end(s);
}

static void resolve_by_identifier(struct step *s)
{
	if (upbit_get_order(s->oe->client, NULL, s->ident, on_resolved, s) < 0)
		step_end(s);
}

/* The refusal and its notification in one transaction: a crash between the two would lose
 * the alert; the notifier is nudged once both are committed. */
static void refused(struct step *s)
{
	struct oe *oe = s->oe;
	const char *why = s->why;
	char text[512];
	int64_t nid = -1;

	snprintf(text, sizeof(text), "order refused: intent %" PRId64 " %s %s %s: %s", s->it.id,
		 s->it.market, s->it.side, s->it.ord_type, why);
	if (oe_begin(oe) == 0) {
		if (oe_resolve_attempt(oe, s->it.id, s->attempt, "refused", NULL, why) < 0 ||
		    oe_set_intent(oe, s->it.id, "refused", why) < 0 ||
		    (nid = outbox_add(oe->db, clock_now_ms(), role_name(oe->w->role),
				      OUTBOX_WARNING, "order_refused", text)) < 0)
			oe_rollback(oe, "refusal");
		else if (oe_commit(oe) == 0) {
			oe->refused++;
			log_warnx("%s", text);
			oe_sent_alert(oe, nid);
		}
	}
	step_end(s);
}

/* Only a 2xx with an order is taken at its word. Any other answer may follow a request that
 * the transport sent twice (libcurl resends a request whose reused connection died, and the
 * second copy meets nonce_used, 429 or duplicate_identifier): the order is looked up by its
 * identifier first, and the answer acted on only when it is not on the exchange. */
static void on_created(void *arg, const struct upbit_result *r, const struct upbit_order *o)
{
	struct step *s = arg;
	struct oe *oe = s->oe;

	if (stopping(s, r))
		return;
	oe_crash_point(oe, OE_CRASH_AFTER_POST);
	s->outcome = oe_classify(r->status, r->error.name);
	if (s->outcome == OE_PLACED) {
		oe_crash_point(oe, OE_CRASH_AFTER_REPLY);
		placed(s, o);
		return;
	}
	if (r->status == UPBIT_ERR_API)
		snprintf(s->why, sizeof(s->why), "%s: %s", r->error.name, r->error.message);
	else
		snprintf(s->why, sizeof(s->why), "%s (HTTP %ld)", upbit_status_name(r->status),
			 r->http_status);
	log_warnx("intent %" PRId64 ": %s answered %s: looking it up by identifier", s->it.id,
		  s->ident, s->why);
	{
		char note[sizeof(s->why) + 16];

		/* Kept with the attempt: a lookup that must wait, or a crash, does not lose it. */
		snprintf(note, sizeof(note), "%s%s", s->outcome == OE_REFUSED ? REFUSED_NOTE : "",
			 s->why);
		if (oe_attempt_note(oe, s->it.id, s->attempt, note) < 0)
			log_warnx("db: intent %" PRId64 " stays 'sending'", s->it.id);
	}
	resolve_by_identifier(s);
}

static void place(struct step *s)
{
	struct oe *oe = s->oe;
	char price[DEC8_BUF], volume[DEC8_BUF];
	struct upbit_order_request rq = {.market = s->it.market,
					 .side = s->it.side,
					 .ord_type = s->it.ord_type,
					 .identifier = s->ident};

	if (oe_attempts_turned_down(oe, s->it.id, NEVER_ANSWERED_NOTE) >=
	    oe->w->cfg.s.orders.max_attempts) {
		if (oe_set_intent(oe, s->it.id, "failed",
				  "the exchange took none of the attempts") == 0)
			oe_alert(oe, OUTBOX_WARNING, "order_failed",
				 "intent %" PRId64 " %s: failed after %d attempts", s->it.id,
				 s->it.market, s->it.attempts);
		step_end(s);
		return;
	}
	s->attempt = s->it.attempts + 1;
	oe_identifier(oe->instance, s->it.id, s->attempt, s->ident, sizeof(s->ident));
	if (oe_mark_sending(oe, &s->it, s->attempt, s->ident) < 0) {
		step_end(s);
		return;
	}
	s->sent_ms = clock_now_ms();
	oe_crash_point(oe, OE_CRASH_AFTER_SENDING);
	/* limit: price and volume; price (a buy by total): the total in price; market: volume. */
	if (strcmp(s->it.ord_type, "price") == 0) {
		dec8_format(s->it.funds, price);
		rq.price = price;
	} else {
		if (s->it.has_price) {
			dec8_format(s->it.price, price);
			rq.price = price;
		}
		if (s->it.has_volume) {
			dec8_format(s->it.volume, volume);
			rq.volume = volume;
		}
	}
	if (upbit_create_order(oe->client, &rq, on_created, s) < 0) {
		not_placed(s, "the request could not be queued");
		return;
	}
}

void oe_exchange_step(struct oe *oe, int64_t intent_id)
{
	struct step *s = calloc(1, sizeof(*s));
	char state[16], type[16];
	int64_t created;

	if (!s) {
		oe_step_done(oe);
		return;
	}
	s->oe = oe;
	if (oe_intent_load(oe, intent_id, &s->it) < 0) {
		step_end(s);
		return;
	}
	if (strcmp(s->it.state, "pending") == 0) {
		oe_crash_point(oe, OE_CRASH_PICKED_UP);
		place(s);
	} else if (strcmp(s->it.state, "sending") == 0 || strcmp(s->it.state, "unknown") == 0) {
		if (oe_last_attempt(oe, intent_id, &s->attempt, s->ident, sizeof(s->ident), state,
				    sizeof(state)) == 0 &&
		    strcmp(state, "sending") == 0) {
			char note[sizeof(s->why) + 16];

			oe_attempt_info(oe, intent_id, s->attempt, &s->sent_ms, note, sizeof(note));
			if (strncmp(note, REFUSED_NOTE, strlen(REFUSED_NOTE)) == 0) {
				s->outcome = OE_REFUSED;
				snprintf(s->why, sizeof(s->why), "%.*s", (int)sizeof(s->why) - 1,
					 note + strlen(REFUSED_NOTE));
			} else {
				s->outcome = OE_UNKNOWN;
				snprintf(s->why, sizeof(s->why), "%.*s", (int)sizeof(s->why) - 1,
					 note);
			}
			resolve_by_identifier(s);
		} else {
			oe_set_intent(oe, intent_id, "pending", NULL);
			step_end(s);
		}
	} else if (strcmp(s->it.state, "open") == 0) {
		if (oe_open_order_of_intent(oe, intent_id, s->uuid, sizeof(s->uuid), type,
					    sizeof(type), &created) < 0) {
			oe_set_intent(oe, intent_id, "done", "no order left open");
			step_end(s);
			return;
		}
		if (oe->cancel_all ||
		    (strcmp(type, "limit") == 0 &&
		     clock_now_ms() - created > oe->w->cfg.s.orders.limit_timeout_ms)) {
			log_notice("intent %" PRId64 ": cancelling order %s (%s)", intent_id,
				   s->uuid, oe->cancel_all ? "cancel_open" : "limit timeout");
			if (upbit_cancel_order(oe->client, s->uuid, NULL, on_cancelled, s) < 0)
				step_end(s);
			return;
		}
		poll_order(s);
	} else {
		step_end(s);
	}
}

static void on_accounts(void *arg, const struct upbit_result *r, const struct upbit_account *v,
			size_t n)
{
	struct oe *oe = arg;
	void (*done)(struct oe *) = oe->balances_done;

	oe->balances_busy = 0;
	oe->balances_done = NULL;
	if (r->status == UPBIT_ERR_CANCELLED || oe->closing)
		return;
	if (r->status != UPBIT_OK)
		log_warnx("balances: cannot read them (%s %s)", upbit_status_name(r->status),
			  r->error.name);
	else
		oe_check_balances(oe, v, n);
	if (done)
		done(oe);
}

void oe_fetch_balances(struct oe *oe, void (*done)(struct oe *oe))
{
	if (oe->balances_busy)
		return;
	oe->balances_done = done;
	oe->balances_busy = 1;
	if (upbit_get_accounts(oe->client, on_accounts, oe) < 0) {
		oe->balances_busy = 0;
		oe->balances_done = NULL;
		if (done)
			done(oe);
	}
}
