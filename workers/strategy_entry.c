/* The strategy worker's entry and exit paths: whatever a strategy decides goes through the same
 * checks (window, kill switch, staleness, peers, risk limits, size) and becomes a signal and an
 * order intent committed in one transaction before order-execution is nudged. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "workers/strategy_int.h"

struct strategy *strategy_of(struct strat_market *m)
{
	return ((struct strategy_slot *)m)->owner;
}

const char *strategy_key(const struct strat_market *m)
{
	return m->impl->name;
}

void strategy_alert(struct strategy *s, const char *severity, const char *kind, const char *fmt,
		    ...)
{
	va_list ap;

	va_start(ap, fmt);
	outbox_alertv(&s->outbox, severity, kind, fmt, ap);
	va_end(ap);
}

/* A refusal is logged when it first happens and when its reason changes, not at every tick. */
static int refuse(struct strat_market *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int refuse(struct strat_market *m, const char *fmt, ...)
{
	struct strategy_slot *slot = (struct strategy_slot *)m;
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	slot->refusals++;
	if (strcmp(why, slot->last_refusal) != 0) {
		snprintf(slot->last_refusal, sizeof(slot->last_refusal), "%s", why);
		log_notice("%s: no entry: %s", m->market, why);
	}
	return 0;
}

static void nudge(struct strategy *s, int64_t intent_id)
{
	/* The intent is committed: a lost nudge only waits for order-execution's next scan. */
	if (worker_send(s->w, IPC_ORDER_INTENT, &intent_id, sizeof(intent_id)) < 0)
		log_warnx("strategy: ORDER_INTENT %lld not sent: order-execution finds it when it "
			  "scans",
			  (long long)intent_id);
}

/* The daily loss limit: reached, it pauses trading (the kill switch) and alerts once. */
static int loss_limit_reached(struct strategy *s, const char *day)
{
	dec8 result = sdb_day_result(&s->sdb, day);
	char text[DEC8_BUF], limit[DEC8_BUF], reason[160], alert[256];
	int64_t id;

	if (!strat_loss_limit_hit(result, s->loss_limit))
		return 0;
	dec8_format(result, text);
	dec8_format(s->loss_limit, limit);
	snprintf(reason, sizeof(reason), "daily loss limit: %s KRW on %s (limit %s)", text, day,
		 limit);
	/* The pause and its alert together: a crash between the two would leave trading paused
	 * and nobody told (a paused strategy does not come this way again). */
	snprintf(alert, sizeof(alert), "trading paused: %s; tradectl resume to trade again",
		 reason);
	id = sdb_pause_with_alert(&s->sdb, reason, role_name(s->w->role), OUTBOX_CRITICAL,
				  "daily_loss_limit", alert);
	if (id > 0) {
		log_warnx("%s", alert);
		if (s->outbox.stored)
			s->outbox.stored(s->outbox.arg, id);
	}
	return 1;
}

void strategy_refresh_position(struct strategy *s, struct strat_market *m)
{
	if (sdb_position(&s->sdb, m->market, &m->position, &m->cost) < 0)
		return;
	m->entry_price = 0;
	if (m->position > 0 && dec8_div(m->cost, m->position, DEC8_HALF_EVEN, &m->entry_price) < 0)
		m->entry_price = 0;
}

static int host_enter(struct strat_market *m, dec8 ref, const char *detail)
{
	struct strategy *s = strategy_of(m);
	struct strategy_slot *slot = (struct strategy_slot *)m;
	const char *why = NULL;
	char reason[128];
	dec8 funds, balance = 0, price = 0, volume = 0;
	int have_balance, paused;
	int64_t id, bids;

	if (!m->window_open)
		return refuse(m, "outside the trading window");
	paused = sdb_paused(&s->sdb, reason, sizeof(reason));
	if (paused != 0)
		return refuse(m, "trading is paused (%s)", paused < 0 ? "unreadable" : reason);
	if (m->stale || m->price <= 0)
		return refuse(m, "no fresh price");
	if (s->w->peers_down)
		return refuse(m, "order-execution or market-data is not running");
	if (sdb_signal_exists(&s->sdb, strategy_key(m), m->market, m->day, "entry"))
		return 0; /* entered today already: the one entry of the day */
	bids = sdb_market_bids_since(&s->sdb, m->market, m->day_start_ms);
	if (bids < 0)
		return refuse(m, "today's orders are unreadable");
	if (bids > 0)
		return 0; /* bought today without a signal here: recovered after a restore */
	if (sdb_entries_since(&s->sdb, m->day_start_ms) >= s->w->cfg.s.strategy.max_orders_per_day)
		return refuse(m, "strategy.max_orders_per_day reached");
	if (loss_limit_reached(s, m->day))
		return refuse(m, "daily loss limit reached: trading paused");
	strategy_refresh_position(s, m);
	have_balance = sdb_balance_krw(&s->sdb, &balance);
	if (strat_entry_funds(&s->sizing, balance, have_balance, m->cost,
			      sdb_positions_total(&s->sdb), &funds, &why) < 0)
		return refuse(m, "%s", why);
	if (s->w->cfg.s.strategy.buy_type == 1 &&
	    strat_limit_order(funds, ref, &price, &volume, &why) < 0)
		return refuse(m, "%s", why);
	id = sdb_signal_intent(&s->sdb, strategy_key(m), m->market, m->day, "entry", detail, "bid",
			       price ? "limit" : "price", price, volume, price ? 0 : funds);
	if (id <= 0)
		return id < 0 ? -1 : 0;
	slot->entries++;
	slot->last_refusal[0] = '\0';
	nudge(s, id); /* before the log line: order-execution does not wait for it */
	log_notice("%s: entry intent %lld (%s)", m->market, (long long)id, detail);
	return 1;
}

static int host_exit(struct strat_market *m, const char *kind, const char *detail)
{
	struct strategy *s = strategy_of(m);
	struct strategy_slot *slot = (struct strategy_slot *)m;
	int64_t id;

	strategy_refresh_position(s, m);
	if (m->position <= 0)
		return 0;
	id = sdb_signal_intent(&s->sdb, strategy_key(m), m->market, m->day, kind, detail, "ask",
			       "market", 0, m->position, 0);
	if (id <= 0)
		return id < 0 ? -1 : 0;
	slot->exits++;
	nudge(s, id);
	log_notice("%s: %s intent %lld (%s)", m->market, kind, (long long)id, detail);
	return 1;
}

static int host_levels(struct strat_market *m, int ma_days, struct strat_levels *out)
{
	return sdb_levels(&strategy_of(m)->sdb, m->market, m->day_start_ms, ma_days, out);
}

static int host_signal_exists(struct strat_market *m, const char *kind)
{
	return sdb_signal_exists(&strategy_of(m)->sdb, strategy_key(m), m->market, m->day, kind);
}

static void host_checkpoint(struct strat_market *m, const char *state)
{
	sdb_state_put(&strategy_of(m)->sdb, strategy_key(m), m->market, state);
}

/* The market entry's value, else the strategy section's default for the keys it has. */
static const char *host_param(struct strat_market *m, const char *key)
{
	struct strategy_slot *slot = (struct strategy_slot *)m;
	const struct config_settings *cs = &strategy_of(m)->w->cfg.s;
	const char *v = strat_entry_param(&slot->entry, key);
	double d;

	if (v)
		return v;
	if (strcmp(key, "on_window_close") == 0)
		return cs->strategy.on_window_close ? "hold" : "flatten";
	if (strcmp(key, "ma_days") == 0) {
		snprintf(slot->param_buf, sizeof(slot->param_buf), "%lld",
			 (long long)cs->strategy.ma_days);
		return slot->param_buf;
	}
	if (strcmp(key, "k") == 0)
		d = cs->strategy.k;
	else if (strcmp(key, "stop_loss_pct") == 0)
		d = cs->strategy.stop_loss_pct;
	else
		return NULL;
	snprintf(slot->param_buf, sizeof(slot->param_buf), "%.8f", d);
	return slot->param_buf;
}

const struct strategy_host strategy_host = {
	.enter = host_enter,
	.exit = host_exit,
	.levels = host_levels,
	.signal_exists = host_signal_exists,
	.checkpoint = host_checkpoint,
	.param = host_param,
};
