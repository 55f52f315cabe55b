/* The Upbit client end to end against scripted loopback servers: parsing through the callback,
 * signing, failover and return to the primary, 429/418, POST outcomes, bounds and shutdown. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "common/clock.h"
#include "common/jwt.h"
#include "common/log.h"
#include "workers/upbit/upbit_client.h"

#define TICKER_BODY                                                                                \
	"[{\"market\":\"KRW-BTC\",\"trade_timestamp\":1736912518512,\"opening_price\":144300000."  \
	"0,"                                                                                       \
	"\"high_price\":145600000.0,\"low_price\":143800000.0,\"trade_price\":145000000.0,"        \
	"\"prev_closing_price\":144120000.0,\"change\":\"RISE\",\"change_price\":880000.0,"        \
	"\"change_rate\":0.0061060228,\"signed_change_price\":880000.0,"                           \
	"\"signed_change_rate\":0.0061060228,\"trade_volume\":0.00210312,"                         \
	"\"acc_trade_price\":98765432101.12345,\"acc_trade_price_24h\":245678901234.5678,"         \
	"\"acc_trade_volume\":681.23456789,\"acc_trade_volume_24h\":1702.98765432,"                \
	"\"timestamp\":1736912518893}]"

#define ORDER_BODY                                                                                 \
	"{\"uuid\":\"cdd92199-2897-4e14-9448-f923320408ad\",\"side\":\"bid\",\"ord_type\":"        \
	"\"limit\","                                                                               \
	"\"price\":\"100.0\",\"state\":\"wait\",\"market\":\"KRW-BTC\","                           \
	"\"created_at\":\"2018-04-10T15:42:23+09:00\",\"volume\":\"0.01\","                        \
	"\"remaining_volume\":\"0.01\",\"reserved_fee\":\"0.0015\",\"remaining_fee\":\"0.0015\","  \
	"\"paid_fee\":\"0.0\",\"locked\":\"1.0015\",\"executed_volume\":\"0.0\",\"trades_count\":" \
	"0,"                                                                                       \
	"\"identifier\":\"bot-1\"}"

/* A sequential loopback server answering from a script; the last entry repeats. */
struct fake {
	int fd, port;
	pthread_t thread;
	pthread_mutex_t mu;
	const char *script[8];
	int n_script, next, requests;
	char last[4096];
};

static void send_str(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len > 0) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void serve(struct fake *f, int fd)
{
	char req[4096], resp[8192];
	size_t used = 0;
	const char *body, *step;
	char *hdr_end = NULL;
	long clen = 0;

	while (used < sizeof(req) - 1) {
		ssize_t n = recv(fd, req + used, sizeof(req) - 1 - used, 0);

		if (n <= 0)
			return;
		used += (size_t)n;
		req[used] = '\0';
		hdr_end = strstr(req, "\r\n\r\n");
		if (hdr_end) {
			const char *cl = strcasestr(req, "Content-Length:");

			clen = cl ? strtol(cl + 15, NULL, 10) : 0;
			if ((long)(used - (size_t)(hdr_end + 4 - req)) >= clen)
				break;
		}
	}
	pthread_mutex_lock(&f->mu);
	memcpy(f->last, req, used + 1);
	f->requests++;
	step = f->script[f->next < f->n_script ? f->next : f->n_script - 1];
	f->next++;
	pthread_mutex_unlock(&f->mu);
	if (strcmp(step, "SILENT") == 0) {
		while (recv(fd, req, sizeof(req), 0) > 0)
			;
		return;
	}
	/* "STATUS|extra headers|body" */
	body = strrchr(step, '|') + 1;
	snprintf(resp, sizeof(resp),
		 "HTTP/1.1 %.3s X\r\nRemaining-Req: group=ticker; min=1800; sec=9\r\n%.*s"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		 step, (int)(body - 1 - (step + 4)), step + 4, strlen(body), body);
	send_str(fd, resp);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	for (;;) {
		int fd = accept(f->fd, NULL, NULL);

		if (fd < 0)
			break;
		serve(f, fd);
		close(fd);
	}
	return NULL;
}

static void fake_bind(struct fake *f)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	f->fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(f->fd, (struct sockaddr *)&sa, &len);
	f->port = ntohs(sa.sin_port);
}

/* Until fake_listen, the port refuses connections. */
static void fake_listen(struct fake *f)
{
	assert_int_equal(listen(f->fd, 16), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f, int listening)
{
	shutdown(f->fd, SHUT_RDWR);
	close(f->fd);
	if (listening)
		pthread_join(f->thread, NULL);
	pthread_mutex_destroy(&f->mu);
}

static void fake_script(struct fake *f, int n, ...)
{
	va_list ap;

	pthread_mutex_lock(&f->mu);
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		f->script[i] = va_arg(ap, const char *);
	va_end(ap);
	f->n_script = n;
	f->next = 0;
	pthread_mutex_unlock(&f->mu);
}

static int fake_requests(struct fake *f)
{
	int n;

	pthread_mutex_lock(&f->mu);
	n = f->requests;
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* ---- harness ---- */

struct got {
	int calls;
	struct upbit_result r;
	char base[64];
	double trade_price;
	char uuid[40];
	int alerts[8];
	char last_alert[256];
};

static struct got got;
static unsigned breaker_threshold = 1;
static uv_loop_t loop;

static void on_alert(void *arg, enum upbit_alert kind, const char *text)
{
	(void)arg;
	got.alerts[kind]++;
	snprintf(got.last_alert, sizeof(got.last_alert), "%s", text);
}

static void save_result(const struct upbit_result *r)
{
	got.calls++;
	got.r = *r;
	snprintf(got.base, sizeof(got.base), "%s", r->base_url);
	got.r.base_url = got.base;
}

static void on_tickers(void *arg, const struct upbit_result *r, const struct upbit_ticker *v,
		       size_t n)
{
	(void)arg;
	save_result(r);
	got.trade_price = n > 0 ? v[0].trade_price : -1;
	if (r->status == UPBIT_OK)
		assert_int_equal(n, 1);
	else
		assert_null(v);
}

static void on_order(void *arg, const struct upbit_result *r, const struct upbit_order *o)
{
	(void)arg;
	save_result(r);
	snprintf(got.uuid, sizeof(got.uuid), "%s", o ? o->uuid : "");
}

static void wait_calls(int n)
{
	int64_t deadline = clock_mono_ms() + 15000;

	while (got.calls < n && clock_mono_ms() < deadline)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(got.calls, n);
}

static struct upbit_client *make_client(const char *primary, const char *fallback, const char *ak)
{
	struct upbit_client_config cfg;
	struct upbit_client *c;

	memset(&cfg, 0, sizeof(cfg));
	cfg.quotation_urls[0] = primary;
	cfg.quotation_urls[1] = fallback;
	cfg.access_key = ak;
	cfg.secret_key = ak ? "test-secret-key" : NULL;
	cfg.connect_timeout_ms = 1000;
	cfg.total_timeout_ms = 800;
	cfg.max_attempts = 2;
	cfg.backoff_base_ms = 10;
	cfg.backoff_cap_ms = 20;
	cfg.max_queue_per_group = 4;
	cfg.breaker.consecutive_failures = breaker_threshold;
	cfg.breaker.cooldown_ms = 300;
	cfg.on_alert = on_alert;
	memset(&got, 0, sizeof(got));
	assert_int_equal(uv_loop_init(&loop), 0);
	c = upbit_client_new(&loop, &cfg);
	assert_non_null(c);
	return c;
}

static int closed_flag;

static void on_closed(void *arg)
{
	(void)arg;
	closed_flag = 1;
}

static void close_client(struct upbit_client *c)
{
	closed_flag = 0;
	upbit_client_close(c, on_closed, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(closed_flag, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static const char *const btc_eth[] = {"KRW-BTC", "KRW-ETH"};

static void url_of(char *buf, size_t len, const struct fake *f)
{
	snprintf(buf, len, "http://127.0.0.1:%d", f->port);
}

/* status["upbit"]["groups"][group][key] */
static json_t *group_field(json_t *status, const char *group, const char *key)
{
	json_t *groups = json_object_get(json_object_get(status, "upbit"), "groups");

	return json_object_get(json_object_get(groups, group), key);
}

/* ---- tests ---- */

static void test_ticker_ok_and_query(void **state)
{
	struct fake f;
	char url[64];
	struct upbit_client *c;
	json_t *status;

	(void)state;
	fake_bind(&f);
	fake_script(&f, 1, "200||" TICKER_BODY);
	fake_listen(&f);
	url_of(url, sizeof(url), &f);
	c = make_client(url, NULL, NULL);
	assert_int_equal(upbit_get_tickers(c, btc_eth, 2, on_tickers, NULL), 0);
	assert_int_equal(got.calls, 0); /* never called back from inside the call */
	wait_calls(1);
	assert_int_equal(got.r.status, UPBIT_OK);
	assert_true(got.trade_price == 145000000.0);
	assert_non_null(strstr(f.last, "GET /v1/ticker?markets=KRW-BTC%2CKRW-ETH HTTP/1.1"));
	assert_null(strstr(f.last, "Authorization"));
	status = json_object();
	assert_int_equal(upbit_client_status_json(c, status), 0);
	assert_string_equal(json_string_value(group_field(status, "ticker", "base")), url);
	json_decref(status);
	assert_int_equal(upbit_get_tickers(c, NULL, 0, on_tickers, NULL), -EINVAL);
	{
		const char *bad[] = {"krw-btc"};

		assert_int_equal(upbit_get_tickers(c, bad, 1, on_tickers, NULL), -EINVAL);
	}
	assert_int_equal(upbit_get_accounts(c, NULL, NULL), -EINVAL);
	close_client(c);
	fake_stop(&f, 1);
}

/* Primary refuses; the breaker opens, the retry goes to the fallback; once the primary listens
 * again a half-open probe brings traffic back to it. */
static void test_failover_and_return(void **state)
{
	struct fake primary, fallback;
	char purl[64], furl[64];
	struct upbit_client *c;
	struct breaker_status st;

	(void)state;
	fake_bind(&primary);
	fake_bind(&fallback);
	fake_script(&primary, 1, "200||" TICKER_BODY);
	fake_script(&fallback, 1, "200||" TICKER_BODY);
	fake_listen(&fallback);
	url_of(purl, sizeof(purl), &primary);
	url_of(furl, sizeof(furl), &fallback);
	c = make_client(purl, furl, NULL);
	assert_int_equal(upbit_get_tickers(c, btc_eth, 1, on_tickers, NULL), 0);
	wait_calls(1);
	assert_int_equal(got.r.status, UPBIT_OK);
	assert_int_equal(got.r.attempts, 2);
	assert_string_equal(got.base, furl);
	assert_int_equal(got.alerts[UPBIT_ALERT_BREAKER_OPEN], 1);
	assert_int_equal(got.alerts[UPBIT_ALERT_FAILOVER], 1);
	assert_int_equal(upbit_client_breaker_status(c, 0, 0, UPBIT_GROUP_TICKER, &st), 0);
	assert_int_equal(st.state, BREAKER_OPEN);
	/* While the primary's breaker is open, calls go straight to the fallback. */
	assert_int_equal(upbit_get_tickers(c, btc_eth, 1, on_tickers, NULL), 0);
	wait_calls(2);
	assert_int_equal(got.r.attempts, 1);
	assert_string_equal(got.base, furl);
	/* Another group is unaffected: its breaker on the primary is still closed. */
	assert_int_equal(upbit_client_breaker_status(c, 0, 0, UPBIT_GROUP_CANDLE, &st), 0);
	assert_int_equal(st.state, BREAKER_CLOSED);
	fake_listen(&primary);
	usleep(350 * 1000);
	assert_int_equal(upbit_get_tickers(c, btc_eth, 1, on_tickers, NULL), 0);
	wait_calls(3);
	assert_int_equal(got.r.status, UPBIT_OK);
	assert_string_equal(got.base, purl);
	assert_int_equal(got.alerts[UPBIT_ALERT_BREAKER_CLOSED], 1);
	assert_int_equal(got.alerts[UPBIT_ALERT_FAILOVER], 2);
	assert_int_equal(upbit_client_breaker_status(c, 0, 0, UPBIT_GROUP_TICKER, &st), 0);
	assert_int_equal(st.state, BREAKER_CLOSED);
	close_client(c);
	fake_stop(&primary, 1);
	fake_stop(&fallback, 1);
}

static void test_all_open_fails_fast(void **state)
{
	struct fake f;
	char url[64];
	struct upbit_client *c;
	int64_t t0;

	(void)state;
	fake_bind(&f); /* never listens */
	url_of(url, sizeof(url), &f);
	c = make_client(url, NULL, NULL);
	assert_int_equal(upbit_get_tickers(c, btc_eth, 1, on_tickers, NULL), 0);
	wait_calls(1);
	assert_int_equal(got.r.status, UPBIT_ERR_CIRCUIT_OPEN);
	t0 = clock_mono_ms();
	assert_int_equal(upbit_get_tickers(c, btc_eth, 1, on_tickers, NULL), 0);
	wait_calls(2);
	assert_int_equal(got.r.status, UPBIT_ERR_CIRCUIT_OPEN);
	assert_int_equal(got.r.attempts, 0);
	assert_true(clock_mono_ms() - t0 < 100);
	close_client(c);
	fake_stop(&f, 0);
}

static const struct upbit_order_request limit_bid = {
	.market = "KRW-BTC",
	.side = "bid",
	.ord_type = "limit",
	.volume = "0.01",
	.price = "100.0",
	.identifier = "bot-1",
};

static void test_post_signed_and_never_retried(void **state)
{
	struct fake f;
	char url[64], hash_hex[129];
	struct upbit_client *c;
	struct jwt_claims claims;
	const char *auth, *hash_form = "market=KRW-BTC&side=bid&volume=0.01&price=100.0&"
				       "ord_type=limit&identifier=bot-1";
	char token[2048];

	(void)state;
	fake_bind(&f);
	fake_script(&f, 2, "201||" ORDER_BODY, "SILENT");
	fake_listen(&f);
	url_of(url, sizeof(url), &f);
	c = make_client(url, NULL, NULL);
	assert_int_equal(upbit_create_order(c, &limit_bid, on_order, NULL), -EPERM);
	close_client(c);
	c = make_client(url, NULL, "test-access-key");
	assert_int_equal(upbit_create_order(c, &limit_bid, on_order, NULL), 0);
	wait_calls(1);
	assert_int_equal(got.r.status, UPBIT_OK);
	assert_string_equal(got.uuid, "cdd92199-2897-4e14-9448-f923320408ad");
	/* The body and the signed hash follow the same field order. */
	assert_non_null(strstr(f.last, "POST /v1/orders HTTP/1.1"));
	assert_non_null(strstr(f.last, "{\"market\":\"KRW-BTC\",\"side\":\"bid\",\"volume\":"
				       "\"0.01\",\"price\":\"100.0\",\"ord_type\":\"limit\","
				       "\"identifier\":\"bot-1\"}"));
	auth = strstr(f.last, "Authorization: Bearer ");
	assert_non_null(auth);
	sscanf(auth + 22, "%2047[^\r]", token);
	assert_int_equal(jwt_verify_signature(token, "test-secret-key"), 0);
	assert_int_equal(jwt_parse(token, &claims), 0);
	sha512_hex(hash_form, strlen(hash_form), hash_hex);
	assert_string_equal(claims.query_hash, hash_hex);
	/* A silent server: the order may exist, so the outcome is unknown, and it is not resent. */
	assert_int_equal(upbit_create_order(c, &limit_bid, on_order, NULL), 0);
	wait_calls(2);
	assert_int_equal(got.r.status, UPBIT_ERR_UNKNOWN_OUTCOME);
	assert_int_equal(got.r.attempts, 1);
	assert_int_equal(fake_requests(&f), 2);
	close_client(c);
	fake_stop(&f, 1);
}

static void test_post_refused_is_not_sent(void **state)
{
	struct fake f;
	char url[64];
	struct upbit_client *c;
	struct upbit_order_request bad = limit_bid;

	(void)state;
	fake_bind(&f);
	url_of(url, sizeof(url), &f);
	c = make_client(url, NULL, "test-access-key");
	assert_int_equal(upbit_create_order(c, &limit_bid, on_order, NULL), 0);
	wait_calls(1);
	assert_int_equal(got.r.status, UPBIT_ERR_TRANSPORT);
	assert_int_equal(got.r.transport, HTTP_ERR_CONNECT);
	assert_int_equal(got.r.attempts, 1);
	bad.price = NULL;
	assert_int_equal(upbit_create_order(c, &bad, on_order, NULL), -EINVAL);
	bad = limit_bid;
	bad.identifier = NULL;
	assert_int_equal(upbit_create_order(c, &bad, on_order, NULL), -EINVAL);
	bad = limit_bid;
	bad.volume = "1e-3";
	assert_int_equal(upbit_create_order(c, &bad, on_order, NULL), -EINVAL);
	close_client(c);
	fake_stop(&f, 0);
}

static void test_429_then_ok(void **state)
{
	struct fake f;
	char url[64];
	struct upbit_client *c;
	int64_t t0 = clock_mono_ms();

	(void)state;
	fake_bind(&f);
	fake_script(&f, 2, "429|Retry-After: 2\r\n|Too many API requests.", "200||" TICKER_BODY);
	fake_listen(&f);
	url_of(url, sizeof(url), &f);
	c = make_client(url, NULL, NULL);
	assert_int_equal(upbit_get_tickers(c, btc_eth, 2, on_tickers, NULL), 0);
	wait_calls(1);
	assert_int_equal(got.r.status, UPBIT_OK);
	assert_int_equal(got.r.attempts, 2);
	/* The group waited out Retry-After (2 s, above the 1 s back-off) before the retry. */
	assert_true(clock_mono_ms() - t0 >= 2000);
	close_client(c);
	fake_stop(&f, 1);
}

static void test_418_blocks_group(void **state)
{
	struct fake f;
	char url[64];
	struct upbit_client *c;
	json_t *status;

	(void)state;
	fake_bind(&f);
	fake_script(&f, 1, "418|Retry-After: 30\r\n|blocked");
	fake_listen(&f);
	url_of(url, sizeof(url), &f);
	c = make_client(url, NULL, NULL);
	assert_int_equal(upbit_get_tickers(c, btc_eth, 2, on_tickers, NULL), 0);
	wait_calls(1);
	assert_int_equal(got.r.status, UPBIT_ERR_BLOCKED);
	assert_int_equal(got.alerts[UPBIT_ALERT_BLOCKED], 1);
	assert_non_null(strstr(got.last_alert, "30 s"));
	assert_int_equal(upbit_get_tickers(c, btc_eth, 2, on_tickers, NULL), 0);
	wait_calls(2);
	assert_int_equal(got.r.status, UPBIT_ERR_BLOCKED);
	assert_int_equal(fake_requests(&f), 1); /* the second never reached the server */
	status = json_object();
	upbit_client_status_json(c, status);
	assert_true(json_is_true(group_field(status, "ticker", "blocked_by_418")));
	json_decref(status);
	close_client(c);
	fake_stop(&f, 1);
}

static void test_invalid_data_counted(void **state)
{
	struct fake f;
	char url[64];
	struct upbit_client *c;

	(void)state;
	fake_bind(&f);
	fake_script(&f, 1, "200||[{\"market\":\"KRW-BTC\",\"trade_price\":NaN}]");
	fake_listen(&f);
	url_of(url, sizeof(url), &f);
	breaker_threshold = 5;
	c = make_client(url, NULL, NULL);
	breaker_threshold = 1;
	assert_int_equal(upbit_get_tickers(c, btc_eth, 2, on_tickers, NULL), 0);
	wait_calls(1);
	assert_int_equal(got.r.status, UPBIT_ERR_INVALID);
	assert_int_equal(got.r.parse.code, UPBIT_PARSE_SYNTAX);
	assert_int_equal(got.r.attempts, 2);
	assert_int_equal(upbit_client_invalid_count(c, "ticker"), 2);
	/* Logged and alerted once, the repeat is counted silently. */
	assert_int_equal(got.alerts[UPBIT_ALERT_INVALID_DATA], 1);
	close_client(c);
	fake_stop(&f, 1);
}

static void test_api_error_and_queue_bound(void **state)
{
	struct fake f;
	char url[64];
	struct upbit_client *c;

	(void)state;
	fake_bind(&f);
	fake_script(&f, 1,
		    "404||{\"error\":{\"name\":\"order_not_found\",\"message\":\"not found\"}}");
	fake_listen(&f);
	url_of(url, sizeof(url), &f);
	c = make_client(url, NULL, "test-access-key");
	assert_int_equal(upbit_get_order(c, NULL, "bot-1", on_order, NULL), 0);
	wait_calls(1);
	assert_int_equal(got.r.status, UPBIT_ERR_API);
	assert_int_equal(got.r.http_status, 404);
	assert_string_equal(got.r.error.name, "order_not_found");
	assert_int_equal(got.r.attempts, 1);
	assert_non_null(strstr(f.last, "GET /v1/order?identifier=bot-1 "));
	assert_int_equal(upbit_get_order(c, "a", "b", on_order, NULL), -EINVAL);
	/* Four fit in the group's queue, the fifth is refused; closing cancels the queued. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(upbit_get_order(c, NULL, "bot-1", on_order, NULL), 0);
	assert_int_equal(upbit_get_order(c, NULL, "bot-1", on_order, NULL), -ENOBUFS);
	close_client(c);
	assert_int_equal(got.calls, 5);
	assert_int_equal(got.r.status, UPBIT_ERR_CANCELLED);
	fake_stop(&f, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ticker_ok_and_query),
		cmocka_unit_test(test_failover_and_return),
		cmocka_unit_test(test_all_open_fails_fast),
		cmocka_unit_test(test_post_signed_and_never_retried),
		cmocka_unit_test(test_post_refused_is_not_sent),
		cmocka_unit_test(test_429_then_ok),
		cmocka_unit_test(test_418_blocks_group),
		cmocka_unit_test(test_invalid_data_counted),
		cmocka_unit_test(test_api_error_and_queue_bound),
	};
	int rc;

	log_init("test");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
