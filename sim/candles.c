/* Candle storage (a minute ring and a day ring per market) and candle queries:
 * newest first, `to` exclusive, only intervals that had a trade, shaped as Upbit's JSON. */
#include "sim/sim_state.h"

#include "common/clock.h"

#include <stdlib.h>
#include <string.h>

int candle_ring_init(struct candle_ring *r, size_t cap, int64_t span_ms)
{
	r->slots = calloc(cap, sizeof(*r->slots));
	if (!r->slots)
		return -1;
	r->cap = cap;
	r->head = -1;
	r->count = 0;
	r->span_ms = span_ms;
	return 0;
}

void candle_ring_free(struct candle_ring *r)
{
	free(r->slots);
	r->slots = NULL;
	r->cap = r->count = 0;
}

static size_t slot_of(const struct candle_ring *r, int64_t idx)
{
	int64_t m = idx % (int64_t)r->cap;

	return (size_t)(m < 0 ? m + (int64_t)r->cap : m);
}

struct sim_candle *candle_ring_at(struct candle_ring *r, int64_t idx)
{
	if (r->count == 0 || idx > r->head || idx <= r->head - (int64_t)r->count)
		return NULL;
	return &r->slots[slot_of(r, idx)];
}

struct sim_candle *candle_ring_extend(struct candle_ring *r, int64_t idx)
{
	if (r->count == 0) {
		r->head = idx;
		r->count = 1;
		memset(&r->slots[slot_of(r, idx)], 0, sizeof(struct sim_candle));
		return &r->slots[slot_of(r, idx)];
	}
	if (idx <= r->head)
		return candle_ring_at(r, idx);
	/* A jump longer than the ring clears it rather than looping over the gap. */
	if (idx - r->head >= (int64_t)r->cap) {
		memset(r->slots, 0, r->cap * sizeof(*r->slots));
		r->head = idx;
		r->count = 1;
		return &r->slots[slot_of(r, idx)];
	}
	while (r->head < idx) {
		r->head++;
		memset(&r->slots[slot_of(r, r->head)], 0, sizeof(struct sim_candle));
		if (r->count < r->cap)
			r->count++;
	}
	return &r->slots[slot_of(r, idx)];
}

void candle_merge(struct sim_candle *into, const struct sim_candle *c)
{
	if (!c->has_trade)
		return;
	if (!into->has_trade) {
		*into = *c;
		return;
	}
	if (c->high > into->high)
		into->high = c->high;
	if (c->low < into->low)
		into->low = c->low;
	into->close = c->close;
	into->volume += c->volume;
	into->value += c->value;
	if (c->last_ms > into->last_ms)
		into->last_ms = c->last_ms;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* One bucket [start, start+period) aggregated from the minute ring and the live minute. */
static void minute_bucket(const struct sim_market *m, int64_t start_min, int unit,
			  const struct sim_candle *partial, struct sim_candle *out)
{
	struct candle_ring *r = (struct candle_ring *)&m->minutes;
	int64_t i;

	memset(out, 0, sizeof(*out));
	for (i = start_min; i < start_min + unit; i++) {
		const struct sim_candle *c = candle_ring_at(r, i);

		if (c)
			candle_merge(out, c);
		else if (i == m->cur_min && partial)
			candle_merge(out, partial);
	}
}

size_t candles_query(const struct sim_market *m, int unit, int64_t to_ms, size_t count,
		     struct sim_candle *out, int64_t *starts)
{
	struct sim_candle partial, c;
	int have_partial = market_partial(m, &partial) == 0;
	size_t n = 0;

	if (unit > 0) {
		int64_t oldest = m->minutes.count ? m->minutes.head - (int64_t)m->minutes.count + 1
						  : m->cur_min;
		int64_t b = floor_div(floor_div(to_ms - 1, 60000), unit) * unit;

		for (; n < count && b + unit > oldest; b -= unit) {
			minute_bucket(m, b, unit, have_partial ? &partial : NULL, &c);
			if (!c.has_trade)
				continue;
			out[n] = c;
			starts[n++] = b * 60000;
		}
		return n;
	}
	{
		struct candle_ring *r = (struct candle_ring *)&m->days;
		int64_t oldest = r->count ? r->head - (int64_t)r->count + 1 : 0;
		int64_t cur_day = floor_div(m->cur_min, 1440);
		int64_t d = floor_div(to_ms - 1, 86400000);

		for (; n < count && r->count && d >= oldest; d--) {
			const struct sim_candle *dc = candle_ring_at(r, d);

			memset(&c, 0, sizeof(c));
			if (dc)
				c = *dc;
			if (d == cur_day && have_partial)
				candle_merge(&c, &partial);
			if (!c.has_trade)
				continue;
			out[n] = c;
			starts[n++] = d * 86400000;
		}
	}
	return n;
}

json_t *candle_json(const struct sim_market *m, int unit, int64_t start_ms,
		    const struct sim_candle *c, double prev_close)
{
	char utc[32], kst[32];
	json_t *j;

	clock_format(start_ms, 0, utc, sizeof(utc));
	clock_format(start_ms, 540, kst, sizeof(kst));
	j = json_pack("{s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:I,s:f,s:f}", "market", m->code,
		      "candle_date_time_utc", utc, "candle_date_time_kst", kst, "opening_price",
		      c->open, "high_price", c->high, "low_price", c->low, "trade_price", c->close,
		      "timestamp", (json_int_t)c->last_ms, "candle_acc_trade_price",
		      round8(c->value), "candle_acc_trade_volume", round8(c->volume));
	if (!j)
		return NULL;
	if (unit > 0) {
		json_object_set_new(j, "unit", json_integer(unit));
	} else {
		json_object_set_new(j, "prev_closing_price", json_real(prev_close));
		json_object_set_new(j, "change_price", json_real(round8(c->close - prev_close)));
		json_object_set_new(
			j, "change_rate",
			json_real(prev_close > 0 ? (c->close - prev_close) / prev_close : 0.0));
	}
	return j;
}
