/* market-data's prices: one ticker request for every market each interval, checked, published
 * as coalescing TICKs; a market with no valid price for stale_after_s is declared stale. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/outbox.h"
#include "workers/market_data.h"

/* The reply lists the markets in the order they were asked for: the i-th is tried first. */
static struct md_market *find_market(struct market_data *md, const char *name, size_t hint)
{
	if (hint < md->n && strcmp(md->markets[hint].name, name) == 0)
		return &md->markets[hint];
	for (size_t i = 0; i < md->n; i++)
		if (strcmp(md->markets[i].name, name) == 0)
			return &md->markets[i];
	return NULL;
}

static void set_stale(struct market_data *md, struct md_market *m, int stale, int64_t now)
{
	struct ipc_market_state st;

	if (m->stale == stale)
		return;
	m->stale = stale;
	memset(&st, 0, sizeof(st));
	snprintf(st.market, sizeof(st.market), "%s", m->name);
	st.stale = stale;
	st.since_ms = now;
	worker_send_coalesce(md->w, IPC_MARKET_STATE, m->name, &st, sizeof(st));
	if (stale)
		md_alert(md, OUTBOX_WARNING, "market_data_stale",
			 "market data stale: no valid price for %s for %lld s; strategies must not "
			 "trade on it",
			 m->name, (long long)((now - m->last_valid_ms) / 1000));
	else
		md_alert(md, OUTBOX_INFO, "market_data_fresh", "market data for %s is fresh again",
			 m->name);
}

/* One market's price from a reply: checked, kept and published as a TICK. */
static void publish(struct market_data *md, struct md_market *m, const struct upbit_ticker *v,
		    int64_t now)
{
	struct ipc_tick tick;

	m->reply_seq = md->reply_seq;
	if (v->trade_timestamp_ms < m->last_trade_ms) {
		/* A replayed or reordered answer: keep the newer price we have. */
		md->ticks_out_of_order++;
		return;
	}
	m->last_trade_ms = v->trade_timestamp_ms;
	m->last_valid_ms = now;
	m->last_price_e8 = v->trade_price_e8;
	set_stale(md, m, 0, now);
	memset(&tick, 0, sizeof(tick));
	snprintf(tick.market, sizeof(tick.market), "%s", m->name);
	tick.trade_ts_ms = v->trade_timestamp_ms;
	tick.price_e8 = v->trade_price_e8;
	tick.acc_volume_24h_e8 = v->acc_trade_volume_24h_e8;
	if (worker_send_coalesce(md->w, IPC_TICK, m->name, &tick, sizeof(tick)) == 0)
		md->ticks_published++;
}

static void on_tickers(void *arg, const struct upbit_result *r, const struct upbit_ticker *v,
		       size_t n)
{
	struct market_data *md = arg;
	int64_t now = clock_now_ms(), got_us = clock_mono_us();

	md->ticker_busy = 0;
	if (r->status != UPBIT_OK) {
		md->ticker_failed++;
		if (r->status != UPBIT_ERR_CANCELLED)
			log_debug("ticker: %s (http %ld)", upbit_status_name(r->status),
				  r->http_status);
		return;
	}
	md->ticker_ok++;
	md->reply_seq++;
	/* Every tick goes out, those whose price moved first: a strategy acting on a move does
	 * not wait behind the unchanged markets in any queue on the way. */
	for (int moved = 1; moved >= 0; moved--) {
		for (size_t i = 0; i < n; i++) {
			struct md_market *m = find_market(md, v[i].market, i);

			/* NULL: the exchange answered for a market we did not ask for. */
			if (m && m->reply_seq != md->reply_seq &&
			    (!moved || v[i].trade_price_e8 != m->last_price_e8))
				publish(md, m, &v[i], now);
		}
	}
	if (md->trace) {
		/* After the ticks went out: off the measured path. */
		for (size_t i = 0; i < n; i++)
			fprintf(md->trace, "%" PRId64 " %s %" PRId64 "\n", got_us, v[i].market,
				v[i].trade_price_e8);
		fflush(md->trace);
	}
}

static void ticker_tick(uv_timer_t *timer)
{
	struct market_data *md = timer->data;
	int rc;

	if (md->ticker_busy)
		return; /* never pile requests up behind a slow exchange */
	if (md->n_names == 0)
		return;
	rc = upbit_get_tickers(md->client, md->names, md->n_names, on_tickers, md);
	if (rc == 0)
		md->ticker_busy = 1;
	else
		md->ticker_failed++;
}

void md_stale_check(uv_timer_t *timer)
{
	struct market_data *md = timer->data;
	int64_t now = clock_now_ms();

	outbox_retry(&md->outbox);
	for (size_t i = 0; i < md->n; i++) {
		struct md_market *m = &md->markets[i];

		if (!m->stale && !m->unlisted && now - m->last_valid_ms > md->stale_after_ms)
			set_stale(md, m, 1, now);
	}
}

static uint64_t real_interval(int64_t clock_ms)
{
	uint64_t ms = clock_timer_ms(clock_ms);

	return ms < MD_MIN_TIMER_MS ? MD_MIN_TIMER_MS : ms;
}

void md_ticker_start(struct market_data *md)
{
	uint64_t every = real_interval(md->w->cfg.s.market_data.ticker_interval_ms);

	/* Test-only, for the tick-to-order benchmark: the instant (CLOCK_MONOTONIC, as the
	 * simulator's recorder) each ticker reply was in, and its prices, flushed per reply. */
	if (!md->trace && worker_fault(md->w, "trace-ticks")) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/tick-trace.txt", md->w->cfg.s.data_dir);
		md->trace = fopen(path, "ae");
		if (!md->trace)
			log_warn("%s", path);
	}

	uv_timer_start(&md->ticker_timer, ticker_tick, 0, every);
}

/* From the start, before the market list is checked: an exchange that does not answer at
 * all must still make every market stale in time. */
void md_stale_start(struct market_data *md)
{
	uint64_t check = real_interval(1000);

	uv_timer_start(&md->stale_timer, md_stale_check, check, check);
}
