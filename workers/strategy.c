/* The strategy worker: follows prices, candles and fills of its markets, derives the trading
 * window from the clock (level-triggered), and runs each market's strategy (built in or a
 * plugin) through its interface; entries and exits go through strategy_entry.c. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "workers/strategy_int.h"

#define MINUTE_MS 60000

/* Looked for from the hint on, round: a reply's ticks come in the same order each time, so
 * the next market is the next slot and a reply costs n comparisons, not n * n / 2. */
static struct strategy_slot *slot_of(struct strategy *s, const char *market)
{
	for (size_t k = 0; k < s->n; k++) {
		size_t i = (s->slot_hint + k) % s->n;

		if (strncmp(s->slots[i].m.market, market, IPC_MARKET_LEN) == 0) {
			s->slot_hint = i + 1;
			return &s->slots[i];
		}
	}
	return NULL;
}

static struct market_view *view_of(struct strategy *s, const char *market)
{
	for (size_t k = 0; k < s->n_views; k++) {
		size_t i = (s->view_hint + k) % s->n_views;

		if (strncmp(s->views[i].market, market, IPC_MARKET_LEN) == 0) {
			s->view_hint = i + 1;
			return &s->views[i];
		}
	}
	if (s->n_views == STRATEGY_MAX_VIEWS) {
		s->view_overflow++;
		return NULL;
	}
	snprintf(s->views[s->n_views].market, sizeof(s->views[0].market), "%.*s",
		 IPC_MARKET_LEN - 1, market);
	return &s->views[s->n_views++];
}

static void set_day(struct strategy *s, int64_t now)
{
	char day[16];
	int64_t start;

	strat_trading_day(now, day, &start);
	/* Every tick asks: the slots are rewritten only when the day changed. */
	if (s->day_set && start == s->day_start_ms)
		return;
	s->day_set = 1;
	s->day_start_ms = start;
	for (size_t i = 0; i < s->n; i++) {
		snprintf(s->slots[i].m.day, sizeof(s->slots[i].m.day), "%s", day);
		s->slots[i].m.day_start_ms = start;
	}
}

/* Tells every strategy the window opened or closed (the clock's edge or an action). */
static void set_window(struct strategy *s, int open)
{
	int was = s->window_open;

	s->window_open = open;
	set_day(s, clock_now_ms());
	if (was != open)
		log_notice("trading window %s", open ? "open" : "closed");
	for (size_t i = 0; i < s->n; i++) {
		struct strat_market *m = &s->slots[i].m;

		m->window_open = open;
		if (m->impl->on_window)
			m->impl->on_window(m, open);
	}
}

static void run_checks(struct strategy *s)
{
	int64_t now = clock_now_ms();

	s->checks++;
	set_day(s, now);
	for (size_t i = 0; i < s->n; i++) {
		struct strat_market *m = &s->slots[i].m;

		strategy_refresh_position(s, m);
		if (m->impl->on_check)
			m->impl->on_check(m, now);
	}
}

static void check_tick(uv_timer_t *t)
{
	run_checks(t->data);
}

/* Level-triggered: the window is what the clock says; only a change is an edge. */
static void edge_tick(uv_timer_t *t)
{
	struct strategy *s = t->data;
	int open = strat_window_is_open(s->tz, s->open_min, s->close_min, clock_now_ms());

	if (open != s->window_clock) {
		s->window_clock = open;
		set_window(s, open);
	}
	outbox_retry(&s->outbox);
}

static void alert_stored(void *arg, int64_t id)
{
	struct strategy *s = arg;

	worker_send(s->w, IPC_ALERT, &id, sizeof(id));
	s->alerts++;
}

static int dec8_of(double d, dec8 *out)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.8f", d);
	return dec8_parse(buf, out);
}

static int load_settings(struct strategy *s)
{
	const struct config_settings *cs = &s->w->cfg.s;
	char err[256];

	s->tz = tzone_load(cs->strategy.timezone, err, sizeof(err));
	if (!s->tz) {
		log_errx("strategy.timezone: %s", err);
		return -1;
	}
	s->open_min = strat_time_of_day(cs->strategy.window_open);
	s->close_min = strat_time_of_day(cs->strategy.window_close);
	if (s->open_min < 0 || s->close_min < 0) {
		log_errx("strategy.window_open/window_close: expected HH:MM");
		return -1;
	}
	s->sizing.share = cs->strategy.sizing == 1;
	s->sizing.order_krw = cs->strategy.order_krw * DEC8_ONE;
	s->sizing.max_market = cs->strategy.max_position_krw * DEC8_ONE;
	s->sizing.max_total = cs->strategy.max_total_krw * DEC8_ONE;
	s->loss_limit = cs->strategy.daily_loss_limit_krw * DEC8_ONE;
	return dec8_of(cs->strategy.balance_share, &s->sizing.share_e8);
}

static int load_market(struct strategy *s, struct strategy_slot *slot, const char *text)
{
	const char *name;
	char err[512];
	char *saved;
	int rc;

	slot->owner = s;
	if (strat_entry_parse(text, &slot->entry, err, sizeof(err)) < 0) {
		log_errx("strategy.markets: %s", err);
		return -1;
	}
	name = slot->entry.strategy[0] ? slot->entry.strategy : s->w->cfg.s.strategy.name;
	snprintf(slot->m.market, sizeof(slot->m.market), "%s", slot->entry.market);
	if (strchr(name, '/'))
		slot->m.impl = strategy_plugin_load(name, &slot->dl, err, sizeof(err));
	else if (!(slot->m.impl = strategy_builtin(name)))
		snprintf(err, sizeof(err),
			 "%s: no strategy named \"%s\" (built in: "
			 "volatility_breakout; a plugin is a path with a '/')",
			 slot->m.market, name);
	if (!slot->m.impl) {
		log_errx("%s", err);
		return -1;
	}
	slot->m.host = &strategy_host;
	slot->m.window_open = s->window_open;
	strategy_refresh_position(s, &slot->m);
	saved = sdb_state_get(&s->sdb, slot->m.impl->name, slot->m.market);
	slot->m.saved_state = saved;
	rc = slot->m.impl->init(&slot->m, err, sizeof(err));
	slot->m.saved_state = NULL;
	free(saved);
	if (rc < 0) {
		log_errx("strategy %s for %s refused: %s", slot->m.impl->name, slot->m.market, err);
		return -1;
	}
	log_info("%s: strategy %s%s", slot->m.market, slot->m.impl->name,
		 slot->dl ? " (plugin)" : "");
	return 0;
}

static int strategy_init(struct worker *w)
{
	const struct config_list *ml = &w->cfg.s.strategy.markets;
	struct strategy *s = calloc(1, sizeof(*s));
	char reason[160];

	if (!s)
		return -1;
	w->state = s;
	s->w = w;
	uv_timer_init(w->loop, &s->check_timer);
	uv_timer_init(w->loop, &s->edge_timer);
	s->check_timer.data = s->edge_timer.data = s;
	if (load_settings(s) < 0)
		return -1;
	s->db = db_open_worker(w->cfg.s.data_dir,
			       db_busy_ms(w->cfg.s.supervisor.heartbeat_timeout_ms));
	if (!s->db || sdb_open(&s->sdb, s->db) < 0)
		return -1;
	s->ckpt = db_ckpt_start(w->loop, s->db);
	outbox_init(&s->outbox, s->db, role_name(w->role), alert_stored, s);
	/* Whenever the worker starts, the clock says whether the window is open. */
	s->window_clock = s->window_open =
		strat_window_is_open(s->tz, s->open_min, s->close_min, clock_now_ms());
	s->slots = calloc(ml->n ? ml->n : 1, sizeof(*s->slots));
	if (!s->slots)
		return -1;
	s->n = ml->n;
	set_day(s, clock_now_ms());
	for (size_t i = 0; i < ml->n; i++)
		if (load_market(s, &s->slots[i], ml->v[i]) < 0)
			return -1;
	if (sdb_paused(&s->sdb, reason, sizeof(reason)) == 1)
		log_notice("trading is paused (%s): no new entries until tradectl resume", reason);
	log_info("trading window %s (%s %s-%s), %zu markets", s->window_open ? "open" : "closed",
		 w->cfg.s.strategy.timezone, w->cfg.s.strategy.window_open,
		 w->cfg.s.strategy.window_close, s->n);
	uint64_t every = clock_timer_ms(w->cfg.s.strategy.check_interval_s * 1000);
	uint64_t edge = clock_timer_ms(MINUTE_MS);

	/* 0: the scheduler runs the check (the "check" action); one now, at start, all the same. */
	uv_timer_start(&s->check_timer, check_tick, 0,
		       w->cfg.s.strategy.check_interval_s ? (every ? every : 1) : 0);
	uv_timer_start(&s->edge_timer, edge_tick, edge ? edge : 1, edge ? edge : 1);
	return 0;
}

static void on_tick(struct strategy *s, const struct ipc_tick *t)
{
	struct strategy_slot *slot = slot_of(s, t->market);
	struct market_view *v = view_of(s, t->market);

	s->ticks++;
	if (v && t->trade_ts_ms >= v->trade_ts_ms) {
		v->price = t->price_e8;
		v->trade_ts_ms = t->trade_ts_ms;
	}
	if (!slot || t->trade_ts_ms < slot->trade_ts_ms || t->price_e8 <= 0)
		return;
	slot->trade_ts_ms = t->trade_ts_ms;
	slot->m.price = t->price_e8;
	set_day(s, clock_now_ms());
	if (slot->m.impl->on_tick)
		slot->m.impl->on_tick(&slot->m, clock_now_ms());
}

static void strategy_on_msg(struct worker *w, const struct ipc_hdr *hdr, const void *payload)
{
	struct strategy *s = w->state;
	struct strategy_slot *slot;

	switch (hdr->type) {
	case IPC_TICK: {
		struct ipc_tick t;

		memcpy(&t, payload, sizeof(t));
		t.market[IPC_MARKET_LEN - 1] = '\0';
		on_tick(s, &t);
		break;
	}
	case IPC_MARKET_STATE: {
		struct ipc_market_state st;

		memcpy(&st, payload, sizeof(st));
		st.market[IPC_MARKET_LEN - 1] = '\0';
		slot = slot_of(s, st.market);
		if (slot)
			slot->m.stale = st.stale;
		struct market_view *v = view_of(s, st.market);

		if (v)
			v->stale = st.stale;
		log_info("%s: market data %s", st.market,
			 st.stale ? "stale: not trading on it" : "fresh");
		break;
	}
	case IPC_CANDLE: {
		struct ipc_candle c;

		memcpy(&c, payload, sizeof(c));
		c.market[IPC_MARKET_LEN - 1] = '\0';
		s->candles++;
		slot = slot_of(s, c.market);
		if (slot && slot->m.impl->on_candle) {
			struct strat_candle sc = {c.start_ms, c.unit_min, c.open_e8,
						  c.high_e8,  c.low_e8,	  c.close_e8};

			slot->m.impl->on_candle(&slot->m, &sc);
		}
		break;
	}
	case IPC_FILL: {
		struct ipc_fill f;

		memcpy(&f, payload, sizeof(f));
		f.market[IPC_MARKET_LEN - 1] = '\0';
		s->fills++;
		slot = slot_of(s, f.market);
		if (slot) {
			strategy_refresh_position(s, &slot->m);
			if (slot->m.impl->on_fill)
				slot->m.impl->on_fill(&slot->m);
		}
		break;
	}
	default:
		log_warnx("unexpected %s", ipc_type_name(hdr->type));
		break;
	}
}

/* No new entry while order-execution or market-data is not RUNNING (w->peers_down). */
static void strategy_on_peer(struct worker *w, enum role role, int running)
{
	log_notice("%s is %s: new entries %s", role_name(role), running ? "back" : "not running",
		   w->peers_down ? "stopped" : "allowed again");
}

static void run_check(struct worker *w, uint64_t run_id, const char *args)
{
	struct strategy *s = w->state;

	(void)args;
	run_checks(s);
	worker_job_done(w, run_id, JOB_OK, "checked %zu markets, window %s", s->n,
			s->window_open ? "open" : "closed");
}

static void run_window(struct worker *w, uint64_t run_id, int open)
{
	struct strategy *s = w->state;

	/* In force until the clock's next edge, which the edge timer still follows. */
	set_window(s, open);
	worker_job_done(w, run_id, JOB_OK, "window %s for %zu markets", open ? "opened" : "closed",
			s->n);
}

static void run_window_open(struct worker *w, uint64_t run_id, const char *args)
{
	(void)args;
	run_window(w, run_id, 1);
}

static void run_window_close(struct worker *w, uint64_t run_id, const char *args)
{
	(void)args;
	run_window(w, run_id, 0);
}

static const struct worker_action strategy_actions[] = {
	{"check", run_check},
	{"window_open", run_window_open},
	{"window_close", run_window_close},
	{NULL, NULL},
};

static void strategy_status(struct worker *w, json_t *out)
{
	struct strategy *s = w->state;
	json_t *markets = json_object(), *blocked = json_array();
	char price[DEC8_BUF], pos[DEC8_BUF], reason[160];
	int paused;

	if (!s || !s->slots)
		return;
	for (size_t i = 0; i < s->n_views; i++) {
		dec8_format(s->views[i].price, price);
		json_object_set_new(markets, s->views[i].market,
				    json_pack("{s:s, s:I, s:b, s:b}", "price", price, "trade_ts_ms",
					      (json_int_t)s->views[i].trade_ts_ms, "stale",
					      s->views[i].stale, "traded", 0));
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct strategy_slot *sl = &s->slots[i];

		dec8_format(sl->m.price, price);
		dec8_format(sl->m.position, pos);
		json_object_set_new(
			markets, sl->m.market,
			json_pack("{s:s, s:s, s:I, s:b, s:b, s:s, s:s, s:I, s:I, s:I, s:s}",
				  "strategy", sl->m.impl->name, "price", price, "trade_ts_ms",
				  (json_int_t)sl->trade_ts_ms, "stale", sl->m.stale, "traded", 1,
				  "day", sl->m.day, "position", pos, "entries",
				  (json_int_t)sl->entries, "exits", (json_int_t)sl->exits,
				  "refusals", (json_int_t)sl->refusals, "last_refusal",
				  sl->last_refusal));
	}
	json_object_set_new(out, "markets", markets);
	for (int r = 0; r < ROLE_COUNT; r++)
		if (w->peers_down & ROLE_BIT(r))
			json_array_append_new(blocked, json_string(role_name((enum role)r)));
	json_object_set_new(out, "entries_blocked_by", blocked);
	paused = sdb_paused(&s->sdb, reason, sizeof(reason));
	json_object_set_new(out, "window_open", json_boolean(s->window_open));
	json_object_set_new(out, "paused", json_boolean(paused != 0));
	json_object_set_new(out, "counters",
			    json_pack("{s:I, s:I, s:I, s:I, s:I}", "ticks", (json_int_t)s->ticks,
				      "candles", (json_int_t)s->candles, "fills",
				      (json_int_t)s->fills, "checks", (json_int_t)s->checks,
				      "alerts", (json_int_t)s->alerts));
}

static void strategy_stop(struct worker *w)
{
	struct strategy *s = w->state;

	if (!s)
		return;
	/* Freed with the last of its timers. */
	close_count_start(&s->closing, 2, free, s);
	close_count_handle(&s->closing, (uv_handle_t *)&s->check_timer);
	close_count_handle(&s->closing, (uv_handle_t *)&s->edge_timer);
	for (size_t i = 0; s->slots && i < s->n; i++) {
		struct strategy_slot *sl = &s->slots[i];

		if (sl->m.impl && sl->m.impl->fini && sl->m.priv)
			sl->m.impl->fini(&sl->m);
		if (sl->dl)
			dlclose(sl->dl);
	}
	free(s->slots);
	s->slots = NULL;
	db_ckpt_stop(s->ckpt);
	s->ckpt = NULL;
	if (s->db) {
		sdb_close(&s->sdb);
		sqlite3_close(s->db);
		s->db = NULL;
	}
	tzone_free(s->tz);
	s->tz = NULL;
	w->state = NULL;
}

const struct worker_ops strategy_ops = {
	.init = strategy_init,
	.on_msg = strategy_on_msg,
	.on_peer = strategy_on_peer,
	.status = strategy_status,
	.actions = strategy_actions,
	.stop = strategy_stop,
};
