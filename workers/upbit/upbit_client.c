/* The Upbit client core: bounded per-group queues pumped by timers, token buckets, retries with
 * full jitter, per-base circuit breakers with failover, and the outcome of every call. */
#include "upbit_client.h"

#include <errno.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "workers/upbit/backoff.h"
#include "workers/upbit/log_limit.h"
#include "workers/upbit/upbit_auth.h"
#include "workers/upbit/upbit_call.h"

#define DEFAULT_CONNECT_MS 3000
#define DEFAULT_TOTAL_MS 10000
#define DEFAULT_MAX_BODY (4u << 20)
#define DEFAULT_QUEUE 64
#define DEFAULT_ATTEMPTS 4
#define DEFAULT_TRANSPORT_LOG_MS 10000

struct base_set {
	char *urls[UPBIT_MAX_BASES];
	size_t n;
	struct breaker br[UPBIT_MAX_BASES][UPBIT_GROUP_COUNT];
};

struct group_state {
	struct upbit_client *client;
	enum upbit_group group;
	struct rate_bucket bucket;
	uv_timer_t timer;
	struct upbit_call *head, *tail;
	unsigned queued, in_flight;
	int cur_base[2]; /* the base last used, per URL set, to notice failover */
};

struct upbit_client {
	uv_loop_t *loop;
	struct http_client *http;
	char *access_key, *secret_key;
	int keys_borrowed;
	enum jwt_alg jwt_alg;
	long connect_timeout_ms, total_timeout_ms;
	size_t max_body;
	unsigned max_queue;
	struct backoff_policy backoff;
	uint64_t rng;
	struct base_set bases[2]; /* 0: quotation, 1: exchange */
	struct group_state groups[UPBIT_GROUP_COUNT];
	uint64_t invalid[UPBIT_EP_COUNT];
	struct log_limit invalid_log[UPBIT_EP_COUNT];
	struct log_limit transport_log[UPBIT_GROUP_COUNT];
	void (*on_alert)(void *arg, enum upbit_alert kind, const char *text);
	void *alert_arg;
	int closing;
	int pending_closes;
	void (*closed)(void *arg);
	void *closed_arg;
};

static void pump(struct group_state *gs);

const char *upbit_alert_name(enum upbit_alert kind)
{
	switch (kind) {
	case UPBIT_ALERT_BLOCKED:
		return "blocked";
	case UPBIT_ALERT_BREAKER_OPEN:
		return "breaker_open";
	case UPBIT_ALERT_BREAKER_CLOSED:
		return "breaker_closed";
	case UPBIT_ALERT_FAILOVER:
		return "failover";
	case UPBIT_ALERT_INVALID_DATA:
		return "invalid_data";
	case UPBIT_ALERT_UNBLOCKED:
		return "blocked_cleared";
	}
	return "unknown";
}

const char *upbit_status_name(enum upbit_status s)
{
	static const char *const names[] = {
		"ok",	   "transport",	   "timeout",	      "http",
		"api",	   "rate_limited", "blocked",	      "circuit_open",
		"invalid", "too_big",	   "unknown_outcome", "cancelled",
	};

	if ((unsigned)s >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[s];
}

const char *upbit_endpoint_name(enum upbit_endpoint ep)
{
	static const char *const names[UPBIT_EP_COUNT] = {
		"markets", "ticker",	"candles", "orderbook",	   "instruments", "accounts",
		"chance",  "order_new", "order",   "order_cancel", "orders_open", "orders_closed",
	};

	return (unsigned)ep < UPBIT_EP_COUNT ? names[ep] : "unknown";
}

static void alert(struct upbit_client *c, enum upbit_alert kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void alert(struct upbit_client *c, enum upbit_alert kind, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_warnx("upbit: %s: %s", upbit_alert_name(kind), text);
	if (c->on_alert)
		c->on_alert(c->alert_arg, kind, text);
}

/* ---- queue ---- */

static void queue_append(struct group_state *gs, struct upbit_call *call)
{
	call->next = NULL;
	call->prev = gs->tail;
	if (gs->tail)
		gs->tail->next = call;
	else
		gs->head = call;
	gs->tail = call;
	gs->queued++;
}

static void queue_remove(struct group_state *gs, struct upbit_call *call)
{
	if (call->prev)
		call->prev->next = call->next;
	else
		gs->head = call->next;
	if (call->next)
		call->next->prev = call->prev;
	else
		gs->tail = call->prev;
	call->prev = call->next = NULL;
	gs->queued--;
}

static void on_group_timer(uv_timer_t *t)
{
	pump(t->data);
}

static void schedule_pump(struct group_state *gs, int64_t delay_ms)
{
	if (gs->client->closing)
		return;
	uv_timer_start(&gs->timer, on_group_timer, delay_ms > 0 ? (uint64_t)delay_ms : 0, 0);
}

/* ---- calls ---- */

struct upbit_call *upbit_call_new(struct upbit_client *c, enum upbit_endpoint ep,
				  enum upbit_group g, const char *method, int exchange)
{
	struct upbit_call *call = calloc(1, sizeof(*call));

	if (!call)
		return NULL;
	call->client = c;
	call->ep = ep;
	call->group = g;
	call->method = method;
	call->exchange = exchange;
	call->idempotent = strcmp(method, "GET") == 0;
	upbit_query_init(&call->q);
	return call;
}

void upbit_call_free(struct upbit_call *call)
{
	if (!call)
		return;
	upbit_query_free(&call->q);
	free(call);
}

int upbit_call_submit(struct upbit_call *call)
{
	struct upbit_client *c = call->client;
	struct group_state *gs = &c->groups[call->group];

	if (c->closing) {
		upbit_call_free(call);
		return -ESHUTDOWN;
	}
	if (call->exchange && (!c->access_key || !c->secret_key)) {
		upbit_call_free(call);
		return -EPERM;
	}
	if (gs->queued >= c->max_queue) {
		upbit_call_free(call);
		return -ENOBUFS;
	}
	queue_append(gs, call);
	/* Always through the timer, so that no callback runs inside the caller's call; the pump
	 * re-arms it for whatever waits longer. */
	schedule_pump(gs, 0);
	return 0;
}

static void finish(struct upbit_call *call, struct upbit_result *res)
{
	res->attempts = call->attempts;
	call->emit(call, res);
	upbit_call_free(call);
}

static void fail_call(struct upbit_call *call, enum upbit_status status)
{
	struct upbit_result res;

	memset(&res, 0, sizeof(res));
	res.status = status;
	res.base_url = "";
	res.parse.index = -1;
	finish(call, &res);
}

static void fail_queued(struct group_state *gs, enum upbit_status status)
{
	while (gs->head) {
		struct upbit_call *call = gs->head;

		queue_remove(gs, call);
		fail_call(call, status);
	}
}

/* ---- breakers and failover ---- */

static struct breaker *call_breaker(struct upbit_call *call)
{
	return &call->client->bases[call->exchange].br[call->base_idx][call->group];
}

static void note_breaker(struct upbit_call *call, int success, int64_t now)
{
	struct upbit_client *c = call->client;
	struct breaker *br = call_breaker(call);
	const char *url = c->bases[call->exchange].urls[call->base_idx];

	if (!breaker_record(br, success, now))
		return;
	if (br->state == BREAKER_OPEN)
		alert(c, UPBIT_ALERT_BREAKER_OPEN,
		      "group %s on %s: open after %u failures, probe in %lld ms",
		      upbit_group_name(call->group), url, br->consecutive,
		      (long long)br->cooldown_cur_ms);
	else if (br->state == BREAKER_CLOSED)
		alert(c, UPBIT_ALERT_BREAKER_CLOSED, "group %s on %s: healthy again",
		      upbit_group_name(call->group), url);
}

/* The first base whose breaker admits a request: the primary whenever it is healthy or due a
 * half-open probe, else the fallbacks in order. -1 when none does. */
static int choose_base(struct upbit_client *c, struct upbit_call *call, int64_t now)
{
	struct base_set *bs = &c->bases[call->exchange];

	for (size_t i = 0; i < bs->n; i++)
		if (breaker_allow(&bs->br[i][call->group], now))
			return (int)i;
	return -1;
}

static void note_base(struct group_state *gs, struct upbit_call *call)
{
	struct upbit_client *c = gs->client;
	int *cur = &gs->cur_base[call->exchange];

	if (*cur == call->base_idx)
		return;
	alert(c, UPBIT_ALERT_FAILOVER, "group %s: %s -> %s%s", upbit_group_name(gs->group),
	      c->bases[call->exchange].urls[*cur], c->bases[call->exchange].urls[call->base_idx],
	      call->base_idx == 0 ? " (primary)" : "");
	*cur = call->base_idx;
}

/* ---- sending ---- */

static void on_http_done(const struct http_response *r, void *arg);

static int send_call(struct upbit_client *c, struct upbit_call *call)
{
	const char *base = c->bases[call->exchange].urls[call->base_idx];
	const char *headers[4] = {"Accept: application/json", NULL, NULL, NULL};
	char *query = NULL, *url = NULL, *auth = NULL, *body = NULL;
	struct http_request req;
	size_t len;
	int rc = -ENOMEM, is_post = strcmp(call->method, "POST") == 0;

	if (!is_post && call->q.n > 0 && !(query = upbit_query_encoded(&call->q)))
		goto out;
	len = strlen(base) + strlen(call->path) + (query ? strlen(query) + 1 : 0) + 1;
	url = malloc(len);
	if (!url)
		goto out;
	snprintf(url, len, "%s%s%s%s", base, call->path, query ? "?" : "", query ? query : "");
	if (is_post) {
		body = upbit_query_json(&call->q);
		if (!body)
			goto out;
		headers[1] = "Content-Type: application/json; charset=utf-8";
	}
	if (call->exchange) {
		/* A fresh token (and nonce) per try: a token is never replayed. */
		auth = upbit_auth_header(c->jwt_alg, c->access_key, c->secret_key, &call->q, NULL);
		if (!auth)
			goto out;
		headers[is_post ? 2 : 1] = auth;
	}
	memset(&req, 0, sizeof(req));
	req.method = call->method;
	req.url = url;
	req.headers = headers;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.connect_timeout_ms = c->connect_timeout_ms;
	req.total_timeout_ms = c->total_timeout_ms;
	req.max_body = c->max_body;
	call->attempts++;
	rc = http_request_start(c->http, &req, on_http_done, call, NULL);
	if (rc == 0)
		c->groups[call->group].in_flight++;
	log_debug("upbit: %s %s%s (try %u)", call->method, base, call->path, call->attempts);
out:
	if (auth) {
		OPENSSL_cleanse(auth, strlen(auth));
		free(auth);
	}
	free(query);
	free(url);
	free(body);
	return rc;
}

static void pump(struct group_state *gs)
{
	struct upbit_client *c = gs->client;

	while (!c->closing) {
		int64_t now = clock_mono_ms(), soonest = -1, wait;
		struct upbit_call *call = NULL;

		if (gs->bucket.blocked_by_418) {
			if (rate_bucket_blocked(&gs->bucket, now)) {
				/* The exchange said stop: nothing in this group goes until it ends. */
				fail_queued(gs, UPBIT_ERR_BLOCKED);
				return;
			}
			gs->bucket.blocked_by_418 = 0;
			alert(c, UPBIT_ALERT_UNBLOCKED,
			      "group %s: the exchange's block (418) is over",
			      upbit_group_name(gs->group));
		}
		for (struct upbit_call *it = gs->head; it; it = it->next) {
			if (it->not_before_ms <= now) {
				call = it;
				break;
			}
			if (soonest < 0 || it->not_before_ms - now < soonest)
				soonest = it->not_before_ms - now;
		}
		if (!call) {
			if (soonest >= 0)
				schedule_pump(gs, soonest);
			return;
		}
		call->base_idx = choose_base(c, call, now);
		if (call->base_idx < 0) {
			call->base_idx = 0;
			queue_remove(gs, call);
			fail_call(call, UPBIT_ERR_CIRCUIT_OPEN);
			continue;
		}
		wait = rate_bucket_take(&gs->bucket, now);
		if (wait > 0) {
			breaker_release(call_breaker(call));
			schedule_pump(gs, wait);
			return;
		}
		queue_remove(gs, call);
		note_base(gs, call);
		if (send_call(c, call) < 0) {
			breaker_release(call_breaker(call));
			fail_call(call, UPBIT_ERR_TRANSPORT);
		}
	}
}

/* ---- outcomes ---- */

static void apply_remaining(struct upbit_client *c, enum upbit_group fallback, const char *hdr,
			    int64_t now)
{
	char name[32];
	int sec, g;

	if (!hdr[0] || rate_parse_remaining(hdr, name, sizeof(name), &sec) < 0)
		return;
	g = upbit_group_parse(name);
	rate_bucket_observe_remaining(&c->groups[g >= 0 ? g : (int)fallback].bucket, sec, now);
}

static void retry_or_finish(struct upbit_call *call, struct upbit_result *res, int64_t now,
			    int64_t not_before)
{
	struct upbit_client *c = call->client;
	struct group_state *gs = &c->groups[call->group];

	if (call->idempotent && !c->closing && call->attempts < (unsigned)c->backoff.max_attempts) {
		int64_t delay = backoff_delay_ms(&c->backoff, call->attempts - 1, &c->rng);

		call->not_before_ms = now + delay > not_before ? now + delay : not_before;
		queue_append(gs, call);
		schedule_pump(gs, call->not_before_ms - now);
		return;
	}
	finish(call, res);
}

static void count_invalid(struct upbit_client *c, struct upbit_call *call,
			  const struct upbit_parse_error *e, int64_t now)
{
	uint64_t suppressed = 0;

	c->invalid[call->ep]++;
	if (!log_limit_allow(&c->invalid_log[call->ep], now, &suppressed))
		return;
	alert(c, UPBIT_ALERT_INVALID_DATA,
	      "%s: rejected (%s, item %ld, field '%s': %s); %llu more since the last report, "
	      "%llu in all",
	      upbit_endpoint_name(call->ep), upbit_parse_err_name(e->code), e->index, e->field,
	      e->detail, (unsigned long long)suppressed, (unsigned long long)c->invalid[call->ep]);
}

/* A host that refuses, does not resolve or does not answer needs the operator's attention, so
 * it is a warning; during an outage every probe fails the same way, so one line per group per
 * interval carries the count and the rest go to debug. */
static void log_transport(struct upbit_client *c, const struct upbit_call *call,
			  const struct http_response *r, int64_t now)
{
	const char *base = c->bases[call->exchange].urls[call->base_idx];
	uint64_t suppressed = 0;

	if (!log_limit_allow(&c->transport_log[call->group], now, &suppressed)) {
		log_debug("upbit: %s %s%s: %s after %ld ms (%s)", call->method, base, call->path,
			  http_err_name(r->err), r->elapsed_ms, r->detail);
		return;
	}
	if (suppressed == 0)
		log_warnx("upbit: %s %s%s: %s after %ld ms (%s)", call->method, base, call->path,
			  http_err_name(r->err), r->elapsed_ms, r->detail);
	else
		log_warnx("upbit: %s %s%s: %s after %ld ms (%s); %llu more transport failures in "
			  "group %s since the last report",
			  call->method, base, call->path, http_err_name(r->err), r->elapsed_ms,
			  r->detail, (unsigned long long)suppressed, upbit_group_name(call->group));
}

static void on_http_done(const struct http_response *r, void *arg)
{
	struct upbit_call *call = arg;
	struct upbit_client *c = call->client;
	struct group_state *gs = &c->groups[call->group];
	int64_t now = clock_mono_ms();
	int unsure = !call->idempotent && r->maybe_sent;
	struct upbit_result res;
	struct upbit_parse_opts o;
	int rc;

	memset(&res, 0, sizeof(res));
	res.http_status = r->status;
	res.transport = r->err;
	res.base_url = c->bases[call->exchange].urls[call->base_idx];
	res.parse.index = -1;
	gs->in_flight--;
	apply_remaining(c, call->group, r->remaining_req, now);

	if (r->err == HTTP_ERR_CANCELLED) {
		breaker_release(call_breaker(call));
		res.status = unsure ? UPBIT_ERR_UNKNOWN_OUTCOME : UPBIT_ERR_CANCELLED;
		finish(call, &res);
		return;
	}
	if (r->err != HTTP_OK) {
		note_breaker(call, 0, now);
		res.status = r->err == HTTP_ERR_TIMEOUT	  ? UPBIT_ERR_TIMEOUT
			     : r->err == HTTP_ERR_TOO_BIG ? UPBIT_ERR_TOO_BIG
							  : UPBIT_ERR_TRANSPORT;
		if (unsure)
			res.status = UPBIT_ERR_UNKNOWN_OUTCOME;
		log_transport(c, call, r, now);
		retry_or_finish(call, &res, now, 0);
		return;
	}
	if (r->status == 418) {
		int64_t ms = rate_bucket_on_418(&gs->bucket, r->retry_after_s, now);

		note_breaker(call, 1, now);
		alert(c, UPBIT_ALERT_BLOCKED, "group %s blocked by the exchange (418) for %lld s",
		      upbit_group_name(call->group), (long long)(ms / 1000));
		res.status = UPBIT_ERR_BLOCKED;
		finish(call, &res);
		schedule_pump(gs, 0);
		return;
	}
	if (r->status == 429) {
		int64_t ms = rate_bucket_on_429(&gs->bucket, now);

		/* Never send before a stated Retry-After ends (FAULT_MATRIX E2). */
		if (r->retry_after_s > 0 && (int64_t)r->retry_after_s * 1000 > ms) {
			ms = (int64_t)r->retry_after_s * 1000;
			gs->bucket.blocked_until_ms = now + ms;
		}
		note_breaker(call, 1, now);
		log_notice("upbit: 429 on group %s, backing off %lld ms",
			   upbit_group_name(call->group), (long long)ms);
		/* Upbit rejects a 429'd request before acting on it: not placed. */
		res.status = UPBIT_ERR_RATE_LIMITED;
		retry_or_finish(call, &res, now, gs->bucket.blocked_until_ms);
		return;
	}
	if (r->status >= 500) {
		note_breaker(call, 0, now);
		res.status = call->idempotent ? UPBIT_ERR_HTTP : UPBIT_ERR_UNKNOWN_OUTCOME;
		retry_or_finish(call, &res, now, 0);
		return;
	}
	rate_bucket_on_success(&gs->bucket);
	if (r->status < 200 || r->status >= 300) {
		/* A 4xx means the server is up and said no: not a breaker failure, no retry. */
		note_breaker(call, 1, now);
		res.status = upbit_parse_api_error(r->body, r->body_len, &res.error) == 0
				     ? UPBIT_ERR_API
				     : UPBIT_ERR_HTTP;
		finish(call, &res);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.now_ms = clock_now_ms();
	o.max_body = c->max_body;
	o.market = call->market[0] ? call->market : NULL;
	o.unit_min = call->unit_min;
	rc = call->parse(call, r->body, r->body_len, &o, &res.parse);
	if (rc < 0) {
		count_invalid(c, call, &res.parse, now);
		note_breaker(call, 0, now);
		res.status = call->idempotent ? UPBIT_ERR_INVALID : UPBIT_ERR_UNKNOWN_OUTCOME;
		retry_or_finish(call, &res, now, 0);
		return;
	}
	note_breaker(call, 1, now);
	res.status = UPBIT_OK;
	finish(call, &res);
}

/* ---- life cycle ---- */

static int copy_urls(struct base_set *bs, const char *const *urls, const struct breaker_config *b,
		     int64_t now)
{
	for (size_t i = 0; i < UPBIT_MAX_BASES && urls[i]; i++) {
		size_t len = strlen(urls[i]);

		/* A trailing slash would double up with the "/v1/..." paths. */
		while (len > 0 && urls[i][len - 1] == '/')
			len--;
		if (len == 0)
			return -1;
		bs->urls[i] = strndup(urls[i], len);
		if (!bs->urls[i])
			return -1;
		bs->n = i + 1;
		for (int g = 0; g < UPBIT_GROUP_COUNT; g++)
			breaker_init(&bs->br[i][g], b, now);
	}
	return bs->n > 0 ? 0 : -1;
}

static void free_client(struct upbit_client *c)
{
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < c->bases[k].n; i++)
			free(c->bases[k].urls[i]);
	if (!c->keys_borrowed) {
		if (c->secret_key)
			OPENSSL_cleanse(c->secret_key, strlen(c->secret_key));
		free(c->access_key);
		free(c->secret_key);
	}
	free(c);
}

struct upbit_client *upbit_client_new(uv_loop_t *loop, const struct upbit_client_config *cfg)
{
	struct upbit_client *c;
	struct http_client_config hc;
	const char *const *exch;
	int64_t now = clock_mono_ms();
	int timers = 0;

	if (!loop || !cfg || !cfg->quotation_urls[0])
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->loop = loop;
	c->jwt_alg = cfg->jwt_alg;
	c->connect_timeout_ms =
		cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : DEFAULT_CONNECT_MS;
	c->total_timeout_ms = cfg->total_timeout_ms > 0 ? cfg->total_timeout_ms : DEFAULT_TOTAL_MS;
	c->max_body = cfg->max_body_bytes > 0 ? cfg->max_body_bytes : DEFAULT_MAX_BODY;
	c->max_queue = cfg->max_queue_per_group > 0 ? cfg->max_queue_per_group : DEFAULT_QUEUE;
	backoff_policy_default(&c->backoff);
	if (cfg->backoff_base_ms > 0)
		c->backoff.base_ms = cfg->backoff_base_ms;
	if (cfg->backoff_cap_ms > 0)
		c->backoff.cap_ms = cfg->backoff_cap_ms;
	c->backoff.max_attempts = cfg->max_attempts > 0 ? (int)cfg->max_attempts : DEFAULT_ATTEMPTS;
	c->rng = (uint64_t)clock_real_ms() ^ ((uint64_t)(uintptr_t)c << 16);
	c->on_alert = cfg->on_alert;
	c->alert_arg = cfg->alert_arg;
	exch = cfg->exchange_urls[0] ? cfg->exchange_urls : cfg->quotation_urls;
	if (copy_urls(&c->bases[0], cfg->quotation_urls, &cfg->breaker, now) < 0 ||
	    copy_urls(&c->bases[1], exch, &cfg->breaker, now) < 0)
		goto fail;
	if (cfg->access_key && cfg->secret_key && cfg->keys_borrowed) {
		c->keys_borrowed = 1;
		c->access_key = (char *)(uintptr_t)cfg->access_key;
		c->secret_key = (char *)(uintptr_t)cfg->secret_key;
	} else if (cfg->access_key && cfg->secret_key) {
		c->access_key = strdup(cfg->access_key);
		c->secret_key = strdup(cfg->secret_key);
		if (!c->access_key || !c->secret_key)
			goto fail;
	}
	for (int g = 0; g < UPBIT_GROUP_COUNT; g++) {
		double limit = cfg->rate_per_s[g] > 0
				       ? cfg->rate_per_s[g]
				       : upbit_group_default_rate((enum upbit_group)g);
		/* A bucket lets burst + rate requests through in any one second: split the limit
		 * between the two so that no second ever exceeds what the exchange allows. */
		double burst = limit >= 5 ? floor(limit / 5) : 1;
		double rate = limit > burst ? limit - burst : limit / 2;

		c->groups[g].client = c;
		c->groups[g].group = (enum upbit_group)g;
		rate_bucket_init(&c->groups[g].bucket, rate, burst, now);
		/* Start empty: the limit is per IP, and a worker restarted after a crash cannot
		 * know what its predecessor spent in the last second. A full bucket let burst more
		 * requests into a one-second window that already held the old process's share. */
		c->groups[g].bucket.tokens = 0;
	}
	for (int ep = 0; ep < UPBIT_EP_COUNT; ep++)
		log_limit_init(&c->invalid_log[ep], cfg->invalid_log_interval_ms);
	for (int g = 0; g < UPBIT_GROUP_COUNT; g++)
		log_limit_init(&c->transport_log[g], cfg->transport_log_interval_ms > 0
							     ? cfg->transport_log_interval_ms
							     : DEFAULT_TRANSPORT_LOG_MS);
	memset(&hc, 0, sizeof(hc));
	hc.user_agent = cfg->user_agent;
	hc.ca_file = cfg->ca_file;
	hc.max_host_connections = 8;
	c->http = http_client_new(loop, &hc);
	if (!c->http)
		goto fail;
	for (; timers < UPBIT_GROUP_COUNT; timers++) {
		if (uv_timer_init(loop, &c->groups[timers].timer) < 0)
			break;
		c->groups[timers].timer.data = &c->groups[timers];
	}
	if (timers == UPBIT_GROUP_COUNT)
		return c;
	/* Unwinding a half-made client needs the loop to run the close callbacks. */
	upbit_client_close(c, NULL, NULL);
	return NULL;
fail:
	free_client(c);
	return NULL;
}

static void on_handle_closed(struct upbit_client *c)
{
	void (*closed)(void *) = c->closed;
	void *arg = c->closed_arg;

	if (--c->pending_closes > 0)
		return;
	free_client(c);
	if (closed)
		closed(arg);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct group_state *gs = h->data;

	on_handle_closed(gs->client);
}

static void on_http_closed(void *arg)
{
	on_handle_closed(arg);
}

void upbit_client_close(struct upbit_client *c, void (*done)(void *arg), void *arg)
{
	if (!c || c->closing)
		return;
	c->closing = 1;
	c->closed = done;
	c->closed_arg = arg;
	/* Hold one reference while we work so no close callback can free c under us. */
	c->pending_closes = 1;
	for (int g = 0; g < UPBIT_GROUP_COUNT; g++) {
		struct group_state *gs = &c->groups[g];

		fail_queued(gs, UPBIT_ERR_CANCELLED);
		if (gs->timer.data) {
			uv_timer_stop(&gs->timer);
			c->pending_closes++;
			uv_close((uv_handle_t *)&gs->timer, on_timer_closed);
		}
	}
	if (c->http) {
		c->pending_closes++;
		http_client_close(c->http, on_http_closed, c);
	}
	on_handle_closed(c);
}

/* ---- status ---- */

int upbit_client_breaker_status(const struct upbit_client *c, int exchange, size_t base_idx,
				enum upbit_group g, struct breaker_status *out)
{
	const struct base_set *bs;

	if (!c || (exchange != 0 && exchange != 1) || (unsigned)g >= UPBIT_GROUP_COUNT)
		return -1;
	bs = &c->bases[exchange];
	if (base_idx >= bs->n)
		return -1;
	breaker_status(&bs->br[base_idx][g], clock_mono_ms(), out);
	return 0;
}

uint64_t upbit_client_invalid_count(const struct upbit_client *c, const char *endpoint)
{
	for (int ep = 0; ep < UPBIT_EP_COUNT; ep++)
		if (strcmp(endpoint, upbit_endpoint_name((enum upbit_endpoint)ep)) == 0)
			return c->invalid[ep];
	return 0;
}

static json_t *group_json(const struct upbit_client *c, int g, int64_t now)
{
	const struct group_state *gs = &c->groups[g];
	/* Quotation groups live on the quotation URLs; default and order on the exchange ones. */
	int kind = g == UPBIT_GROUP_DEFAULT || g == UPBIT_GROUP_ORDER;
	const struct base_set *bs = &c->bases[kind];
	int64_t blocked = gs->bucket.blocked_until_ms - now;
	json_t *breakers = json_array(), *obj;

	for (size_t i = 0; breakers && i < bs->n; i++) {
		json_t *b = breaker_to_json(&bs->br[i][g], now);

		if (b)
			json_object_set_new(b, "url", json_string(bs->urls[i]));
		json_array_append_new(breakers, b);
	}
	obj = json_pack("{s:I, s:I, s:f, s:I, s:b, s:I, s:I, s:s}", "queued",
			(json_int_t)gs->queued, "in_flight", (json_int_t)gs->in_flight, "tokens",
			rate_bucket_wait_ms(&gs->bucket, now) == 0 ? gs->bucket.tokens : 0.0,
			"blocked_ms", (json_int_t)(blocked > 0 ? blocked : 0), "blocked_by_418",
			gs->bucket.blocked_by_418 && blocked > 0, "n_429",
			(json_int_t)gs->bucket.n_429, "n_418", (json_int_t)gs->bucket.n_418, "base",
			bs->urls[gs->cur_base[kind]]);
	if (!obj) {
		json_decref(breakers);
		return NULL;
	}
	json_object_set_new(obj, "breakers", breakers);
	return obj;
}

int upbit_client_status_json(const struct upbit_client *c, json_t *obj)
{
	int64_t now = clock_mono_ms();
	json_t *groups = json_object(), *invalid = json_object(), *top = json_object();

	if (!c || !json_is_object(obj) || !groups || !invalid || !top) {
		json_decref(groups);
		json_decref(invalid);
		json_decref(top);
		return -1;
	}
	for (int g = 0; g < UPBIT_GROUP_COUNT; g++)
		json_object_set_new(groups, upbit_group_name((enum upbit_group)g),
				    group_json(c, g, now));
	for (int ep = 0; ep < UPBIT_EP_COUNT; ep++)
		json_object_set_new(invalid, upbit_endpoint_name((enum upbit_endpoint)ep),
				    json_integer((json_int_t)c->invalid[ep]));
	json_object_set_new(top, "groups", groups);
	json_object_set_new(top, "invalid", invalid);
	return json_object_set_new(obj, "upbit", top) == 0 ? 0 : -1;
}
