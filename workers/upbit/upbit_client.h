/* The Upbit REST client shared by market-data and order-execution: async calls on the owner's
 * libuv loop, with per-group rate limits, retries, circuit breakers, failover and validation. */
#ifndef TD_UPBIT_CLIENT_H
#define TD_UPBIT_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/jwt.h"
#include "workers/upbit/breaker.h"
#include "workers/upbit/http_uv.h"
#include "workers/upbit/rate_limit.h"
#include "workers/upbit/upbit_parse.h"
#include "workers/upbit/upbit_types.h"

#define UPBIT_MAX_BASES 4

enum upbit_alert {
	UPBIT_ALERT_BLOCKED,	    /* 418: a group is blocked by the exchange */
	UPBIT_ALERT_BREAKER_OPEN,   /* a base URL stopped answering for a group */
	UPBIT_ALERT_BREAKER_CLOSED, /* ... and recovered */
	UPBIT_ALERT_FAILOVER,	    /* a group moved to another base URL (or back to the primary) */
	UPBIT_ALERT_INVALID_DATA, /* the exchange sent data that failed validation (rate-limited) */
	UPBIT_ALERT_UNBLOCKED,	  /* the 418 block of a group is over ("blocked_cleared") */
};

const char *upbit_alert_name(enum upbit_alert kind);

/* Filled by the worker (from the daemon's config); zero fields take the defaults in brackets. */
struct upbit_client_config {
	/* "https://api.upbit.com" style, no path. quotation_urls[0] is the primary, the rest are
	 * fallbacks in order. exchange_urls defaults to quotation_urls[0]. */
	const char *quotation_urls[UPBIT_MAX_BASES];
	const char *exchange_urls[UPBIT_MAX_BASES];
	/* Only order-execution sets these; NULL makes exchange calls fail with -EPERM. */
	const char *access_key;
	const char *secret_key;
	/* 1: the client keeps these pointers instead of copies (the caller's memory is locked
	 * and outlives the client), so that the secret exists once, in mlock'ed memory. */
	int keys_borrowed;
	enum jwt_alg jwt_alg; /* [JWT_HS256] */

	long connect_timeout_ms; /* [3000] */
	long total_timeout_ms;	 /* [10000] */
	size_t max_body_bytes;	 /* [4 MiB] */
	const char *ca_file;	 /* NULL: system CAs */
	const char *user_agent;	 /* [tradingd] */

	unsigned max_queue_per_group;	      /* [64]; full: new calls fail with -ENOBUFS */
	double rate_per_s[UPBIT_GROUP_COUNT]; /* [10/s quotation, 30/s default, 8/s order] */
	unsigned max_attempts;		      /* tries per idempotent call, first included [4] */
	int64_t backoff_base_ms;	      /* [500] */
	int64_t backoff_cap_ms;		      /* [60000] */
	/* [5 consecutive or 10 in 30 s; 5 s cool-down doubling up to 60 s]. breaker.cooldown_max_ms
	 * bounds the wait between probes, so how late a host that is back is noticed. */
	struct breaker_config breaker;
	int64_t invalid_log_interval_ms; /* [60000] */
	/* Transport failures are warnings: the first, then one line per group per interval. */
	int64_t transport_log_interval_ms; /* [10000] */

	void (*on_alert)(void *arg, enum upbit_alert kind, const char *text);
	void *alert_arg;
};

enum upbit_status {
	UPBIT_OK = 0,
	UPBIT_ERR_TRANSPORT,	   /* network failure; the request did not reach the server */
	UPBIT_ERR_TIMEOUT,	   /* idempotent call timed out on every try */
	UPBIT_ERR_HTTP,		   /* a 5xx (after retries) or an unexpected status */
	UPBIT_ERR_API,		   /* a 4xx with {"error":{name,message}}: see error_name */
	UPBIT_ERR_RATE_LIMITED,	   /* 429 after retries (POST: not placed) */
	UPBIT_ERR_BLOCKED,	   /* 418, or the group is inside a 418 block */
	UPBIT_ERR_CIRCUIT_OPEN,	   /* every base URL's breaker is open for the group */
	UPBIT_ERR_INVALID,	   /* the response failed validation: see parse */
	UPBIT_ERR_TOO_BIG,	   /* the response exceeded max_body_bytes */
	UPBIT_ERR_UNKNOWN_OUTCOME, /* POST/DELETE may have been applied: reconcile by identifier */
	UPBIT_ERR_CANCELLED,	   /* the client was closed first (and the request never left) */
};

const char *upbit_status_name(enum upbit_status s);

/* How a call ended; valid only during the callback. */
struct upbit_result {
	enum upbit_status status;
	long http_status;	 /* last HTTP status, 0 if none */
	enum http_err transport; /* last transport error */
	unsigned attempts;
	const char *base_url;		/* the base URL of the last try, "" if none */
	struct upbit_api_error error;	/* UPBIT_ERR_API (name may be a number as text) */
	struct upbit_parse_error parse; /* UPBIT_ERR_INVALID */
};

/* Every callback fires exactly once per accepted call, from the loop, never from inside the
 * function that started the call. Data pointers are NULL/0 unless status is UPBIT_OK, and are
 * owned by the client: copy what you keep. */
typedef void (*upbit_markets_cb)(void *arg, const struct upbit_result *r,
				 const struct upbit_market_info *v, size_t n);
typedef void (*upbit_tickers_cb)(void *arg, const struct upbit_result *r,
				 const struct upbit_ticker *v, size_t n);
typedef void (*upbit_candles_cb)(void *arg, const struct upbit_result *r,
				 const struct upbit_candle *v, size_t n);
typedef void (*upbit_orderbooks_cb)(void *arg, const struct upbit_result *r,
				    const struct upbit_orderbook *v, size_t n);
typedef void (*upbit_instruments_cb)(void *arg, const struct upbit_result *r,
				     const struct upbit_instrument *v, size_t n);
typedef void (*upbit_accounts_cb)(void *arg, const struct upbit_result *r,
				  const struct upbit_account *v, size_t n);
typedef void (*upbit_chance_cb)(void *arg, const struct upbit_result *r,
				const struct upbit_chance *v);
typedef void (*upbit_order_cb)(void *arg, const struct upbit_result *r,
			       const struct upbit_order *v);
typedef void (*upbit_orders_cb)(void *arg, const struct upbit_result *r,
				const struct upbit_order *v, size_t n);

struct upbit_client;

/* Returns NULL when the config is unusable (no URL, bad rate) or on allocation failure.
 * curl_global_init must have run. */
struct upbit_client *upbit_client_new(uv_loop_t *loop, const struct upbit_client_config *cfg);

/* Cancels queued calls (callbacks get UPBIT_ERR_CANCELLED; an in-flight POST/DELETE gets
 * UPBIT_ERR_UNKNOWN_OUTCOME), closes every handle, frees the client, then calls done. */
void upbit_client_close(struct upbit_client *c, void (*done)(void *arg), void *arg);

/* The calls. Each returns 0 (the callback will fire) or a negative errno and then never calls
 * back: -EINVAL (bad argument), -ENOBUFS (group queue full), -EPERM (no keys), -ESHUTDOWN,
 * -E2BIG (query too long), -ENOMEM. */
int upbit_get_markets(struct upbit_client *c, int details, upbit_markets_cb cb, void *arg);
/* One request for all the markets given (the query must stay under 4000 characters). */
int upbit_get_tickers(struct upbit_client *c, const char *const *markets, size_t n,
		      upbit_tickers_cb cb, void *arg);
/* unit in {1,3,5,10,15,30,60,240}; to_ms 0 means the latest; count 1..200. Newest first. */
int upbit_get_candles_minutes(struct upbit_client *c, int unit, const char *market, int64_t to_ms,
			      int count, upbit_candles_cb cb, void *arg);
int upbit_get_candles_days(struct upbit_client *c, const char *market, int64_t to_ms, int count,
			   upbit_candles_cb cb, void *arg);
int upbit_get_orderbooks(struct upbit_client *c, const char *const *markets, size_t n,
			 upbit_orderbooks_cb cb, void *arg);
int upbit_get_instruments(struct upbit_client *c, const char *const *markets, size_t n,
			  upbit_instruments_cb cb, void *arg);

int upbit_get_accounts(struct upbit_client *c, upbit_accounts_cb cb, void *arg);
int upbit_get_chance(struct upbit_client *c, const char *market, upbit_chance_cb cb, void *arg);

struct upbit_order_request {
	const char *market;
	const char *side;	   /* bid | ask */
	const char *ord_type;	   /* limit | price | market | best */
	const char *volume;	   /* decimal string or NULL */
	const char *price;	   /* decimal string or NULL */
	const char *identifier;	   /* required: unique forever, never reused after a failure */
	const char *time_in_force; /* NULL, ioc, fok, post_only */
	const char *smp_type;	   /* NULL, cancel_maker, cancel_taker, reduce */
};

/* Never retried. A failure after the request may have left is UPBIT_ERR_UNKNOWN_OUTCOME: look
 * the order up by identifier (upbit_get_order) before deciding anything. */
int upbit_create_order(struct upbit_client *c, const struct upbit_order_request *req,
		       upbit_order_cb cb, void *arg);
/* Exactly one of uuid and identifier. */
int upbit_get_order(struct upbit_client *c, const char *uuid, const char *identifier,
		    upbit_order_cb cb, void *arg);
int upbit_cancel_order(struct upbit_client *c, const char *uuid, const char *identifier,
		       upbit_order_cb cb, void *arg);
/* market NULL for all; page >= 1; limit 1..100. */
int upbit_get_open_orders(struct upbit_client *c, const char *market, int page, int limit,
			  upbit_orders_cb cb, void *arg);
/* start_ms/end_ms 0 to omit (the exchange then uses the last 7 days); limit 1..1000. */
int upbit_get_closed_orders(struct upbit_client *c, const char *market, int64_t start_ms,
			    int64_t end_ms, int limit, upbit_orders_cb cb, void *arg);

/* Health for `tradectl status --json`: sets key "upbit" in obj to {groups:{name:{queued,
 * in_flight, tokens, blocked_ms, blocked_by_418, n_429, n_418, base, breakers:[{url, state,
 * ...}]}}, invalid:{endpoint: count}}. Returns 0 or -1. */
int upbit_client_status_json(const struct upbit_client *c, json_t *obj);
/* One breaker: exchange 0 for quotation URLs, 1 for exchange URLs. Returns 0 or -1. */
int upbit_client_breaker_status(const struct upbit_client *c, int exchange, size_t base_idx,
				enum upbit_group g, struct breaker_status *out);
/* Responses rejected by validation, per endpoint name ("ticker", "candles", ...). */
uint64_t upbit_client_invalid_count(const struct upbit_client *c, const char *endpoint);

#endif
