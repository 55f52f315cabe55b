/* Asynchronous HTTP(S) on the process's libuv loop: libcurl's multi-socket API driven by uv_poll
 * and one uv_timer, so no request ever blocks the loop. One callback per request. */
#ifndef TD_HTTP_UV_H
#define TD_HTTP_UV_H

#include <stddef.h>
#include <uv.h>

/* Why a transfer failed; HTTP_OK means a complete response arrived (any status code). */
enum http_err {
	HTTP_OK = 0,
	HTTP_ERR_DNS,	    /* name did not resolve: nothing was sent */
	HTTP_ERR_CONNECT,   /* TCP connect refused or unreachable: nothing was sent */
	HTTP_ERR_TIMEOUT,   /* connect or total deadline passed */
	HTTP_ERR_TOO_BIG,   /* body exceeded max_body; transfer aborted */
	HTTP_ERR_RESET,	    /* connection closed or reset mid-request or mid-body */
	HTTP_ERR_TLS,	    /* handshake or certificate verification failed */
	HTTP_ERR_CANCELLED, /* http_client_close ran while the request was in flight */
	HTTP_ERR_OTHER,
};

const char *http_err_name(enum http_err err);

struct http_client_config {
	long max_host_connections; /* 0: libcurl's default (unlimited) */
	const char *user_agent;	   /* NULL: "tradingd" */
	const char *ca_file;	   /* NULL: the system store; verification is always on */
};

struct http_request {
	const char *method; /* "GET", "POST" or "DELETE" */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL; never logged */
	const char *body;	    /* POST only; copied */
	size_t body_len;
	long connect_timeout_ms;
	long total_timeout_ms;
	size_t max_body; /* response body cap in bytes */
};

struct http_response {
	enum http_err err;
	long status; /* 0 when no status line arrived */
	const char *body;
	size_t body_len;
	/* 1 when the request may have reached the server (connection made, bytes sent): a failed
	 * non-idempotent request then has an unknown outcome. */
	int maybe_sent;
	char remaining_req[128]; /* the Remaining-Req header value, "" when absent */
	long retry_after_s;	 /* Retry-After in seconds (or from an HTTP date), -1 when absent */
	long elapsed_ms;
	const char *detail; /* libcurl's error text, "" on success */
};

struct http_client;
struct http_xfer;

/* Owns the response and its body only for the duration of the call. */
typedef void (*http_done_cb)(const struct http_response *resp, void *arg);
typedef void (*http_closed_cb)(void *arg);

/* Returns NULL on allocation or libcurl failure. Call curl_global_init once before. */
struct http_client *http_client_new(uv_loop_t *loop, const struct http_client_config *cfg);

/* Starts a request; done fires exactly once, later, from the loop. Returns 0, or a negative
 * errno (-EINVAL, -ENOMEM, -ESHUTDOWN) and then done never fires. *out may be NULL. */
int http_request_start(struct http_client *client, const struct http_request *req,
		       http_done_cb done, void *arg, struct http_xfer **out);

/* Number of transfers in flight. */
size_t http_client_in_flight(const struct http_client *client);

/* Cancels every transfer (each done fires with HTTP_ERR_CANCELLED), closes connections and uv
 * handles, frees the client, then calls closed (may be NULL). Safe from inside a done callback. */
void http_client_close(struct http_client *client, http_closed_cb closed, void *arg);

#endif
