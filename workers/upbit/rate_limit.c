/* Client-side rate limiting per Upbit request group: a token bucket corrected by the server's
 * Remaining-Req header, with 429 back-off and 418 blocks. Pure arithmetic on caller-given times. */
#include "rate_limit.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

static const char *const group_names[UPBIT_GROUP_COUNT] = {
	"market", "candle", "trade", "ticker", "orderbook", "default", "order",
};

const char *upbit_group_name(enum upbit_group g)
{
	return (unsigned)g < UPBIT_GROUP_COUNT ? group_names[g] : "unknown";
}

int upbit_group_parse(const char *name)
{
	for (int g = 0; g < UPBIT_GROUP_COUNT; g++)
		if (strcmp(name, group_names[g]) == 0)
			return g;
	return -1;
}

double upbit_group_default_rate(enum upbit_group g)
{
	switch (g) {
	case UPBIT_GROUP_DEFAULT:
		return 30.0;
	case UPBIT_GROUP_ORDER:
		return 8.0;
	default:
		return 10.0;
	}
}

void rate_bucket_init(struct rate_bucket *b, double rate, double capacity, int64_t now_ms)
{
	memset(b, 0, sizeof(*b));
	b->rate = rate > 0 ? rate : 1.0;
	b->capacity = capacity > 0 ? capacity : b->rate;
	b->tokens = b->capacity;
	b->last_ms = now_ms;
}

static void refill(struct rate_bucket *b, int64_t now_ms)
{
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
		if (b->tokens > b->capacity)
			b->tokens = b->capacity;
		b->last_ms = now_ms;
	}
}

int64_t rate_bucket_wait_ms(const struct rate_bucket *b, int64_t now_ms)
{
	double tokens = b->tokens;
	int64_t wait;

	if (now_ms < b->blocked_until_ms)
		return b->blocked_until_ms - now_ms;
	if (now_ms > b->last_ms)
		tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
	if (tokens >= 1.0)
		return 0;
	wait = (int64_t)ceil((1.0 - tokens) * 1000.0 / b->rate);
	return wait > 0 ? wait : 1;
}

int64_t rate_bucket_take(struct rate_bucket *b, int64_t now_ms)
{
	int64_t wait = rate_bucket_wait_ms(b, now_ms);

	if (wait > 0)
		return wait;
	refill(b, now_ms);
	b->tokens -= 1.0;
	return 0;
}

void rate_bucket_observe_remaining(struct rate_bucket *b, int sec, int64_t now_ms)
{
	refill(b, now_ms);
	if (sec >= 0 && (double)sec < b->tokens)
		b->tokens = (double)sec;
}

void rate_bucket_on_success(struct rate_bucket *b)
{
	b->strikes_429 = 0;
}

static void block_until(struct rate_bucket *b, int64_t until_ms)
{
	if (until_ms > b->blocked_until_ms)
		b->blocked_until_ms = until_ms;
	b->tokens = 0;
}

int64_t rate_bucket_on_429(struct rate_bucket *b, int64_t now_ms)
{
	int64_t ms = RATE_429_BASE_MS;

	for (unsigned i = 0; i < b->strikes_429 && ms < RATE_429_CAP_MS; i++)
		ms *= 2;
	if (ms > RATE_429_CAP_MS)
		ms = RATE_429_CAP_MS;
	b->strikes_429++;
	b->n_429++;
	refill(b, now_ms);
	block_until(b, now_ms + ms);
	return ms;
}

int64_t rate_bucket_on_418(struct rate_bucket *b, long retry_after_s, int64_t now_ms)
{
	int64_t ms;

	if (b->strikes_418 > 0 && now_ms - b->last_418_ms > RATE_418_MEMORY_MS)
		b->strikes_418 = 0;
	if (retry_after_s > 0) {
		ms = (int64_t)retry_after_s * 1000;
		if (ms > RATE_418_CAP_MS * 24)
			ms = RATE_418_CAP_MS * 24;
	} else {
		ms = RATE_418_DEFAULT_MS;
		for (unsigned i = 0; i < b->strikes_418 && ms < RATE_418_CAP_MS; i++)
			ms *= 2;
		if (ms > RATE_418_CAP_MS)
			ms = RATE_418_CAP_MS;
	}
	b->strikes_418++;
	b->last_418_ms = now_ms;
	b->n_418++;
	b->blocked_by_418 = 1;
	refill(b, now_ms);
	block_until(b, now_ms + ms);
	return ms;
}

int rate_bucket_blocked(const struct rate_bucket *b, int64_t now_ms)
{
	return now_ms < b->blocked_until_ms;
}

/* Reads a non-negative decimal that fits an int; leaves *p after it. */
static int read_uint(const char **p, int *out)
{
	long v = 0;
	const char *s = *p;

	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (*s - '0');
		if (v > 1000000000)
			return -1;
		s++;
	}
	*p = s;
	*out = (int)v;
	return 0;
}

int rate_parse_remaining(const char *header, char *group, size_t group_len, int *sec)
{
	const char *p = header;
	int have_group = 0, have_sec = 0, min = 0;

	if (!header || !group || group_len == 0 || !sec)
		return -1;
	while (*p) {
		const char *key = p;
		size_t klen;

		while (*p == ' ' || *p == '\t')
			p++;
		key = p;
		while (*p && *p != '=' && *p != ';')
			p++;
		if (*p != '=')
			return -1;
		klen = (size_t)(p - key);
		p++;
		if (klen == 5 && strncmp(key, "group", 5) == 0) {
			size_t n = 0;

			while (isalnum((unsigned char)p[n]) || p[n] == '-')
				n++;
			if (n == 0 || n >= group_len || have_group)
				return -1;
			memcpy(group, p, n);
			group[n] = '\0';
			p += n;
			have_group = 1;
		} else if (klen == 3 && strncmp(key, "sec", 3) == 0) {
			if (have_sec || read_uint(&p, sec) < 0)
				return -1;
			have_sec = 1;
		} else if (klen == 3 && strncmp(key, "min", 3) == 0) {
			if (read_uint(&p, &min) < 0)
				return -1;
		} else {
			/* An unknown field: skip its value so that additions do not break us. */
			while (*p && *p != ';')
				p++;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == ';')
			p++;
		else if (*p)
			return -1;
	}
	return have_group && have_sec ? 0 : -1;
}
