/* Paper mode: the same intents, attempts, orders and fills as on an exchange, but each order is
 * filled locally at the exchange's last public price, made worse by orders.paper_slippage_bps,
 * with a fee of orders.paper_fee_bps; a limit order waits until the price reaches it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "workers/order_execution.h"

struct paper {
	struct oe *oe;
	struct oe_intent it;
	int attempt;
	char ident[UPBIT_IDENT_LEN];
	int waiting; /* an open limit order being checked */
};

static void paper_end(struct paper *pp)
{
	struct oe *oe = pp->oe;

	free(pp);
	oe_step_done(oe);
}

static void set_dec(struct upbit_dec *d, dec8 v)
{
	d->present = 1;
	dec8_format(v, d->text);
	d->value = (double)v / (double)DEC8_ONE;
}

/* The ticker's price (a JSON number) on the KRW grid, as exact units. */
static int price_of(double px, dec8 *out)
{
	char buf[64];
	dec8 v;

	if (!(px > 0) || snprintf(buf, sizeof(buf), "%.8f", px) >= (int)sizeof(buf) ||
	    dec8_parse(buf, &v) < 0)
		return -1;
	*out = dec8_krw_round(v, DEC8_HALF_EVEN);
	return *out > 0 ? 0 : -1;
}

/* What the fill would be at last price px: its price, volume and funds; 0 when it fills now,
 * 1 when a limit order must wait, -1 when the intent cannot be filled (logged). */
static int paper_fill(const struct oe *oe, const struct oe_intent *it, dec8 px, dec8 *price,
		      dec8 *volume, dec8 *funds)
{
	int64_t bps = oe->w->cfg.s.orders.paper_slippage_bps;
	int bid = strcmp(it->side, "bid") == 0;
	dec8 p;

	if ((strcmp(it->ord_type, "price") == 0 && !bid) ||
	    (strcmp(it->ord_type, "market") == 0 && bid))
		return -1; /* Upbit's rule: price buys by total, market sells a volume */
	if (dec8_muldiv(px, bid ? 10000 + bps : 10000 - bps, 10000, bid ? DEC8_UP : DEC8_DOWN, &p) <
	    0)
		return -1;
	p = dec8_krw_round(p, bid ? DEC8_UP : DEC8_DOWN);
	if (strcmp(it->ord_type, "limit") == 0) {
		if (!it->has_price || !it->has_volume)
			return -1;
		if (bid ? p > it->price : p < it->price)
			return 1;
		/* A marketable limit order trades at the market, never beyond its limit. */
		*price = bid ? (p < it->price ? p : it->price) : (p > it->price ? p : it->price);
		*volume = it->volume;
	} else if (strcmp(it->ord_type, "price") == 0) {
		if (!it->has_funds || dec8_div(it->funds, p, DEC8_DOWN, volume) < 0)
			return -1;
		*price = p;
	} else {
		if (!it->has_volume)
			return -1;
		*price = p;
		*volume = it->volume;
	}
	if (*volume <= 0 || dec8_mul(*price, *volume, DEC8_DOWN, funds) < 0)
		return -1;
	return 0;
}

/* A local order as the exchange would report it, through the same order and fill code. */
static void paper_record(struct paper *pp, const char *state, dec8 price, dec8 volume, dec8 funds)
{
	struct oe *oe = pp->oe;
	struct upbit_order o = {0};
	struct upbit_trade t = {0};
	dec8 fee = 0;
	int filled = volume > 0;

	snprintf(o.uuid, sizeof(o.uuid), "paper-%" PRId64 "-%d-%.8s", pp->it.id, pp->attempt,
		 oe->instance);
	snprintf(o.identifier, sizeof(o.identifier), "%s", pp->ident);
	snprintf(o.market, sizeof(o.market), "%s", pp->it.market);
	snprintf(o.side, sizeof(o.side), "%s", pp->it.side);
	snprintf(o.ord_type, sizeof(o.ord_type), "%s", pp->it.ord_type);
	snprintf(o.state, sizeof(o.state), "%s", state);
	o.created_ms = clock_now_ms();
	if (pp->it.has_price)
		set_dec(&o.price, pp->it.price);
	if (pp->it.has_volume)
		set_dec(&o.volume, pp->it.volume);
	if (filled &&
	    dec8_muldiv(funds, oe->w->cfg.s.orders.paper_fee_bps, 10000, DEC8_HALF_EVEN, &fee) < 0)
		fee = 0;
	set_dec(&o.executed_volume, filled ? volume : 0);
	set_dec(&o.paid_fee, fee);
	if (filled) {
		snprintf(t.uuid, sizeof(t.uuid), "pt-%" PRId64 "-%d-%.8s", pp->it.id, pp->attempt,
			 oe->instance);
		snprintf(t.market, sizeof(t.market), "%s", pp->it.market);
		snprintf(t.side, sizeof(t.side), "%s", pp->it.side);
		set_dec(&t.price, price);
		set_dec(&t.volume, volume);
		set_dec(&t.funds, funds);
		t.created_ms = o.created_ms;
		o.trades = &t;
		o.n_trades = 1;
		o.trades_count = 1;
	}
	if (!pp->waiting) {
		oe_crash_point(oe, OE_CRASH_AFTER_REPLY);
		if (oe_record_order(oe, &pp->it, pp->attempt, &o) < 0)
			return;
		oe->placed++;
	}
	oe_record_fills(oe, pp->it.id, &o);
}

/* The refusal and its notification in one transaction, the notifier nudged after it. */
static void paper_refused(struct oe *oe, const struct oe_intent *it)
{
	char text[256];
	int64_t nid = -1;

	snprintf(text, sizeof(text), "order refused: intent %" PRId64 " %s: paper fill impossible",
		 it->id, it->market);
	if (oe_begin(oe) < 0)
		return;
	if (oe_set_intent(oe, it->id, "refused",
			  "paper: the intent cannot be filled (amounts missing or too small)") <
		    0 ||
	    (nid = outbox_add(oe->db, clock_now_ms(), role_name(oe->w->role), OUTBOX_WARNING,
			      "order_refused", text)) < 0) {
		oe_rollback(oe, "paper refusal");
		return;
	}
	if (oe_commit(oe) == 0) {
		log_warnx("%s", text);
		oe_sent_alert(oe, nid);
	}
}

static void on_ticker(void *arg, const struct upbit_result *r, const struct upbit_ticker *v,
		      size_t n)
{
	struct paper *pp = arg;
	struct oe *oe = pp->oe;
	dec8 px, price = 0, volume = 0, funds = 0;
	int rc;

	if (r->status == UPBIT_ERR_CANCELLED || oe->closing) {
		free(pp);
		return;
	}
	oe_crash_point(oe, OE_CRASH_AFTER_POST);
	if (r->status != UPBIT_OK || n < 1 || price_of(v[0].trade_price, &px) < 0) {
		log_warnx("paper: no price for %s (%s): intent %" PRId64 " waits", pp->it.market,
			  upbit_status_name(r->status), pp->it.id);
		paper_end(pp);
		return;
	}
	rc = paper_fill(oe, &pp->it, px, &price, &volume, &funds);
	if (rc < 0) {
		paper_refused(oe, &pp->it);
	} else if (rc == 0) {
		paper_record(pp, "done", price, volume, funds);
	} else if (!pp->waiting) {
		paper_record(pp, "wait", 0, 0, 0);
	}
	paper_end(pp);
}

static void ask_price(struct paper *pp)
{
	const char *m = pp->it.market;

	if (upbit_get_tickers(pp->oe->client, &m, 1, on_ticker, pp) < 0)
		paper_end(pp);
}

void oe_paper_step(struct oe *oe, int64_t intent_id)
{
	struct paper *pp = calloc(1, sizeof(*pp));
	char state[16], uuid[UPBIT_UUID_LEN], type[16];
	int64_t created;

	if (!pp) {
		oe_step_done(oe);
		return;
	}
	pp->oe = oe;
	if (oe_intent_load(oe, intent_id, &pp->it) < 0) {
		paper_end(pp);
		return;
	}
	if (strcmp(pp->it.state, "pending") == 0) {
		oe_crash_point(oe, OE_CRASH_PICKED_UP);
		/* No exchange can turn a paper attempt down: orders.max_attempts does not apply;
		 * only a crash ends one, and then the next attempt goes on. */
		pp->attempt = pp->it.attempts + 1;
		oe_identifier(oe->instance, intent_id, pp->attempt, pp->ident, sizeof(pp->ident));
		if (oe_mark_sending(oe, &pp->it, pp->attempt, pp->ident) < 0) {
			paper_end(pp);
			return;
		}
		oe_crash_point(oe, OE_CRASH_AFTER_SENDING);
		ask_price(pp);
	} else if (strcmp(pp->it.state, "sending") == 0 || strcmp(pp->it.state, "unknown") == 0) {
		/* Nothing left the process: without its order row the attempt never happened. */
		if (oe_last_attempt(oe, intent_id, &pp->attempt, pp->ident, sizeof(pp->ident),
				    state, sizeof(state)) == 0 &&
		    oe_begin(oe) == 0) {
			if (oe_resolve_attempt(oe, intent_id, pp->attempt, "absent", NULL,
					       "paper: interrupted before the fill") < 0 ||
			    oe_set_intent(oe, intent_id, "pending", NULL) < 0)
				oe_rollback(oe, "paper attempt");
			else
				oe_commit(oe);
		}
		paper_end(pp);
	} else if (strcmp(pp->it.state, "open") == 0) {
		if (oe_open_order_of_intent(oe, intent_id, uuid, sizeof(uuid), type, sizeof(type),
					    &created) < 0 ||
		    oe_last_attempt(oe, intent_id, &pp->attempt, pp->ident, sizeof(pp->ident),
				    state, sizeof(state)) < 0) {
			oe_set_intent(oe, intent_id, "done", "no order left open");
			paper_end(pp);
			return;
		}
		pp->waiting = 1;
		if (oe->cancel_all ||
		    clock_now_ms() - created > oe->w->cfg.s.orders.limit_timeout_ms) {
			oe->cancels++;
			paper_record(pp, "cancel", 0, 0, 0);
			paper_end(pp);
			return;
		}
		ask_price(pp);
	} else {
		paper_end(pp);
	}
}
