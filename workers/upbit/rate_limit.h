/* Client-side rate limiting per Upbit request group: a token bucket corrected by the server's
 * Remaining-Req header, with 429 back-off and 418 blocks. Pure arithmetic on caller-given times. */
#ifndef TD_RATE_LIMIT_H
#define TD_RATE_LIMIT_H

#include <stddef.h>
#include <stdint.h>

enum upbit_group {
	UPBIT_GROUP_MARKET,
	UPBIT_GROUP_CANDLE,
	UPBIT_GROUP_TRADE,
	UPBIT_GROUP_TICKER,
	UPBIT_GROUP_ORDERBOOK,
	UPBIT_GROUP_DEFAULT,
	UPBIT_GROUP_ORDER,
	UPBIT_GROUP_COUNT
};

const char *upbit_group_name(enum upbit_group g);
/* Returns the group, or -1 for a name we do not track (e.g. "order-test"). */
int upbit_group_parse(const char *name);
/* The documented limit: 10/s quotation groups, 30/s default, 8/s order. */
double upbit_group_default_rate(enum upbit_group g);

#define RATE_429_BASE_MS 1000
#define RATE_429_CAP_MS 60000
#define RATE_418_DEFAULT_MS 60000
#define RATE_418_CAP_MS 3600000
/* A 418 strike is forgotten after this long without another. */
#define RATE_418_MEMORY_MS 3600000

struct rate_bucket {
	double rate;	 /* tokens per second */
	double capacity; /* burst */
	double tokens;
	int64_t last_ms;
	int64_t blocked_until_ms; /* 429/418: nothing is sent before this */
	int blocked_by_418;
	unsigned strikes_429; /* consecutive 429s since the last success */
	unsigned strikes_418;
	int64_t last_418_ms;
	uint64_t n_429, n_418;
};

/* rate must be > 0; capacity <= 0 means one second's worth. Starts full. */
void rate_bucket_init(struct rate_bucket *b, double rate, double capacity, int64_t now_ms);

/* Takes a token and returns 0, or returns how many ms to wait (> 0) and takes nothing. */
int64_t rate_bucket_take(struct rate_bucket *b, int64_t now_ms);
/* ms until a token could be taken (0 when one is available now). */
int64_t rate_bucket_wait_ms(const struct rate_bucket *b, int64_t now_ms);

/* The server said sec requests remain in the current second: never hold more than that. */
void rate_bucket_observe_remaining(struct rate_bucket *b, int sec, int64_t now_ms);
/* A 2xx/4xx that was not 429/418: the 429 streak is over. */
void rate_bucket_on_success(struct rate_bucket *b);
/* 429: block for 1 s, doubling per consecutive 429, capped. Returns the block length in ms. */
int64_t rate_bucket_on_429(struct rate_bucket *b, int64_t now_ms);
/* 418: block for retry_after_s if > 0, else 60 s doubling per recent strike, capped at 1 h.
 * Returns the block length in ms. */
int64_t rate_bucket_on_418(struct rate_bucket *b, long retry_after_s, int64_t now_ms);
int rate_bucket_blocked(const struct rate_bucket *b, int64_t now_ms);

/* Parses "group=default; min=1800; sec=29" in any field order, with optional spaces. group is
 * required (letters, digits, '-'), sec is required, min is optional and ignored (deprecated).
 * Returns 0, or -1 when malformed. */
int rate_parse_remaining(const char *header, char *group, size_t group_len, int *sec);

#endif
