/* market-data's candles: every closed minute (and day) of every market is fetched, paging back
 * from now until the last point known complete, so that an outage leaves no fillable hole. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/dec8.h"
#include "common/log.h"
#include "workers/market_data.h"

#define MINUTE_MS 60000LL
#define DAY_MS 86400000LL
#define PAGE_MAX 200

struct sync_call {
	struct market_data *md;
	size_t market;
	enum md_series series;
};

int64_t md_series_step_ms(enum md_series series)
{
	return series == MD_DAYS ? DAY_MS : MINUTE_MS;
}

static int series_unit(enum md_series series)
{
	return series == MD_DAYS ? 1440 : 1;
}

static void sync_page(struct market_data *md, size_t mi, enum md_series series);
static void candle_pump(struct market_data *md);

static void sync_done(struct market_data *md, struct md_market *m, enum md_series series,
		      int complete)
{
	struct md_sync *s = &m->sync[series];

	if (complete &&
	    candle_store_set_synced(&md->store, m->name, series_unit(series), s->to_ms) == 0 &&
	    s->to_ms > s->synced_ms)
		s->synced_ms = s->to_ms;
	s->busy = 0;
	md->syncs_busy--;
}

static void publish(struct market_data *md, const struct upbit_candle *c, int unit)
{
	struct ipc_candle ic;

	memset(&ic, 0, sizeof(ic));
	_Static_assert(sizeof(ic.market) == sizeof(c->market), "market code sizes differ");
	memcpy(ic.market, c->market, sizeof(ic.market));
	ic.start_ms = c->start_ms;
	ic.unit_min = unit;
	ic.open_e8 = c->open_e8;
	ic.high_e8 = c->high_e8;
	ic.low_e8 = c->low_e8;
	ic.close_e8 = c->close_e8;
	if (dec8_parse(c->volume, &ic.volume_e8) < 0)
		ic.volume_e8 = -1;
	if (worker_send(md->w, IPC_CANDLE, &ic, sizeof(ic)) == 0)
		md->candles_published++;
}

static void on_candles(void *arg, const struct upbit_result *r, const struct upbit_candle *v,
		       size_t n)
{
	struct sync_call *call = arg;
	struct market_data *md = call->md;
	struct md_market *m = &md->markets[call->market];
	enum md_series series = call->series;
	size_t mi = call->market;
	struct md_sync *s = &m->sync[series];
	struct upbit_candle keep[PAGE_MAX];
	size_t nkeep = 0;
	int64_t oldest = s->cursor_ms;
	int requested = (int)((s->cursor_ms - s->from_ms + md_series_step_ms(series) - 1) /
			      md_series_step_ms(series));
	unsigned char fresh[PAGE_MAX];

	free(call);
	if (r->status != UPBIT_OK) {
		md->candle_failures++;
		if (r->status != UPBIT_ERR_CANCELLED)
			log_debug("candles %s: %s", m->name, upbit_status_name(r->status));
		sync_done(md, m, series, 0);
		return;
	}
	md->candle_pages++;
	if (requested > PAGE_MAX)
		requested = PAGE_MAX;
	for (size_t i = 0; i < n && nkeep < PAGE_MAX; i++) {
		if (v[i].start_ms < oldest)
			oldest = v[i].start_ms;
		/* Only closed candles of the range: `to` is exclusive, and older ones are known. */
		if (v[i].start_ms >= s->from_ms && v[i].start_ms < s->cursor_ms)
			keep[nkeep++] = v[i];
	}
	if (candle_store_put(&md->store, keep, nkeep, series_unit(series), fresh) < 0) {
		sync_done(md, m, series, 0);
		return;
	}
	for (size_t i = 0; i < nkeep; i++)
		if (fresh[i] && keep[i].start_ms >= s->to_ms - MD_PUBLISH_WINDOW_MS &&
		    series == MD_MINUTES)
			publish(md, &keep[i], 1);
	/* A short page means the exchange has nothing older; gaps (minutes without a trade) are
	 * skipped by the exchange, so a full page may still end inside the range. */
	if ((int)n < requested || oldest <= s->from_ms || oldest >= s->cursor_ms) {
		sync_done(md, m, series, 1);
		/* Keep the candle group busy: a finished sync makes room for the next one. */
		candle_pump(md);
		return;
	}
	s->cursor_ms = oldest;
	s->pages++;
	sync_page(md, mi, series);
}

static void sync_page(struct market_data *md, size_t mi, enum md_series series)
{
	struct md_market *m = &md->markets[mi];
	struct md_sync *s = &m->sync[series];
	int64_t step = md_series_step_ms(series);
	int64_t count = (s->cursor_ms - s->from_ms + step - 1) / step;
	struct sync_call *call = malloc(sizeof(*call));
	int rc;

	if (count > PAGE_MAX)
		count = PAGE_MAX;
	if (!call) {
		sync_done(md, m, series, 0);
		return;
	}
	*call = (struct sync_call){.md = md, .market = mi, .series = series};
	if (series == MD_DAYS)
		rc = upbit_get_candles_days(md->client, m->name, s->cursor_ms, (int)count,
					    on_candles, call);
	else
		rc = upbit_get_candles_minutes(md->client, 1, m->name, s->cursor_ms, (int)count,
					       on_candles, call);
	if (rc < 0) {
		free(call);
		md->candle_failures++;
		sync_done(md, m, series, 0);
	}
}

/* Starts a sync of one series of one market if closed candles are missing. 1 if started. */
static int sync_start(struct market_data *md, size_t mi, enum md_series series, int64_t now)
{
	struct md_market *m = &md->markets[mi];
	struct md_sync *s = &m->sync[series];
	int64_t step = md_series_step_ms(series);
	/* The start of the current, still open, candle, as of a little while ago. */
	int64_t to = (now - md->candle_grace_ms) / step * step;
	int64_t window = series == MD_DAYS ? MD_DAY_BACKFILL * DAY_MS : md->backfill_ms;
	int64_t from;

	if (s->busy || m->unlisted)
		return 0;
	if (!s->loaded) {
		s->synced_ms = candle_store_synced_until(&md->store, m->name, series_unit(series));
		s->loaded = 1;
	}
	from = s->synced_ms;
	/* Older than the backfill window is history we chose not to fetch, not a hole. */
	if (from < to - window)
		from = to - window;
	if (from >= to)
		return 0;
	s->busy = 1;
	s->from_ms = from;
	s->to_ms = to;
	s->cursor_ms = to;
	s->pages = 0;
	md->syncs_busy++;
	sync_page(md, mi, series);
	return 1;
}

/* Starts due syncs, round robin over markets and series, up to MD_SYNC_CONCURRENCY. */
static void candle_pump(struct market_data *md)
{
	int64_t now = clock_now_ms();
	size_t total = md->n * MD_SERIES_COUNT;

	for (size_t tried = 0; tried < total && md->syncs_busy < MD_SYNC_CONCURRENCY; tried++) {
		size_t k = md->next_sync++ % total;

		sync_start(md, k / MD_SERIES_COUNT, (enum md_series)(k % MD_SERIES_COUNT), now);
	}
}

static void candle_tick(uv_timer_t *timer)
{
	candle_pump(timer->data);
}

void md_candles_start(struct market_data *md)
{
	uint64_t every = clock_timer_ms(2000);

	if (every < MD_MIN_TIMER_MS)
		every = MD_MIN_TIMER_MS;
	uv_timer_start(&md->candle_timer, candle_tick, 0, every);
}
