/* The price process of each market: a seeded random walk of trades (or a replay of a candle
 * file), folded into minute and day candles, plus the order book synthesized around it. */
#include "sim/sim_state.h"

#include "common/log.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MIN_MS 60000LL
#define DAY_MS 86400000LL

static const struct {
	const char *base, *korean, *english;
} known_names[] = {
	{"BTC", "비트코인", "Bitcoin"}, {"ETH", "이더리움", "Ethereum"},  {"XRP", "리플", "XRP"},
	{"SOL", "솔라나", "Solana"},	{"DOGE", "도지코인", "Dogecoin"},
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Day candles before the minute history: a backward walk ending at the history's first price,
 * so long day-candle queries (moving averages) find data. */
static void gen_prehistory_days(struct sim_market *m, int64_t first_day, int ndays)
{
	struct sim_candle *tmp = ndays > 0 ? calloc((size_t)ndays, sizeof(*tmp)) : NULL;
	double close = m->walk;
	int k;

	if (!tmp)
		return;
	/* Walked backwards from the first minute's price, stored oldest first. */
	for (k = ndays - 1; k >= 0; k--) {
		struct sim_candle *c = &tmp[k];
		double open = round_to_tick(close * exp(0.02 * rng_normal(&m->rng)));
		double swing = fabs(0.01 * rng_normal(&m->rng));
		int64_t d = first_day - ndays + k;

		c->open = open;
		c->close = round_to_tick(close);
		c->high = round_to_tick((open > c->close ? open : c->close) * (1 + swing));
		c->low = round_to_tick((open < c->close ? open : c->close) * (1 - swing));
		c->volume = round8(5e9 * (0.5 + rng_unit(&m->rng)) / c->close);
		c->value = round8(c->volume * (c->open + c->close) / 2);
		c->last_ms = (d + 1) * DAY_MS - 1 - (int64_t)(rng_unit(&m->rng) * 60000);
		c->has_trade = 1;
		close = open;
	}
	for (k = 0; k < ndays; k++) {
		struct sim_candle *slot = candle_ring_extend(&m->days, first_day - ndays + k);

		if (slot)
			*slot = tmp[k];
	}
	free(tmp);
}

int market_init(struct sim_market *m, const char *code, double start_price, unsigned index,
		const struct price_params *pp, int64_t now_ms)
{
	const char *dash = strchr(code, '-');
	size_t i;
	int64_t first_min, first_day;

	memset(m, 0, sizeof(*m));
	if (!dash || strlen(code) >= sizeof(m->code) || strlen(dash + 1) >= sizeof(m->base) ||
	    !(start_price > 0))
		return -1;
	strcpy(m->code, code);
	strcpy(m->base, dash + 1);
	snprintf(m->korean_name, sizeof(m->korean_name), "%s", m->base);
	snprintf(m->english_name, sizeof(m->english_name), "%s", m->base);
	for (i = 0; i < sizeof(known_names) / sizeof(known_names[0]); i++) {
		if (strcmp(known_names[i].base, m->base) == 0) {
			snprintf(m->korean_name, sizeof(m->korean_name), "%s",
				 known_names[i].korean);
			snprintf(m->english_name, sizeof(m->english_name), "%s",
				 known_names[i].english);
		}
	}
	/* Keyed by the market code, not its position, so adding a market changes no other. */
	(void)index;
	rng_seed(&m->rng, pp->seed ^ hash_str(code));
	m->start_price = start_price;
	m->walk = start_price;
	if (candle_ring_init(&m->minutes, (size_t)pp->history_min + 1440 + 2, MIN_MS) < 0 ||
	    candle_ring_init(&m->days,
			     (size_t)pp->history_days + (size_t)pp->history_min / 1440 + 400,
			     DAY_MS) < 0) {
		market_free(m);
		return -1;
	}
	/* History starts on a UTC day boundary so the first day candle is complete. */
	first_min = floor_div(floor_div(now_ms, MIN_MS) - pp->history_min, 1440) * 1440;
	first_day = first_min / 1440;
	gen_prehistory_days(m, first_day, pp->history_days);
	m->cur_min = first_min - 1;
	m->nticks = m->visible = 0;
	m->last_price = round_to_tick(start_price);
	return 0;
}

void market_free(struct sim_market *m)
{
	candle_ring_free(&m->minutes);
	candle_ring_free(&m->days);
	free(m->replay);
	m->replay = NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void gen_replay_minute(struct sim_market *m, const struct replay_row *r, int64_t start)
{
	double px[4];
	int k;

	/* Open, the nearer extreme first, the other extreme, close: a plausible intra-minute path. */
	px[0] = r->open;
	px[1] = r->close >= r->open ? r->low : r->high;
	px[2] = r->close >= r->open ? r->high : r->low;
	px[3] = r->close;
	m->nticks = 4;
	for (k = 0; k < 4; k++) {
		m->ticks[k].ms = start + 1000 + k * 19000;
		m->ticks[k].price = px[k];
		m->ticks[k].volume = round8(r->volume / 4);
	}
	m->walk = r->close;
}

static void gen_minute(struct sim_market *m, const struct price_params *pp, int64_t min)
{
	int64_t start = min * MIN_MS, offs[SIM_MAX_TICKS];
	double gap = rng_unit(&m->rng);
	int n, k;

	m->nticks = m->visible = 0;
	if (m->replay) {
		while (m->replay_pos < m->nreplay && m->replay[m->replay_pos].ms < start)
			m->replay_pos++;
		if (m->replay_pos < m->nreplay && m->replay[m->replay_pos].ms == start) {
			gen_replay_minute(m, &m->replay[m->replay_pos++], start);
			return;
		}
		/* Before the file's first minute there was no trade; after its last the walk goes on. */
		if (m->nreplay && start < m->replay[m->nreplay - 1].ms)
			return;
	}
	if (gap < pp->gap_prob)
		return;
	n = 1 + (int)(rng_unit(&m->rng) * 12);
	for (k = 0; k < n; k++)
		offs[k] = (int64_t)(rng_unit(&m->rng) * (MIN_MS - 1));
	qsort(offs, (size_t)n, sizeof(offs[0]), cmp_i64);
	for (k = 0; k < n; k++) {
		double value = 2e6 * exp(rng_normal(&m->rng));

		m->walk *= exp(pp->volatility / sqrt((double)n) * rng_normal(&m->rng));
		m->ticks[k].ms = start + offs[k];
		m->ticks[k].price = round_to_tick(m->walk);
		m->ticks[k].volume = round8(value / m->ticks[k].price);
		if (m->ticks[k].volume <= 0)
			m->ticks[k].volume = 0.00000001;
	}
	m->nticks = n;
}

static void ticks_candle(const struct sim_market *m, int upto, struct sim_candle *c)
{
	int k;

	memset(c, 0, sizeof(*c));
	for (k = 0; k < upto; k++) {
		const struct sim_tick *t = &m->ticks[k];

		if (!c->has_trade) {
			c->open = c->high = c->low = t->price;
			c->has_trade = 1;
		}
		if (t->price > c->high)
			c->high = t->price;
		if (t->price < c->low)
			c->low = t->price;
		c->close = t->price;
		c->volume += t->volume;
		c->value += t->volume * t->price;
		c->last_ms = t->ms;
	}
}

int market_partial(const struct sim_market *m, struct sim_candle *out)
{
	ticks_candle(m, m->visible, out);
	return out->has_trade ? 0 : -1;
}

void market_advance(struct sim_market *m, const struct price_params *pp, int64_t now_ms, tick_cb cb,
		    void *ctx)
{
	int64_t now_min = floor_div(now_ms, MIN_MS);
	struct sim_candle c, *slot;

	for (;;) {
		while (m->visible < m->nticks && m->ticks[m->visible].ms <= now_ms) {
			const struct sim_tick *t = &m->ticks[m->visible++];

			m->last_price = t->price;
			m->last_volume = t->volume;
			m->last_trade_ms = t->ms;
			if (cb)
				cb(ctx, m, t);
		}
		if (m->cur_min >= now_min)
			break;
		ticks_candle(m, m->nticks, &c);
		slot = candle_ring_extend(&m->minutes, m->cur_min);
		if (slot)
			*slot = c;
		if (c.has_trade) {
			slot = candle_ring_extend(&m->days, floor_div(m->cur_min, 1440));
			if (slot)
				candle_merge(slot, &c);
		}
		m->cur_min++;
		gen_minute(m, pp, m->cur_min);
	}
}

void book_build(const struct sim_market *m, int64_t now_ms, struct book_level out[SIM_BOOK_LEVELS])
{
	double last = m->last_price > 0 ? m->last_price : round_to_tick(m->start_price);
	double ask = last, bid = round8(last - tick_size_krw(last * (1 - 1e-9)));
	struct sim_rng r;
	int i;

	/* Sizes change once per second of clock time and are the same for every reader. */
	rng_seed(&r, hash_str(m->code) ^ (uint64_t)floor_div(now_ms, 1000));
	for (i = 0; i < SIM_BOOK_LEVELS; i++) {
		out[i].ask_price = ask;
		out[i].bid_price = bid > 0 ? bid : 0;
		out[i].ask_size = round8(1e6 * (0.5 + 20 * rng_unit(&r)) / ask);
		out[i].bid_size = bid > 0 ? round8(1e6 * (0.5 + 20 * rng_unit(&r)) / bid) : 0;
		if (out[i].ask_size <= 0)
			out[i].ask_size = 0.00000001;
		ask = round8(ask + tick_size_krw(ask));
		if (bid > 0)
			bid = round8(bid - tick_size_krw(bid * (1 - 1e-9)));
	}
}

static int parse_row(char *line, const char *default_market, char *market, size_t mlen,
		     struct replay_row *row)
{
	char *f[8], *save = NULL, *tok;
	int n = 0;
	double v[6];
	int i, off;

	for (tok = strtok_r(line, ",", &save); tok && n < 8; tok = strtok_r(NULL, ",", &save))
		f[n++] = tok;
	if (n != 6 && n != 7)
		return -1;
	off = n - 6;
	if (off)
		snprintf(market, mlen, "%s", f[0]);
	else
		snprintf(market, mlen, "%s", default_market);
	for (i = 0; i < 6; i++) {
		char *end;

		errno = 0;
		v[i] = strtod(f[off + i], &end);
		while (*end == ' ' || *end == '\r' || *end == '\n')
			end++;
		if (*end || end == f[off + i] || errno || !isfinite(v[i]))
			return -1;
	}
	if (!(v[1] > 0 && v[2] > 0 && v[3] > 0 && v[4] > 0 && v[5] >= 0) || v[2] < v[3])
		return -1;
	row->ms = floor_div((int64_t)v[0], MIN_MS) * MIN_MS;
	row->open = v[1];
	row->high = v[2];
	row->low = v[3];
	row->close = v[4];
	row->volume = v[5];
	return 0;
}

static int cmp_row(const void *a, const void *b)
{
	const struct replay_row *x = a, *y = b;

	return (x->ms > y->ms) - (x->ms < y->ms);
}

int replay_load(const char *path, const char *default_market, struct sim_market *markets,
		size_t nmarkets, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char line[512], market[64];
	int lineno = 0, total = 0;
	size_t i;

	if (!fp) {
		snprintf(err, errlen, "cannot open candle file %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		struct replay_row row;
		struct sim_market *m = NULL;

		lineno++;
		if (line[0] == '#' || line[0] == '\n' || line[0] == '\r')
			continue;
		if (parse_row(line, default_market, market, sizeof(market), &row) < 0) {
			/* The first line may be a header. */
			if (lineno == 1)
				continue;
			snprintf(err, errlen, "%s:%d: bad candle row", path, lineno);
			fclose(fp);
			return -1;
		}
		for (i = 0; i < nmarkets; i++)
			if (strcmp(markets[i].code, market) == 0)
				m = &markets[i];
		if (!m) {
			snprintf(err, errlen, "%s:%d: market %s is not in --markets", path, lineno,
				 market);
			fclose(fp);
			return -1;
		}
		if (m->nreplay % 1024 == 0) {
			struct replay_row *nr =
				realloc(m->replay, (m->nreplay + 1024) * sizeof(*nr));

			if (!nr) {
				snprintf(err, errlen, "out of memory reading %s", path);
				fclose(fp);
				return -1;
			}
			m->replay = nr;
		}
		m->replay[m->nreplay++] = row;
		total++;
	}
	fclose(fp);
	for (i = 0; i < nmarkets; i++) {
		if (!markets[i].nreplay)
			continue;
		qsort(markets[i].replay, markets[i].nreplay, sizeof(struct replay_row), cmp_row);
		markets[i].walk = markets[i].replay[0].open;
	}
	return total;
}
