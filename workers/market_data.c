/* The market-data worker: follows the configured markets on the exchange (or the simulator),
 * stores closed candles in SQLite, publishes ticks, and alerts when data goes stale. */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/dec8.h"
#include "common/db.h"
#include "common/log.h"
#include "common/outbox.h"
#include "workers/market_data.h"

/* The row first, then the nudge: the alert survives any crash after the commit. */
/* Refused by the database for now: the notifier delivers it from its text. */
static void alert_kept(void *arg, const char *source, const struct outbox_pending *p)
{
	struct market_data *md = arg;

	worker_send_alert_text(md->w, source, p);
}

static void alert_stored(void *arg, int64_t id)
{
	struct market_data *md = arg;

	worker_send(md->w, IPC_ALERT, &id, sizeof(id));
	md->alerts++;
}

void md_alert(struct market_data *md, const char *severity, const char *kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* A locked database keeps it in memory; md_stale_check retries it every second. */
	outbox_alertv(&md->outbox, severity, kind, fmt, ap);
	va_end(ap);
}

static void on_client_alert(void *arg, enum upbit_alert kind, const char *text)
{
	struct market_data *md = arg;
	const char *severity = kind == UPBIT_ALERT_BLOCKED ? OUTBOX_CRITICAL
			       : kind == UPBIT_ALERT_BREAKER_CLOSED || kind == UPBIT_ALERT_UNBLOCKED
				       ? OUTBOX_INFO
				       : OUTBOX_WARNING;

	md_alert(md, severity, upbit_alert_name(kind), "exchange: %s", text);
}

/* exchange.base_url: the primary, then quotation fallbacks (resolved by the config loader,
 * so never empty). */
static int fill_urls(struct market_data *md, struct upbit_client_config *cc)
{
	const struct config_list *bases = &md->w->cfg.s.exchange.base_url;
	size_t n = 0;

	while (n < bases->n && n < UPBIT_MAX_BASES) {
		md->urls[n] = strdup(bases->v[n]);
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		if (!md->urls[i])
			return -1;
		/* "host/v1" and "host/" are common ways to write a base URL; the client adds /v1. */
		size_t len = strlen(md->urls[i]);

		while (len > 0 && md->urls[i][len - 1] == '/')
			md->urls[i][--len] = '\0';
		if (len >= 3 && strcmp(md->urls[i] + len - 3, "/v1") == 0)
			md->urls[i][len - 3] = '\0';
		cc->quotation_urls[i] = md->urls[i];
	}
	return 0;
}

void md_follow(struct market_data *md)
{
	log_info("following %zu markets on %s", md->n_names, md->urls[0]);
	md->following = 1;
	md_ticker_start(md);
	md_candles_start(md);
}

static void on_markets(void *arg, const struct upbit_result *r, const struct upbit_market_info *v,
		       size_t n)
{
	struct market_data *md = arg;

	if (r->status == UPBIT_ERR_CANCELLED)
		return; /* stopping */
	if (r->status != UPBIT_OK) {
		log_warnx("cannot check the market list (%s): following every configured market",
			  upbit_status_name(r->status));
		md_follow(md);
		return;
	}
	md->n_names = 0;
	for (size_t i = 0; i < md->n; i++) {
		struct md_market *m = &md->markets[i];
		size_t k = 0;

		while (k < n && strcmp(v[k].market, m->name) != 0)
			k++;
		if (k == n) {
			m->unlisted = 1;
			md_alert(md, OUTBOX_WARNING, "market_unlisted",
				 "market %s is not listed on the exchange: not followed (check "
				 "market_data.markets)",
				 m->name);
			continue;
		}
		md->names[md->n_names++] = m->name;
	}
	md_follow(md);
}

static int load_markets(struct market_data *md)
{
	const struct config_list *list = &md->w->cfg.s.market_data.markets;
	int64_t now = clock_now_ms();

	md->n = list->n;
	md->markets = calloc(md->n, sizeof(*md->markets));
	md->names = calloc(md->n, sizeof(*md->names));
	if (!md->markets || !md->names)
		return -1;
	for (size_t i = 0; i < md->n; i++) {
		const char *name = list->v[i];

		if (!upbit_market_code_valid(name)) {
			log_errx("market_data.markets[%zu]: \"%s\" is not a market code like "
				 "KRW-BTC",
				 i, name);
			return -1;
		}
		snprintf(md->markets[i].name, sizeof(md->markets[i].name), "%s", name);
		md->markets[i].last_valid_ms =
			now; /* stale only after stale_after_s without data */
		md->names[i] = md->markets[i].name;
	}
	md->n_names = md->n;
	return 0;
}

static void free_state(struct market_data *md)
{
	if (md->trace)
		fclose(md->trace);
	for (size_t i = 0; i < UPBIT_MAX_BASES; i++)
		free(md->urls[i]);
	free(md->markets);
	free(md->names);
	free(md);
}

static int md_init(struct worker *w)
{
	struct market_data *md = calloc(1, sizeof(*md));
	const struct config *cfg = &w->cfg;
	struct upbit_client_config cc = {0};

	if (!md)
		return -1;
	w->state = md;
	md->w = w;
	md->stale_after_ms = cfg->s.market_data.stale_after_s * 1000;
	md->backfill_ms = cfg->s.market_data.backfill_max_minutes * 60000;
	md->candle_grace_ms = cfg->s.market_data.candle_grace_ms;
	uv_timer_init(w->loop, &md->ticker_timer);
	uv_timer_init(w->loop, &md->candle_timer);
	uv_timer_init(w->loop, &md->stale_timer);
	md->ticker_timer.data = md->candle_timer.data = md->stale_timer.data = md;
	if (load_markets(md) < 0 || fill_urls(md, &cc) < 0)
		return -1;
	md->db =
		db_open_worker(cfg->s.data_dir, db_busy_ms(cfg->s.supervisor.heartbeat_timeout_ms));
	if (!md->db)
		return -1;
	outbox_init(&md->outbox, md->db, role_name(w->role), alert_stored, md);
	outbox_on_kept(&md->outbox, alert_kept);
	if (candle_store_open(&md->store, md->db) < 0)
		return -1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	cc.connect_timeout_ms = (long)cfg->s.exchange.connect_timeout_ms;
	cc.total_timeout_ms = (long)cfg->s.exchange.request_timeout_ms;
	cc.max_body_bytes = (size_t)cfg->s.exchange.max_body_bytes;
	/* After a long outage the doubling cool-down left prices stale for up to a minute once
	 * the exchange was back; a probe every few seconds costs little against the limits. */
	cc.breaker.cooldown_max_ms = cfg->s.exchange.probe_max_ms;
	cc.backoff_cap_ms = cc.breaker.cooldown_max_ms;
	cc.on_alert = on_client_alert;
	cc.alert_arg = md;
	md->client = upbit_client_new(w->loop, &cc);
	if (!md->client)
		return -1;
	/* Check the list against the exchange first: one unknown code would fail every ticker
	 * request for all markets. Without an answer, follow them all and let validation judge. */
	md_stale_start(md);
	if (upbit_get_markets(md->client, 0, on_markets, md) < 0)
		md_follow(md);
	return 0;
}

static void close_state(void *arg)
{
	struct market_data *md = arg;

	if (md->store.db)
		candle_store_close(&md->store);
	sqlite3_close(md->db);
	if (md->client)
		curl_global_cleanup();
	free_state(md);
}

static void md_stop(struct worker *w)
{
	struct market_data *md = w->state;

	if (!md)
		return;
	w->state = NULL;
	/* The state goes with the last of its timers and the client. */
	close_count_start(&md->closing, 3 + (md->client != NULL), close_state, md);
	close_count_handle(&md->closing, (uv_handle_t *)&md->ticker_timer);
	close_count_handle(&md->closing, (uv_handle_t *)&md->candle_timer);
	close_count_handle(&md->closing, (uv_handle_t *)&md->stale_timer);
	/* In-flight callbacks run (cancelled) before the client's part closes. */
	if (md->client)
		upbit_client_close(md->client, close_count_part, &md->closing);
}

static void md_on_config(struct worker *w)
{
	struct market_data *md = w->state;
	const struct config *cfg = &w->cfg;
	const struct config_list *list = &cfg->s.market_data.markets;
	int same = list->n == md->n;

	for (size_t i = 0; same && i < md->n; i++)
		same = strcmp(list->v[i], md->markets[i].name) == 0;
	if (!same)
		log_notice("the market list changed: it applies when market-data restarts "
			   "(tradectl restart market-data)");
	md->stale_after_ms = cfg->s.market_data.stale_after_s * 1000;
	md->backfill_ms = cfg->s.market_data.backfill_max_minutes * 60000;
	md->candle_grace_ms = cfg->s.market_data.candle_grace_ms;
	if (md->following)
		md_ticker_start(md);
}

static void md_status(struct worker *w, json_t *out)
{
	struct market_data *md = w->state;
	json_t *markets = json_object();

	if (!md)
		return;
	for (size_t i = 0; i < md->n; i++) {
		const struct md_market *m = &md->markets[i];
		char price[DEC8_BUF];

		dec8_format(m->last_price_e8, price);
		json_object_set_new(markets, m->name,
				    json_pack("{s:b, s:b, s:s, s:I, s:I}", "stale", m->stale,
					      "listed", !m->unlisted, "price", price,
					      "last_trade_ms", (json_int_t)m->last_trade_ms,
					      "last_valid_ms", (json_int_t)m->last_valid_ms));
	}
	json_object_set_new(out, "markets", markets);
	json_object_set_new(
		out, "counters",
		json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ticker_ok",
			  (json_int_t)md->ticker_ok, "ticker_failed", (json_int_t)md->ticker_failed,
			  "ticks_published", (json_int_t)md->ticks_published, "ticks_out_of_order",
			  (json_int_t)md->ticks_out_of_order, "candle_pages",
			  (json_int_t)md->candle_pages, "candle_failures",
			  (json_int_t)md->candle_failures, "candles_stored",
			  (json_int_t)md->store.inserted, "candle_duplicates",
			  (json_int_t)md->store.duplicates, "candle_store_errors",
			  (json_int_t)md->store.errors, "candles_published",
			  (json_int_t)md->candles_published, "alerts", (json_int_t)md->alerts));
	json_object_set_new(json_object_get(out, "counters"), "candle_store_busy",
			    json_integer((json_int_t)md->store.busy));
	json_object_set_new(out, "outbox",
			    json_pack("{s:I, s:I, s:I}", "waiting", (json_int_t)md->outbox.n,
				      "deferred", (json_int_t)md->outbox.deferred, "lost",
				      (json_int_t)md->outbox.lost));
	upbit_client_status_json(md->client, out);
}

const struct worker_ops market_data_ops = {
	.init = md_init,
	.on_config = md_on_config,
	.status = md_status,
	.stop = md_stop,
};
