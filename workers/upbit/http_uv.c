/* Asynchronous HTTP(S) on the process's libuv loop: libcurl's multi-socket API driven by uv_poll,
 * one uv_timer and one uv_idle (for "now"), so no request ever blocks the loop. One callback per
 * request. */
#include "http_uv.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"

/* One per socket libcurl asks us to watch; freed in the uv_close callback. */
struct sock_ctx {
	uv_poll_t poll;
	curl_socket_t fd;
	struct http_client *client;
	struct sock_ctx *prev, *next;
};

struct http_xfer {
	struct http_client *client;
	CURL *easy;
	struct curl_slist *headers;
	http_done_cb done;
	void *arg;
	char *buf;
	size_t len, cap, max_body;
	int too_big;
	int has_retry_after;
	char remaining_req[128];
	char errbuf[CURL_ERROR_SIZE];
	int64_t started_ms;
	struct http_xfer *prev, *next;
};

struct http_client {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	uv_idle_t now; /* libcurl's 0 ms timeout: the next turn of the loop, not 1 ms later */
	struct sock_ctx *socks;
	struct http_xfer *xfers;
	size_t n_xfers;
	char *user_agent;
	char *ca_file;
	int dispatching; /* depth of done-callback dispatch; teardown waits for 0 */
	int close_requested;
	int closing;	    /* teardown started: no new work, curl callbacks only release */
	int pending_closes; /* uv handles whose close callback has not run yet */
	http_closed_cb closed;
	void *closed_arg;
};

static void check_done(struct http_client *c);
static void teardown(struct http_client *c);

const char *http_err_name(enum http_err err)
{
	static const char *const names[] = {"ok",    "dns", "connect",	 "timeout", "too_big",
					    "reset", "tls", "cancelled", "other"};

	if ((unsigned)err >= sizeof(names) / sizeof(names[0]))
		return "other";
	return names[err];
}

static void maybe_free_client(struct http_client *c)
{
	http_closed_cb closed;
	void *arg;

	if (!c->closing || c->pending_closes > 0)
		return;
	closed = c->closed;
	arg = c->closed_arg;
	free(c->user_agent);
	free(c->ca_file);
	free(c);
	if (closed)
		closed(arg);
}

static void on_sock_closed(uv_handle_t *handle)
{
	struct sock_ctx *ctx = handle->data;
	struct http_client *c = ctx->client;

	free(ctx);
	c->pending_closes--;
	maybe_free_client(c);
}

static void sock_release(struct http_client *c, struct sock_ctx *ctx)
{
	if (ctx->prev)
		ctx->prev->next = ctx->next;
	else
		c->socks = ctx->next;
	if (ctx->next)
		ctx->next->prev = ctx->prev;
	uv_poll_stop(&ctx->poll);
	c->pending_closes++;
	uv_close((uv_handle_t *)&ctx->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *handle, int status, int events)
{
	struct sock_ctx *ctx = handle->data;
	struct http_client *c = ctx->client;
	int flags = 0, running = 0;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(c->multi, ctx->fd, flags, &running);
	check_done(c);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http_client *c = userp;
	struct sock_ctx *ctx = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (ctx) {
			sock_release(c, ctx);
			if (c->multi)
				curl_multi_assign(c->multi, s, NULL);
		}
		return 0;
	}
	if (c->closing)
		return 0;
	if (!ctx) {
		ctx = calloc(1, sizeof(*ctx));
		if (!ctx)
			return -1;
		if (uv_poll_init_socket(c->loop, &ctx->poll, s) < 0) {
			free(ctx);
			return -1;
		}
		ctx->fd = s;
		ctx->client = c;
		ctx->poll.data = ctx;
		ctx->next = c->socks;
		if (c->socks)
			c->socks->prev = ctx;
		c->socks = ctx;
		curl_multi_assign(c->multi, s, ctx);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	return uv_poll_start(&ctx->poll, events, on_poll) < 0 ? -1 : 0;
}

static void run_timeout(struct http_client *c)
{
	int running = 0;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

static void on_timeout(uv_timer_t *timer)
{
	run_timeout(timer->data);
}

static void on_now(uv_idle_t *idle)
{
	/* Stopped first: a 0 ms asked for again from inside runs at the next turn. */
	uv_idle_stop(idle);
	run_timeout(idle->data);
}

/* libcurl forbids calling socket_action from here; 0 ms means "as soon as possible": an idle
 * handle, which runs at the next turn of the loop without blocking in the poll. A libuv timer
 * of 1 ms fires 1 to 2 ms later (the loop's time is cached, in whole ms); one of 0 ms restarted
 * from its own callback runs again in the same pass. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *c = userp;

	(void)multi;
	if (c->closing)
		return 0;
	uv_timer_stop(&c->timer);
	uv_idle_stop(&c->now);
	if (timeout_ms == 0)
		uv_idle_start(&c->now, on_now);
	else if (timeout_ms > 0)
		uv_timer_start(&c->timer, on_timeout, (uint64_t)timeout_ms, 0);
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_xfer *x = userp;
	size_t n = size * nmemb;

	if (n > x->max_body - x->len) {
		x->too_big = 1;
		return 0; /* libcurl aborts with CURLE_WRITE_ERROR */
	}
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *grown;

		while (cap < x->len + n + 1)
			cap *= 2;
		if (cap > x->max_body + 1)
			cap = x->max_body + 1;
		grown = realloc(x->buf, cap);
		if (!grown)
			return 0;
		x->buf = grown;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return n;
}

static int header_is(const char *line, size_t len, const char *name)
{
	size_t nlen = strlen(name);

	return len > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':';
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *userp)
{
	struct http_xfer *x = userp;
	size_t len = size * nmemb;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue, say) replaces what an earlier one said. */
		x->remaining_req[0] = '\0';
		x->has_retry_after = 0;
	} else if (header_is(line, len, "Remaining-Req")) {
		const char *v = line + strlen("Remaining-Req") + 1;
		const char *end = line + len;
		size_t vlen;

		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		vlen = (size_t)(end - v);
		if (vlen >= sizeof(x->remaining_req))
			vlen = sizeof(x->remaining_req) - 1;
		memcpy(x->remaining_req, v, vlen);
		x->remaining_req[vlen] = '\0';
	} else if (header_is(line, len, "Retry-After")) {
		x->has_retry_after = 1;
	}
	return len;
}

static enum http_err map_result(CURLcode rc, const struct http_xfer *x)
{
	switch (rc) {
	case CURLE_OK:
		return HTTP_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return HTTP_ERR_DNS;
	case CURLE_COULDNT_CONNECT:
		return HTTP_ERR_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_ERR_TIMEOUT;
	case CURLE_FILESIZE_EXCEEDED:
		return HTTP_ERR_TOO_BIG;
	case CURLE_WRITE_ERROR:
		return x->too_big ? HTTP_ERR_TOO_BIG : HTTP_ERR_OTHER;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return HTTP_ERR_RESET;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return HTTP_ERR_TLS;
	default:
		return HTTP_ERR_OTHER;
	}
}

/* A request that never got past a fresh connect cannot have reached the server. */
static int request_maybe_sent(CURL *easy, enum http_err err)
{
	curl_off_t pretransfer = 0;
	long connects = 0;

	if (err == HTTP_ERR_DNS || err == HTTP_ERR_CONNECT)
		return 0;
	curl_easy_getinfo(easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
	curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
	return !(pretransfer == 0 && connects > 0);
}

static void xfer_unlink(struct http_client *c, struct http_xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		c->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	c->n_xfers--;
}

static void xfer_free(struct http_xfer *x)
{
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	free(x->buf);
	free(x);
}

/* Takes x out of the multi handle, reports it, and frees it. */
static void xfer_finish(struct http_client *c, struct http_xfer *x, CURLcode rc, int cancelled)
{
	struct http_response r;

	memset(&r, 0, sizeof(r));
	xfer_unlink(c, x);
	if (c->multi)
		curl_multi_remove_handle(c->multi, x->easy);
	r.err = cancelled ? HTTP_ERR_CANCELLED : map_result(rc, x);
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
	r.maybe_sent = request_maybe_sent(x->easy, r.err);
	memcpy(r.remaining_req, x->remaining_req, sizeof(r.remaining_req));
	r.retry_after_s = -1;
	if (x->has_retry_after) {
		curl_off_t ra = -1;

		if (curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra >= 0)
			r.retry_after_s = (long)ra;
	}
	r.body = x->buf ? x->buf : "";
	r.body_len = x->len;
	r.elapsed_ms = (long)(clock_mono_ms() - x->started_ms);
	r.detail = cancelled ? "cancelled" : x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
	if (r.err == HTTP_OK)
		r.detail = "";
	x->done(&r, x->arg);
	xfer_free(x);
}

static void check_done(struct http_client *c)
{
	CURLMsg *msg;
	int left = 0;

	c->dispatching++;
	while (!c->close_requested && (msg = curl_multi_info_read(c->multi, &left))) {
		struct http_xfer *x = NULL;
		CURLcode rc;

		if (msg->msg != CURLMSG_DONE)
			continue;
		rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		xfer_finish(c, x, rc, 0);
	}
	c->dispatching--;
	if (c->close_requested && c->dispatching == 0 && !c->closing)
		teardown(c);
}

struct http_client *http_client_new(uv_loop_t *loop, const struct http_client_config *cfg)
{
	struct http_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->loop = loop;
	c->user_agent = strdup(cfg && cfg->user_agent ? cfg->user_agent : "tradingd");
	c->ca_file = cfg && cfg->ca_file ? strdup(cfg->ca_file) : NULL;
	c->multi = curl_multi_init();
	if (!c->user_agent || (cfg && cfg->ca_file && !c->ca_file) || !c->multi ||
	    uv_timer_init(loop, &c->timer) < 0) {
		if (c->multi)
			curl_multi_cleanup(c->multi);
		free(c->user_agent);
		free(c->ca_file);
		free(c);
		return NULL;
	}
	c->timer.data = c;
	uv_idle_init(loop, &c->now);
	c->now.data = c;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	if (cfg && cfg->max_host_connections > 0)
		curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
				  cfg->max_host_connections);
	return c;
}

static int xfer_setup(struct http_client *c, struct http_xfer *x, const struct http_request *req)
{
	CURL *e = x->easy;
	int ok = 1;

	for (const char *const *h = req->headers; h && *h; h++) {
		struct curl_slist *n = curl_slist_append(x->headers, *h);

		if (!n)
			return -ENOMEM;
		x->headers = n;
	}
	if (strcmp(req->method, "POST") == 0) {
		/* No 100-continue round trip: bodies here are tiny. */
		struct curl_slist *n = curl_slist_append(x->headers, "Expect:");

		if (!n)
			return -ENOMEM;
		x->headers = n;
	}
	ok &= curl_easy_setopt(e, CURLOPT_URL, req->url) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_WRITEDATA, x) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_HEADERDATA, x) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->total_timeout_ms) == CURLE_OK;
	/* Verification stays on whatever the caller wants; a test CA goes through ca_file. */
	ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_body) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers) == CURLE_OK;
	if (c->ca_file)
		ok &= curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file) == CURLE_OK;
	if (strcmp(req->method, "GET") == 0) {
		ok &= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK;
	} else if (strcmp(req->method, "POST") == 0) {
		ok &= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len) ==
		      CURLE_OK;
		ok &= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "") ==
		      CURLE_OK;
	} else if (strcmp(req->method, "DELETE") == 0) {
		ok &= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE") == CURLE_OK;
	} else {
		return -EINVAL;
	}
	return ok ? 0 : -EINVAL;
}

int http_request_start(struct http_client *c, const struct http_request *req, http_done_cb done,
		       void *arg, struct http_xfer **out)
{
	struct http_xfer *x;
	int rc;

	if (!c || !req || !req->url || !req->method || !done || req->max_body == 0)
		return -EINVAL;
	if (c->closing || c->close_requested)
		return -ESHUTDOWN;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->client = c;
	x->done = done;
	x->arg = arg;
	x->max_body = req->max_body;
	x->started_ms = clock_mono_ms();
	x->easy = curl_easy_init();
	if (!x->easy) {
		free(x);
		return -ENOMEM;
	}
	rc = xfer_setup(c, x, req);
	if (rc == 0 && curl_multi_add_handle(c->multi, x->easy) != CURLM_OK)
		rc = -ENOMEM;
	if (rc < 0) {
		xfer_free(x);
		return rc;
	}
	x->next = c->xfers;
	if (c->xfers)
		c->xfers->prev = x;
	c->xfers = x;
	c->n_xfers++;
	if (out)
		*out = x;
	return 0;
}

size_t http_client_in_flight(const struct http_client *c)
{
	return c->n_xfers;
}

static void on_timer_closed(uv_handle_t *handle)
{
	struct http_client *c = handle->data;

	c->pending_closes--;
	maybe_free_client(c);
}

static void teardown(struct http_client *c)
{
	/* Report cancellations first, while the multi handle still exists. */
	c->dispatching++;
	while (c->xfers)
		xfer_finish(c, c->xfers, CURLE_OK, 1);
	c->dispatching--;
	c->closing = 1;
	curl_multi_cleanup(c->multi);
	c->multi = NULL;
	while (c->socks)
		sock_release(c, c->socks);
	uv_timer_stop(&c->timer);
	uv_idle_stop(&c->now);
	c->pending_closes += 2;
	uv_close((uv_handle_t *)&c->timer, on_timer_closed);
	uv_close((uv_handle_t *)&c->now, on_timer_closed);
}

void http_client_close(struct http_client *c, http_closed_cb closed, void *arg)
{
	if (!c || c->close_requested)
		return;
	c->close_requested = 1;
	c->closed = closed;
	c->closed_arg = arg;
	if (c->dispatching == 0)
		teardown(c);
}
