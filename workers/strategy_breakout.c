/* Volatility breakout as traded on Upbit: the day starts at 09:00 KST, the target is today's
 * open + k x (yesterday's high - low); buy once when the price reaches it inside the window
 * (optionally only above the N-day average), sell at the window's close or at a stop-loss. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "workers/strategy_api.h"
#include "workers/strategy_calc.h"

struct breakout {
	dec8 k, stop; /* stop: share of the entry price, 0 for none */
	int ma_days;
	int flatten;	     /* sell at the window's close */
	char day[16];	     /* the day the target belongs to */
	dec8 target;	     /* 0 until the candles allow it */
	int target_final;    /* from today's first minute candle, not yesterday's close */
	dec8 ma;	     /* the N-day average, 0 when not known */
	int entered, exited; /* today's signals, as recorded */
};

static int param_dec(struct strat_market *m, const char *key, dec8 *out, char *err, size_t len)
{
	const char *v = m->host->param(m, key);

	if (!v || dec8_parse(v, out) < 0 || *out < 0) {
		snprintf(err, len, "%s: parameter %s=%s is not a non-negative decimal", m->market,
			 key, v ? v : "(none)");
		return -1;
	}
	return 0;
}

static void checkpoint(struct strat_market *m)
{
	struct breakout *b = m->priv;
	json_t *o = json_pack("{s:s, s:I, s:b, s:b, s:b}", "day", b->day, "target_e8",
			      (json_int_t)b->target, "target_final", b->target_final, "entered",
			      b->entered, "exited", b->exited);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	if (text)
		m->host->checkpoint(m, text);
	free(text);
	json_decref(o);
}

/* A new trading day: forget yesterday's target; what was decided today is in signals. */
static void roll_day(struct strat_market *m)
{
	struct breakout *b = m->priv;

	if (strcmp(b->day, m->day) == 0)
		return;
	snprintf(b->day, sizeof(b->day), "%s", m->day);
	b->target = b->ma = 0;
	b->target_final = 0;
	b->entered = m->host->signal_exists(m, "entry");
	b->exited = m->host->signal_exists(m, "exit") || m->host->signal_exists(m, "stop");
	checkpoint(m);
}

static void compute_target(struct strat_market *m)
{
	struct breakout *b = m->priv;
	struct strat_levels lv;
	dec8 t;

	if (b->target_final)
		return;
	if (m->host->levels(m, b->ma_days, &lv) < 0)
		return; /* the candles are not stored yet: the next check tries again */
	if (strat_target(lv.today_open, lv.prev_high, lv.prev_low, b->k, &t) < 0) {
		log_warnx("%s: no target from open %lld high %lld low %lld", m->market,
			  (long long)lv.today_open, (long long)lv.prev_high,
			  (long long)lv.prev_low);
		return;
	}
	if (t != b->target) {
		char ts[DEC8_BUF];

		dec8_format(t, ts);
		log_info("%s: %s target %s%s", m->market, m->day, ts,
			 lv.open_final ? "" : " (open from yesterday's close for now)");
	}
	b->target = t;
	b->target_final = lv.open_final;
	b->ma = lv.have_ma ? lv.ma : 0;
	checkpoint(m);
}

static int breakout_init(struct strat_market *m, char *err, size_t len)
{
	struct breakout *b = calloc(1, sizeof(*b));
	dec8 pct, ma_days;
	json_t *saved;

	if (!b) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	m->priv = b;
	if (param_dec(m, "k", &b->k, err, len) < 0 ||
	    param_dec(m, "stop_loss_pct", &pct, err, len) < 0 ||
	    param_dec(m, "ma_days", &ma_days, err, len) < 0)
		return -1;
	if (ma_days % DEC8_ONE != 0 || ma_days / DEC8_ONE > 200 || pct > 100 * DEC8_ONE) {
		snprintf(err, len,
			 "%s: ma_days must be a whole number up to 200 and stop_loss_pct "
			 "at most 100",
			 m->market);
		return -1;
	}
	b->ma_days = (int)(ma_days / DEC8_ONE);
	b->stop = pct / 100;
	const char *close = m->host->param(m, "on_window_close");

	if (strcmp(close, "flatten") != 0 && strcmp(close, "hold") != 0) {
		snprintf(err, len, "%s: on_window_close=%s: expected flatten or hold", m->market,
			 close);
		return -1;
	}
	b->flatten = strcmp(close, "flatten") == 0;
	/* A checkpoint of today gives back the target; the signals table says the rest. */
	saved = m->saved_state ? json_loads(m->saved_state, 0, NULL) : NULL;
	if (saved) {
		const char *day = json_string_value(json_object_get(saved, "day"));

		if (day && strcmp(day, m->day) == 0) {
			snprintf(b->day, sizeof(b->day), "%s", day);
			b->target = json_integer_value(json_object_get(saved, "target_e8"));
			b->target_final = json_is_true(json_object_get(saved, "target_final"));
		}
		json_decref(saved);
	}
	if (b->day[0]) {
		b->entered = m->host->signal_exists(m, "entry");
		b->exited = m->host->signal_exists(m, "exit") || m->host->signal_exists(m, "stop");
	}
	return 0;
}

static void stop_loss(struct strat_market *m)
{
	struct breakout *b = m->priv;
	dec8 drop, floor;

	if (!b->stop || m->position <= 0 || m->entry_price <= 0 || b->exited)
		return;
	if (dec8_mul(m->entry_price, b->stop, DEC8_DOWN, &drop) < 0)
		return;
	floor = m->entry_price - drop;
	if (m->price > 0 && m->price <= floor && m->host->exit(m, "stop", "stop-loss") == 1) {
		b->exited = 1;
		checkpoint(m);
	}
}

static void breakout_on_tick(struct strat_market *m, int64_t now_ms)
{
	struct breakout *b = m->priv;
	char detail[128], ts[DEC8_BUF], ps[DEC8_BUF];

	(void)now_ms;
	roll_day(m);
	if (!b->target)
		compute_target(m);
	stop_loss(m);
	if (!b->target || b->entered || !m->window_open || m->price < b->target)
		return;
	if (b->ma_days && (!b->ma || m->price <= b->ma))
		return; /* the trend filter: only above the moving average */
	dec8_format(b->target, ts);
	dec8_format(m->price, ps);
	snprintf(detail, sizeof(detail), "price %s reached target %s", ps, ts);
	if (m->host->enter(m, b->target, detail) == 1) {
		b->entered = 1;
		checkpoint(m);
	} else if (m->host->signal_exists(m, "entry")) {
		b->entered = 1; /* decided before a restart */
	}
}

static void breakout_on_check(struct strat_market *m, int64_t now_ms)
{
	struct breakout *b = m->priv;

	roll_day(m);
	compute_target(m);
	/* Level-triggered too: a position still held while the window is closed (a restart
	 * across the close, an exit that failed) is flattened at the next check. */
	if (!m->window_open && b->flatten && !b->exited && m->position > 0 &&
	    m->host->exit(m, "exit", "the trading window is closed") == 1) {
		b->exited = 1;
		checkpoint(m);
	}
	if (b->target && m->price > 0)
		breakout_on_tick(m, now_ms);
}

static void breakout_on_window(struct strat_market *m, int open)
{
	struct breakout *b = m->priv;

	roll_day(m);
	if (open || !b->flatten || b->exited)
		return;
	if (m->host->exit(m, "exit", "the trading window closed") == 1) {
		b->exited = 1;
		checkpoint(m);
	}
}

static void breakout_on_fill(struct strat_market *m)
{
	stop_loss(m);
}

static void breakout_on_candle(struct strat_market *m, const struct strat_candle *c)
{
	struct breakout *b = m->priv;

	/* Today's first minute candle makes the open exact: recompute at once. */
	if (c->unit_min == 1 && c->start_ms >= m->day_start_ms && !b->target_final)
		compute_target(m);
}

static void breakout_fini(struct strat_market *m)
{
	free(m->priv);
	m->priv = NULL;
}

const struct strategy_impl strategy_breakout = {
	.api_version = STRATEGY_API_VERSION,
	.name = "volatility_breakout",
	.init = breakout_init,
	.on_tick = breakout_on_tick,
	.on_candle = breakout_on_candle,
	.on_fill = breakout_on_fill,
	.on_window = breakout_on_window,
	.on_check = breakout_on_check,
	.fini = breakout_fini,
};
