/* Integration test of the libcurl-on-libuv HTTP layer against a loopback server in a thread:
 * refused connect, silent server (total timeout), oversized and truncated bodies, headers. */
#include <arpa/inet.h>
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
#include "workers/upbit/http_uv.h"

/* The server answers each connection by the request path, then closes it. */
struct server {
	int listen_fd;
	int port;
	pthread_t thread;
};

static void send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
	}
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

static void serve_conn(int fd)
{
	char req[4096];
	size_t used = 0;
	char filler[1024];

	memset(filler, 'x', sizeof(filler));
	while (used < sizeof(req) - 1) {
		ssize_t n = recv(fd, req + used, sizeof(req) - 1 - used, 0);

		if (n <= 0)
			return;
		used += (size_t)n;
		req[used] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (strncmp(req, "GET /silent", 11) == 0) {
		/* Hold the connection until the client gives up. */
		while (recv(fd, req, sizeof(req), 0) > 0)
			;
	} else if (strncmp(req, "GET /big-chunked", 16) == 0) {
		send_str(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
		for (int i = 0; i < 64; i++)
			send_all(fd, filler, sizeof(filler));
	} else if (strncmp(req, "GET /big-length", 15) == 0) {
		send_str(fd,
			 "HTTP/1.1 200 OK\r\nContent-Length: 65536\r\nConnection: close\r\n\r\n");
		for (int i = 0; i < 64; i++)
			send_all(fd, filler, sizeof(filler));
	} else if (strncmp(req, "GET /truncated", 14) == 0) {
		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n"
			     "[{\"market\":\"KRW-BTC\"");
	} else if (strncmp(req, "GET /no-status", 14) == 0) {
		/* closes without a byte */
	} else {
		send_str(fd, "HTTP/1.1 429 Too Many Requests\r\n"
			     "Remaining-Req: group=ticker; min=1800; sec=0\r\n"
			     "Retry-After: 3\r\nContent-Type: text/plain\r\n"
			     "Content-Length: 22\r\nConnection: close\r\n\r\n"
			     "Too many API requests.");
	}
}

static void *server_main(void *arg)
{
	struct server *s = arg;

	for (;;) {
		int fd = accept(s->listen_fd, NULL, NULL);

		if (fd < 0)
			break;
		serve_conn(fd);
		close(fd);
	}
	return NULL;
}

static int listen_loopback(int do_listen, int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (do_listen)
		assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void server_start(struct server *s)
{
	s->listen_fd = listen_loopback(1, &s->port);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void server_stop(struct server *s)
{
	shutdown(s->listen_fd, SHUT_RDWR);
	close(s->listen_fd);
	pthread_join(s->thread, NULL);
}

/* What one request produced, copied out of the callback. */
struct outcome {
	int done;
	enum http_err err;
	long status;
	size_t body_len;
	char body[256];
	char remaining_req[128];
	long retry_after_s;
	int maybe_sent;
	int64_t elapsed_ms;
	int64_t started_ms;
	int closed;
};

static void on_done(const struct http_response *r, void *arg)
{
	struct outcome *o = arg;

	o->done++;
	o->err = r->err;
	o->status = r->status;
	o->body_len = r->body_len;
	snprintf(o->body, sizeof(o->body), "%.*s", (int)r->body_len, r->body);
	memcpy(o->remaining_req, r->remaining_req, sizeof(o->remaining_req));
	o->retry_after_s = r->retry_after_s;
	o->maybe_sent = r->maybe_sent;
	o->elapsed_ms = clock_mono_ms() - o->started_ms;
}

static void on_closed(void *arg)
{
	struct outcome *o = arg;

	o->closed = 1;
}

static void run_one(const char *url, long connect_ms, long total_ms, size_t max_body,
		    struct outcome *o)
{
	uv_loop_t loop;
	struct http_client *c;
	struct http_request req = {
		.method = "GET",
		.url = url,
		.connect_timeout_ms = connect_ms,
		.total_timeout_ms = total_ms,
		.max_body = max_body,
	};

	memset(o, 0, sizeof(*o));
	assert_int_equal(uv_loop_init(&loop), 0);
	c = http_client_new(&loop, NULL);
	assert_non_null(c);
	o->started_ms = clock_mono_ms();
	assert_int_equal(http_request_start(c, &req, on_done, o, NULL), 0);
	while (!o->done)
		uv_run(&loop, UV_RUN_ONCE);
	http_client_close(c, on_closed, o);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(o->closed);
	assert_int_equal(o->done, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_connect_refused(void **state)
{
	struct outcome o;
	char url[64];
	int port, fd = listen_loopback(0, &port);

	(void)state;
	/* Bound but not listening: the kernel answers SYN with RST. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
	run_one(url, 2000, 5000, 1024, &o);
	close(fd);
	assert_int_equal(o.err, HTTP_ERR_CONNECT);
	assert_int_equal(o.maybe_sent, 0);
	assert_true(o.elapsed_ms < 500);
}

static void test_total_timeout(void **state)
{
	struct server s;
	struct outcome o;
	char url[64];

	(void)state;
	server_start(&s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/silent", s.port);
	run_one(url, 1000, 600, 1024, &o);
	server_stop(&s);
	assert_int_equal(o.err, HTTP_ERR_TIMEOUT);
	assert_int_equal(o.maybe_sent, 1);
	assert_true(o.elapsed_ms >= 590);
	assert_true(o.elapsed_ms <= 660); /* timeout + 10% */
}

static void test_body_too_big(void **state)
{
	struct server s;
	struct outcome o;
	char url[64];

	(void)state;
	server_start(&s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/big-chunked", s.port);
	run_one(url, 1000, 3000, 16384, &o);
	assert_int_equal(o.err, HTTP_ERR_TOO_BIG);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/big-length", s.port);
	run_one(url, 1000, 3000, 16384, &o);
	assert_int_equal(o.err, HTTP_ERR_TOO_BIG);
	server_stop(&s);
}

static void test_closed_mid_body(void **state)
{
	struct server s;
	struct outcome o;
	char url[64];

	(void)state;
	server_start(&s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/truncated", s.port);
	run_one(url, 1000, 3000, 16384, &o);
	assert_int_equal(o.err, HTTP_ERR_RESET);
	assert_int_equal(o.maybe_sent, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/no-status", s.port);
	run_one(url, 1000, 3000, 16384, &o);
	assert_int_equal(o.err, HTTP_ERR_RESET);
	assert_int_equal(o.maybe_sent, 1);
	server_stop(&s);
}

static void test_headers_and_status(void **state)
{
	struct server s;
	struct outcome o;
	char url[64];

	(void)state;
	server_start(&s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", s.port);
	run_one(url, 1000, 3000, 16384, &o);
	server_stop(&s);
	assert_int_equal(o.err, HTTP_OK);
	assert_int_equal(o.status, 429);
	assert_string_equal(o.body, "Too many API requests.");
	assert_string_equal(o.remaining_req, "group=ticker; min=1800; sec=0");
	assert_int_equal(o.retry_after_s, 3);
}

static void on_close_timer(uv_timer_t *t)
{
	http_client_close(t->data, NULL, NULL);
	uv_close((uv_handle_t *)t, NULL);
}

/* Closing with requests in flight cancels them and leaves no handle behind. */
static void test_close_cancels_in_flight(void **state)
{
	struct server s;
	struct outcome o[3];
	uv_loop_t loop;
	uv_timer_t timer;
	struct http_client *c;
	char url[64];
	struct http_request req = {.method = "GET",
				   .url = url,
				   .connect_timeout_ms = 1000,
				   .total_timeout_ms = 10000,
				   .max_body = 1024};

	(void)state;
	server_start(&s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/silent", s.port);
	memset(o, 0, sizeof(o));
	assert_int_equal(uv_loop_init(&loop), 0);
	c = http_client_new(&loop, NULL);
	assert_non_null(c);
	for (int i = 0; i < 3; i++)
		assert_int_equal(http_request_start(c, &req, on_done, &o[i], NULL), 0);
	assert_int_equal(http_client_in_flight(c), 3);
	uv_timer_init(&loop, &timer);
	timer.data = c;
	uv_timer_start(&timer, on_close_timer, 100, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(o[i].done, 1);
		assert_int_equal(o[i].err, HTTP_ERR_CANCELLED);
	}
	assert_int_equal(uv_loop_close(&loop), 0);
	server_stop(&s);
}

static void test_bad_arguments(void **state)
{
	uv_loop_t loop;
	struct http_client *c;
	struct outcome o;
	struct http_request req = {.method = "PATCH",
				   .url = "http://127.0.0.1:1/",
				   .connect_timeout_ms = 10,
				   .total_timeout_ms = 10,
				   .max_body = 10};

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(uv_loop_init(&loop), 0);
	c = http_client_new(&loop, NULL);
	assert_int_equal(http_request_start(c, &req, on_done, &o, NULL), -EINVAL);
	req.method = "GET";
	req.max_body = 0;
	assert_int_equal(http_request_start(c, &req, on_done, &o, NULL), -EINVAL);
	http_client_close(c, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(o.done, 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_total_timeout),
		cmocka_unit_test(test_body_too_big),
		cmocka_unit_test(test_closed_mid_body),
		cmocka_unit_test(test_headers_and_status),
		cmocka_unit_test(test_close_cancels_in_flight),
		cmocka_unit_test(test_bad_arguments),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
