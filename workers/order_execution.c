/* The order-execution worker: turns committed order intents into exchange orders exactly once,
 * reconciles what is unknown or open at every start before READY, and accounts for every fill. */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "workers/order_execution.h"

/* A worker may send nothing but READY before READY: what the start-up reconcile finds is held
 * until then. Past the hold's size a nudge is dropped; the row is committed and the notifier
 * and the strategy rescan their tables. */
void oe_sent_alert(struct oe *oe, int64_t id)
{
	if (oe->w->ready)
		worker_send(oe->w, IPC_ALERT, &id, sizeof(id));
	else if (oe->n_held_alerts < sizeof(oe->held_alerts) / sizeof(oe->held_alerts[0]))
		oe->held_alerts[oe->n_held_alerts++] = id;
}

static void alert_stored(void *arg, int64_t id)
{
	oe_sent_alert(arg, id);
}

static void send_held(struct oe *oe)
{
	if (!oe->w->ready)
		return; /* READY itself is held (a test's delay): the scan timer sends them later */
	for (size_t i = 0; i < oe->n_held_alerts; i++)
		worker_send(oe->w, IPC_ALERT, &oe->held_alerts[i], sizeof(oe->held_alerts[i]));
	for (size_t i = 0; i < oe->n_held_fills; i++)
		worker_send(oe->w, IPC_FILL, &oe->held_fills[i], sizeof(oe->held_fills[i]));
	oe->n_held_alerts = oe->n_held_fills = 0;
}

void oe_alert(struct oe *oe, const char *severity, const char *kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	outbox_alertv(&oe->outbox, severity, kind, fmt, ap);
	va_end(ap);
}

void oe_sent_fill(struct oe *oe, const char *market, int64_t intent_id)
{
	struct ipc_fill f = {.intent_id = intent_id};

	snprintf(f.market, sizeof(f.market), "%s", market);
	if (oe->w->ready)
		worker_send(oe->w, IPC_FILL, &f, sizeof(f));
	else if (oe->n_held_fills < sizeof(oe->held_fills) / sizeof(oe->held_fills[0]))
		oe->held_fills[oe->n_held_fills++] = f;
}

static void on_client_alert(void *arg, enum upbit_alert kind, const char *text)
{
	struct oe *oe = arg;

	oe_alert(oe,
		 kind == UPBIT_ALERT_BLOCKED	      ? OUTBOX_CRITICAL
		 : kind == UPBIT_ALERT_BREAKER_CLOSED ? OUTBOX_INFO
						      : OUTBOX_WARNING,
		 upbit_alert_name(kind), "exchange: %s", text);
}

static void scan_start(struct oe *oe);

/* The start-up reconcile is over once the first scan and a balance check are: READY. */
static void startup_balances_done(struct oe *oe)
{
	if (!oe->startup)
		return; /* READY went out at the deadline already */
	oe->startup = 0;
	uv_timer_stop(&oe->startup_timer);
	log_info("reconciled at start: %" PRIu64 " unknown outcomes resolved",
		 oe->unknown_resolved);
	worker_ready(oe->w);
	send_held(oe);
}

/* An exchange that does not answer must not keep the worker from READY until the supervisor
 * kills it (and again after each restart): at half the ready timeout it says READY and the
 * reconcile goes on; nothing new is placed before the unknown outcomes ahead of it are
 * resolved, since a scan takes them first. */
static void on_startup_deadline(uv_timer_t *t)
{
	struct oe *oe = t->data;

	if (!oe->startup)
		return;
	log_warnx("start-up reconcile still running after %" PRId64 " ms: READY, and it goes on",
		  oe->w->cfg.s.supervisor.ready_timeout_ms / 2);
	oe->startup = 0;
	worker_ready(oe->w);
	send_held(oe);
}

static void reconcile_balances_done(struct oe *oe)
{
	if (oe->reconcile_run) {
		worker_job_done(oe->w, oe->reconcile_run, JOB_OK,
				"reconciled: %" PRIu64 " unknown outcomes resolved, %" PRIu64
				" balance mismatches so far",
				oe->unknown_resolved, oe->mismatches);
		oe->reconcile_run = 0;
	}
}

static void scan_over(struct oe *oe)
{
	oe->scanning = 0;
	free(oe->scan_ids);
	oe->scan_ids = NULL;
	if (oe->cancel_all) {
		oe->cancel_all = 0;
		if (oe->cancel_run)
			worker_job_done(oe->w, oe->cancel_run, JOB_OK,
					"%" PRIu64 " orders cancelled", oe->cancels);
		oe->cancel_run = 0;
	}
	if (oe->startup) {
		if (oe->mode == MODE_PAPER)
			startup_balances_done(oe);
		else
			oe_fetch_balances(oe, startup_balances_done);
	} else if (oe->reconcile_run) {
		if (oe->mode == MODE_PAPER)
			reconcile_balances_done(oe);
		else
			oe_fetch_balances(oe, reconcile_balances_done);
	}
	if (oe->rescan) {
		oe->rescan = 0;
		scan_start(oe);
	}
}

static void scan_next(struct oe *oe)
{
	if (oe->closing)
		return;
	if (oe->i_scan >= oe->n_scan) {
		scan_over(oe);
		return;
	}
	oe->busy = 1;
	if (oe->mode == MODE_PAPER)
		oe_paper_step(oe, oe->scan_ids[oe->i_scan++]);
	else
		oe_exchange_step(oe, oe->scan_ids[oe->i_scan++]);
}

/* Steps finish from callbacks; going on through the loop keeps the stack flat. */
static void on_retry(uv_timer_t *t)
{
	scan_next(t->data);
}

void oe_step_done(struct oe *oe)
{
	oe->busy = 0;
	if (!oe->closing)
		uv_timer_start(&oe->retry_timer, on_retry, 0, 0);
}

/* Snapshot of the active intents; each is then handled once, in order. */
static void scan_start(struct oe *oe)
{
	sqlite3_stmt *q = oe->st[ST_ACTIVE];
	size_t cap = 16;
	int rc;

	if (oe->closing)
		return;
	if (oe->scanning || oe->recovering) {
		oe->rescan = 1;
		return;
	}
	oe->scan_ids = malloc(cap * sizeof(*oe->scan_ids));
	oe->n_scan = oe->i_scan = 0;
	if (!oe->scan_ids)
		return;
	/* A cancel_open is done by a scan that begins after it: one already past an open order
	 * would not have cancelled it. */
	if (oe->cancel_wanted) {
		oe->cancel_wanted = 0;
		oe->cancel_all = 1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (oe->n_scan == cap) {
			int64_t *more = realloc(oe->scan_ids, 2 * cap * sizeof(*more));

			if (!more)
				break;
			oe->scan_ids = more;
			cap *= 2;
		}
		oe->scan_ids[oe->n_scan++] = sqlite3_column_int64(q, 0);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		log_warnx("db: cannot scan the intents: %s (again at the next scan)",
			  sqlite3_errmsg(oe->db));
	sqlite3_reset(q);
	oe->scanning = 1;
	scan_next(oe);
}

/* Orders the database lost are recorded before anything is placed: a new intent could
 * otherwise take the id, and so the identifier, of one of them. */
static void recovered(struct oe *oe)
{
	oe->recovering = 0;
	oe->rescan = 0;
	scan_start(oe);
}

static void on_scan_timer(uv_timer_t *t)
{
	struct oe *oe = t->data;

	outbox_retry(&oe->outbox);
	send_held(oe);
	scan_start(oe);
}

static void on_balance_timer(uv_timer_t *t)
{
	struct oe *oe = t->data;

	if (oe->mode != MODE_PAPER && !oe->startup)
		oe_fetch_balances(oe, NULL);
}

static int fill_urls(struct oe *oe, struct upbit_client_config *cc)
{
	const struct config_list *bases = &oe->w->cfg.s.exchange.base_url;

	for (size_t n = 0; n < bases->n && n < UPBIT_MAX_BASES; n++) {
		size_t len;

		oe->urls[n] = strdup(bases->v[n]);
		if (!oe->urls[n])
			return -1;
		len = strlen(oe->urls[n]);
		while (len > 0 && oe->urls[n][len - 1] == '/')
			oe->urls[n][--len] = '\0';
		if (len >= 3 && strcmp(oe->urls[n] + len - 3, "/v1") == 0)
			oe->urls[n][len - 3] = '\0';
		cc->quotation_urls[n] = oe->urls[n];
	}
	return 0;
}

static int oe_init(struct worker *w)
{
	struct oe *oe = calloc(1, sizeof(*oe));
	const struct config *cfg = &w->cfg;
	struct upbit_client_config cc = {0};

	if (!oe)
		return -1;
	w->state = oe;
	oe->w = w;
	oe->mode = cfg->s.mode;
	oe->startup = 1;
	uv_timer_init(w->loop, &oe->scan_timer);
	uv_timer_init(w->loop, &oe->balance_timer);
	uv_timer_init(w->loop, &oe->retry_timer);
	uv_timer_init(w->loop, &oe->startup_timer);
	oe->scan_timer.data = oe->balance_timer.data = oe->retry_timer.data = oe;
	oe->startup_timer.data = oe;
	if (oe->mode == MODE_LIVE && oe_crash_armed(w)) {
		log_errx("crash points (TRADINGD_FAULT) are for tests and refused in live mode");
		return -1;
	}
	if (oe_keys_load(oe) < 0)
		return -1;
	oe->db =
		db_open_worker(cfg->s.data_dir, db_busy_ms(cfg->s.supervisor.heartbeat_timeout_ms));
	if (!oe->db || oe_store_open(oe) < 0 || oe_load_instance(oe) < 0)
		return -1;
	oe->ckpt = db_ckpt_start(w->loop, oe->db);
	outbox_init(&oe->outbox, oe->db, role_name(w->role), alert_stored, oe);
	if (fill_urls(oe, &cc) < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	cc.access_key = oe->access;
	cc.secret_key = oe->secret;
	cc.keys_borrowed = 1;
	cc.connect_timeout_ms = (long)cfg->s.exchange.connect_timeout_ms;
	cc.total_timeout_ms = (long)cfg->s.exchange.request_timeout_ms;
	cc.max_body_bytes = (size_t)cfg->s.exchange.max_body_bytes;
	cc.breaker.cooldown_max_ms = cfg->s.exchange.probe_max_ms;
	cc.backoff_cap_ms = cc.breaker.cooldown_max_ms;
	cc.on_alert = on_client_alert;
	cc.alert_arg = oe;
	oe->client = upbit_client_new(w->loop, &cc);
	if (!oe->client)
		return -1;
	log_info("%s mode, instance %s", config_mode_name(oe->mode), oe->instance);
	uv_timer_start(&oe->scan_timer, on_scan_timer, (uint64_t)cfg->s.orders.scan_interval_ms,
		       (uint64_t)cfg->s.orders.scan_interval_ms);
	uv_timer_start(&oe->balance_timer, on_balance_timer,
		       (uint64_t)cfg->s.orders.balance_interval_ms,
		       (uint64_t)cfg->s.orders.balance_interval_ms);
	uv_timer_start(&oe->startup_timer, on_startup_deadline,
		       (uint64_t)cfg->s.supervisor.ready_timeout_ms / 2, 0);
	if (oe->mode == MODE_PAPER) {
		scan_start(oe);
	} else {
		oe->recovering = 1;
		oe_recover(oe, 1, recovered);
	}
	return WORKER_READY_LATER;
}

static void oe_on_msg(struct worker *w, const struct ipc_hdr *hdr, const void *payload)
{
	struct oe *oe = w->state;

	(void)payload;
	if (hdr->type == IPC_ORDER_INTENT)
		scan_start(oe);
	else
		log_warnx("unexpected %s", ipc_type_name(hdr->type));
}

static void oe_on_config(struct worker *w)
{
	struct oe *oe = w->state;
	uint64_t scan = (uint64_t)w->cfg.s.orders.scan_interval_ms;
	uint64_t bal = (uint64_t)w->cfg.s.orders.balance_interval_ms;

	uv_timer_start(&oe->scan_timer, on_scan_timer, scan, scan);
	uv_timer_start(&oe->balance_timer, on_balance_timer, bal, bal);
}

static void oe_status(struct worker *w, json_t *out)
{
	struct oe *oe = w->state;

	if (!oe)
		return;
	json_object_set_new(out, "mode", json_string(config_mode_name(oe->mode)));
	json_object_set_new(out, "orders",
			    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "placed",
				      (json_int_t)oe->placed, "refused", (json_int_t)oe->refused,
				      "unknown_resolved", (json_int_t)oe->unknown_resolved, "fills",
				      (json_int_t)oe->fills, "cancelled", (json_int_t)oe->cancels,
				      "balance_mismatches", (json_int_t)oe->mismatches,
				      "balance_mismatch", oe->last_mismatch[0] != 0));
	if (oe->client)
		upbit_client_status_json(oe->client, out);
}

static void run_reconcile(struct worker *w, uint64_t run_id, const char *args)
{
	struct oe *oe = w->state;

	(void)args;
	if (oe->reconcile_run) {
		worker_job_done(w, run_id, JOB_TRANSIENT, "a reconcile is already running");
		return;
	}
	oe->reconcile_run = run_id;
	/* Asked for by hand (a database copied back without tradectl restore): the exchange's
	 * orders that the database lost are looked for first. */
	if (oe->mode != MODE_PAPER && !oe->recovering) {
		oe->recovering = 1;
		oe_recover(oe, 0, recovered);
	} else if (oe->scanning) {
		oe->rescan = 1;
	} else {
		scan_start(oe);
	}
}

static void run_cancel_open(struct worker *w, uint64_t run_id, const char *args)
{
	struct oe *oe = w->state;

	(void)args;
	if (oe->cancel_run) {
		worker_job_done(w, run_id, JOB_TRANSIENT, "a cancel_open is already running");
		return;
	}
	oe->cancel_run = run_id;
	oe->cancels = 0;
	oe->cancel_wanted = 1;
	scan_start(oe);
}

static const struct worker_action oe_actions[] = {
	{"cancel_open", run_cancel_open},
	{"reconcile", run_reconcile},
	{NULL, NULL},
};

static void free_oe(void *arg)
{
	struct oe *oe = arg;

	oe_store_close(oe);
	sqlite3_close(oe->db);
	oe_keys_free(oe);
	for (size_t i = 0; i < UPBIT_MAX_BASES; i++)
		free(oe->urls[i]);
	free(oe->scan_ids);
	free(oe);
	curl_global_cleanup();
}

static void oe_stop(struct worker *w)
{
	struct oe *oe = w->state;

	if (!oe)
		return;
	w->state = NULL;
	oe->closing = 1;
	/* The state goes with the last of its timers and the client. */
	close_count_start(&oe->parts, 4 + (oe->client != NULL), free_oe, oe);
	close_count_handle(&oe->parts, (uv_handle_t *)&oe->scan_timer);
	close_count_handle(&oe->parts, (uv_handle_t *)&oe->balance_timer);
	close_count_handle(&oe->parts, (uv_handle_t *)&oe->retry_timer);
	close_count_handle(&oe->parts, (uv_handle_t *)&oe->startup_timer);
	db_ckpt_stop(oe->ckpt);
	oe->ckpt = NULL;
	/* In-flight callbacks run (cancelled) before the client's part closes. */
	if (oe->client)
		upbit_client_close(oe->client, close_count_part, &oe->parts);
}

const struct worker_ops order_execution_ops = {
	.init = oe_init,
	.on_msg = oe_on_msg,
	.on_config = oe_on_config,
	.status = oe_status,
	.actions = oe_actions,
	.stop = oe_stop,
};
