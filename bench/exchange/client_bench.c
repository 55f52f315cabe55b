/* Request rate and latency to the simulator: the upbit client (libcurl multi on libuv, with its
 * buckets, queues and parsers) against plain blocking libcurl easy on one reused connection. */
#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

#include "common/log.h"
#include "workers/upbit/upbit_client.h"

#define MAX_MARKETS 256

struct options {
	const char *mode; /* client | curl | fetch */
	const char *url;  /* base URL (client, curl) or full URL (fetch) */
	const char *label;
	long count;
	long inflight;
	int default_limits;
	char *market_list;   /* comma-separated, owned */
	char *market_tokens; /* the same, cut at the commas; markets[] point into it */
	const char *markets[MAX_MARKETS];
	size_t nmarkets;
};

/* Per-run measurements: submit and completion times of every request, in ns. */
struct run {
	long count;
	long submitted, completed, ok, failed;
	uint64_t *start_ns, *lat_ns, *done_ns;
	uint64_t t0_ns, t1_ns;
	uint64_t cpu0_ns; /* this process's user+system time at the start */
	size_t items;	  /* tickers in the last good reply */
	int first_error;
	long first_http;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static uint64_t percentile(const uint64_t *v, long n, double p)
{
	long rank = (long)(p / 100.0 * (double)n + 0.999999);

	if (n <= 0)
		return 0;
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* The most completions inside any window of one second (the rate cap a server would see). */
static long max_per_second(const uint64_t *sorted, long n)
{
	long best = 0;

	for (long lo = 0, hi = 0; hi < n; hi++) {
		while (sorted[hi] - sorted[lo] >= 1000000000u)
			lo++;
		if (hi - lo + 1 > best)
			best = hi - lo + 1;
	}
	return best;
}

static void report(const struct options *o, struct run *r)
{
	long n = r->completed;
	double secs = (double)(r->t1_ns - r->t0_ns) / 1e9;
	double steady = 0;
	double cpu_us = n > 0 ? (double)(cpu_ns() - r->cpu0_ns) / 1e3 / (double)n : 0;

	qsort(r->lat_ns, (size_t)n, sizeof(uint64_t), cmp_u64);
	qsort(r->done_ns, (size_t)n, sizeof(uint64_t), cmp_u64);
	/* The second half of the run, past any initial burst a bucket lets through. */
	if (n >= 4 && r->done_ns[n - 1] > r->done_ns[n / 2 - 1])
		steady = (double)(n - n / 2) * 1e9 /
			 (double)(r->done_ns[n - 1] - r->done_ns[n / 2 - 1]);
	printf("label=%s mode=%s inflight=%ld limits=%s markets=%zu requests=%ld ok=%ld failed=%ld "
	       "items=%zu seconds=%.3f rps=%.1f steady_rps=%.1f max_in_1s=%ld p50_us=%.0f "
	       "p90_us=%.0f p99_us=%.0f max_us=%.0f cpu_us_per_req=%.1f first_error=%s http=%ld\n",
	       o->label, o->mode, strcmp(o->mode, "curl") == 0 ? 1 : o->inflight,
	       strcmp(o->mode, "curl") == 0 ? "none" : (o->default_limits ? "default" : "raised"),
	       o->nmarkets, n, r->ok, r->failed, r->items, secs, secs > 0 ? (double)n / secs : 0,
	       steady, max_per_second(r->done_ns, n), (double)percentile(r->lat_ns, n, 50) / 1e3,
	       (double)percentile(r->lat_ns, n, 90) / 1e3,
	       (double)percentile(r->lat_ns, n, 99) / 1e3,
	       n > 0 ? (double)r->lat_ns[n - 1] / 1e3 : 0, cpu_us,
	       r->first_error ? upbit_status_name((enum upbit_status)r->first_error) : "none",
	       r->first_http);
	fflush(stdout);
}

/* On failure the caller still frees with run_free. */
static int run_alloc(struct run *r, long count)
{
	memset(r, 0, sizeof(*r));
	r->count = count;
	r->start_ns = calloc((size_t)count, sizeof(uint64_t));
	r->lat_ns = calloc((size_t)count, sizeof(uint64_t));
	r->done_ns = calloc((size_t)count, sizeof(uint64_t));
	return r->start_ns && r->lat_ns && r->done_ns ? 0 : -1;
}

static void run_free(struct run *r)
{
	free(r->start_ns);
	free(r->lat_ns);
	free(r->done_ns);
}

/* ---- the upbit client on libuv ---- */

struct client_bench;

/* One request's callback argument: which submit it answers. */
struct slot {
	struct client_bench *b;
	long idx;
};

struct client_bench {
	const struct options *o;
	struct run *r;
	struct upbit_client *client;
	struct slot *slots;
	int closing, closed;
};

static void submit_next(struct client_bench *b);

static void on_tickers(void *arg, const struct upbit_result *res, const struct upbit_ticker *v,
		       size_t n)
{
	struct slot *s = arg;
	struct client_bench *b = s->b;
	struct run *r = b->r;
	uint64_t t = now_ns();
	long i = r->completed++;

	(void)v;
	r->done_ns[i] = t;
	r->lat_ns[i] = t - r->start_ns[s->idx];
	if (res->status == UPBIT_OK) {
		r->ok++;
		r->items = n;
	} else {
		r->failed++;
		if (!r->first_error) {
			r->first_error = (int)res->status;
			r->first_http = res->http_status;
		}
	}
	if (r->completed == r->count)
		r->t1_ns = t;
	submit_next(b);
}

static void submit_next(struct client_bench *b)
{
	struct run *r = b->r;

	if (b->closing)
		return;
	while (r->submitted < r->count && r->submitted - r->completed < b->o->inflight) {
		long i = r->submitted++;
		int rc;

		b->slots[i] = (struct slot){.b = b, .idx = i};
		r->start_ns[i] = now_ns();
		rc = upbit_get_tickers(b->client, b->o->markets, b->o->nmarkets, on_tickers,
				       &b->slots[i]);
		if (rc < 0) {
			fprintf(stderr, "client_bench: upbit_get_tickers: %s\n", strerror(-rc));
			exit(1);
		}
	}
}

static void on_closed(void *arg)
{
	struct client_bench *b = arg;

	b->closed = 1;
}

static int bench_client(const struct options *o)
{
	struct upbit_client_config cfg = {0};
	struct client_bench b = {.o = o};
	struct run r;
	uv_loop_t loop;
	int rc = -1;

	if (run_alloc(&r, o->count) < 0)
		goto out;
	b.r = &r;
	b.slots = calloc((size_t)o->count, sizeof(*b.slots));
	if (!b.slots || uv_loop_init(&loop) < 0)
		goto out;
	cfg.quotation_urls[0] = o->url;
	cfg.max_queue_per_group = (unsigned)(o->inflight > 64 ? o->inflight : 64);
	if (!o->default_limits)
		cfg.rate_per_s[UPBIT_GROUP_TICKER] = 1e7;
	b.client = upbit_client_new(&loop, &cfg);
	if (!b.client) {
		uv_loop_close(&loop);
		goto out;
	}
	r.cpu0_ns = cpu_ns();
	r.t0_ns = now_ns();
	submit_next(&b);
	/* The client's timers and polls are idle once every call has been answered. */
	uv_run(&loop, UV_RUN_DEFAULT);
	b.closing = 1;
	upbit_client_close(b.client, on_closed, &b);
	while (!b.closed)
		uv_run(&loop, UV_RUN_ONCE);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	if (r.completed != r.count) {
		fprintf(stderr, "client_bench: loop ended after %ld of %ld\n", r.completed,
			r.count);
		goto out;
	}
	report(o, &r);
	rc = 0;
out:
	run_free(&r);
	free(b.slots);
	return rc;
}

/* ---- plain libcurl easy, blocking, one connection ---- */

struct body {
	char *p;
	size_t len, cap;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;

	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

static char *ticker_url(const struct options *o)
{
	size_t len = strlen(o->url) + strlen("/v1/ticker?markets=") + strlen(o->market_list) + 1;
	char *url = malloc(len);

	if (url)
		snprintf(url, len, "%s/v1/ticker?markets=%s", o->url, o->market_list);
	return url;
}

static int bench_curl(const struct options *o)
{
	struct body body = {0};
	struct run r;
	char *url = ticker_url(o);
	CURL *e = curl_easy_init();
	int rc = -1;

	if (run_alloc(&r, o->count) < 0 || !url || !e)
		goto out;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "tradingd-bench");
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	r.cpu0_ns = cpu_ns();
	r.t0_ns = now_ns();
	for (long i = 0; i < o->count; i++) {
		long status = 0;
		CURLcode cc;
		uint64_t t;

		body.len = 0;
		r.start_ns[i] = now_ns();
		cc = curl_easy_perform(e);
		t = now_ns();
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		r.done_ns[i] = t;
		r.lat_ns[i] = t - r.start_ns[i];
		r.completed++;
		if (cc == CURLE_OK && status == 200) {
			r.ok++;
		} else {
			r.failed++;
			if (!r.first_error) {
				r.first_error =
					cc == CURLE_OK ? UPBIT_ERR_HTTP : UPBIT_ERR_TRANSPORT;
				r.first_http = status;
			}
		}
	}
	r.t1_ns = now_ns();
	/* Count the items of the last reply the cheap way, for the table only. */
	for (size_t i = 0; i + 9 < body.len; i++)
		if (memcmp(body.p + i, "\"market\":", 9) == 0)
			r.items++;
	report(o, &r);
	rc = 0;
out:
	run_free(&r);
	if (e)
		curl_easy_cleanup(e);
	free(body.p);
	free(url);
	return rc;
}

/* ---- one GET, body to stdout (the script needs no curl binary) ---- */

static int fetch(const char *url)
{
	struct body body = {0};
	CURL *e = curl_easy_init();
	long status = 0;
	CURLcode cc;

	if (!e)
		return -1;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	cc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(e);
	if (cc != CURLE_OK || status != 200) {
		fprintf(stderr, "client_bench: GET %s: %s, HTTP %ld\n", url, curl_easy_strerror(cc),
			status);
		free(body.p);
		return -1;
	}
	if (body.len > 0 && fwrite(body.p, 1, body.len, stdout) != body.len) {
		free(body.p);
		return -1;
	}
	free(body.p);
	return fflush(stdout) == 0 ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: client_bench client|curl --url BASE [--count N] [--inflight K]\n"
		"                    [--markets A,B,...] [--default-limits] [--label NAME]\n"
		"       client_bench fetch --url FULL_URL\n");
	exit(2);
}

static int split_markets(struct options *o, const char *list)
{
	char *save = NULL;

	o->market_list = strdup(list);
	o->market_tokens = strdup(list);
	if (!o->market_list || !o->market_tokens)
		return -1;
	for (char *tok = strtok_r(o->market_tokens, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (o->nmarkets == MAX_MARKETS)
			return -1;
		o->markets[o->nmarkets++] = tok;
	}
	return o->nmarkets > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct options o = {.count = 1000, .inflight = 1, .label = "-"};
	const char *markets = "KRW-BTC";
	int rc;

	if (argc < 2)
		usage();
	o.mode = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--default-limits") == 0) {
			o.default_limits = 1;
			continue;
		}
		if (!v)
			usage();
		if (strcmp(a, "--url") == 0)
			o.url = v;
		else if (strcmp(a, "--count") == 0)
			o.count = atol(v);
		else if (strcmp(a, "--inflight") == 0)
			o.inflight = atol(v);
		else if (strcmp(a, "--markets") == 0)
			markets = v;
		else if (strcmp(a, "--label") == 0)
			o.label = v;
		else
			usage();
		i++;
	}
	if (!o.url || o.count < 1 || o.inflight < 1 || o.inflight > 1024)
		usage();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	log_init("client-bench");
	log_set_level(LOG_LVL_WARN);
	if (strcmp(o.mode, "fetch") == 0)
		rc = fetch(o.url);
	else if (split_markets(&o, markets) < 0)
		rc = -1, fprintf(stderr, "client_bench: bad --markets\n");
	else if (strcmp(o.mode, "client") == 0)
		rc = bench_client(&o);
	else if (strcmp(o.mode, "curl") == 0)
		rc = bench_curl(&o);
	else
		usage();
	curl_global_cleanup();
	free(o.market_list);
	free(o.market_tokens);
	return rc == 0 ? 0 : 1;
}
