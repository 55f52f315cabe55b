/* Cron parsing into bit sets, and the next-fire search: jump over months, days, hours and
 * minutes that cannot match in local time, then map the local match to UTC through tzone. */
#include "common/cron.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"

struct cron_field {
	const char *name;
	int min, max;
	const char *const *names; /* three-letter names for min.., or NULL */
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
					  "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_COUNT };

static const struct cron_field fields[F_COUNT] = {
	[F_SEC] = {"second", 0, 59, NULL},	 [F_MIN] = {"minute", 0, 59, NULL},
	[F_HOUR] = {"hour", 0, 23, NULL},	 [F_DOM] = {"day of month", 1, 31, NULL},
	[F_MON] = {"month", 1, 12, month_names}, [F_DOW] = {"day of week", 0, 7, dow_names},
};

static const struct {
	const char *name, *expr;
} macros[] = {
	{"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
	{"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
	{"@annually", "0 0 1 1 *"},
};

/* Context of one field for error messages: its number as the user wrote it (1-based). */
struct field_ctx {
	const struct cron_field *f;
	int number;
	const char *text; /* the whole expression, for columns */
	char *err;
	size_t errlen;
};

static int field_err(const struct field_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int field_err(const struct field_ctx *c, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "field %d (%s): %s", c->number, c->f->name, msg);
	return -1;
}

static int is_alpha(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

static int upper(char ch)
{
	return ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch;
}

/* A number or a name; *p advances past it. */
static int parse_value(const struct field_ctx *c, const char **p, const char *end, int *out)
{
	const char *s = *p;

	if (s < end && *s >= '0' && *s <= '9') {
		long v = 0;

		while (s < end && *s >= '0' && *s <= '9') {
			if (v < 100000)
				v = v * 10 + (*s - '0');
			s++;
		}
		if (v < c->f->min || v > c->f->max)
			return field_err(c, "%.*s is out of range %d-%d", (int)(s - *p), *p,
					 c->f->min, c->f->max);
		*out = (int)v;
		*p = s;
		return 0;
	}
	if (s < end && is_alpha(*s)) {
		const char *w = s;

		while (s < end && is_alpha(*s))
			s++;
		if (c->f->names && s - w == 3)
			for (int i = 0; c->f->names[i]; i++)
				if (upper(w[0]) == c->f->names[i][0] &&
				    upper(w[1]) == c->f->names[i][1] &&
				    upper(w[2]) == c->f->names[i][2]) {
					*out = c->f->min + i;
					*p = s;
					return 0;
				}
		return field_err(c, "unknown name '%.*s' at column %d", (int)(s - w), w,
				 (int)(w - c->text) + 1);
	}
	if (s >= end)
		return field_err(c, "a value is missing at column %d", (int)(s - c->text) + 1);
	return field_err(c, "unexpected '%c' at column %d", *s, (int)(s - c->text) + 1);
}

/* One field "a", "a-b", "*", each with an optional "/step", comma-separated, into bits. */
static int parse_field(const struct field_ctx *c, const char *s, const char *end, uint64_t *bits)
{
	*bits = 0;
	for (;;) {
		int lo, hi, step = 1, star = 0;

		if (s < end && *s == '*') {
			star = 1;
			lo = c->f->min;
			hi = c->f->max;
			s++;
		} else {
			if (parse_value(c, &s, end, &lo) < 0)
				return -1;
			hi = lo;
			if (s < end && *s == '-') {
				s++;
				if (parse_value(c, &s, end, &hi) < 0)
					return -1;
				if (hi < lo)
					return field_err(c, "range %d-%d is reversed", lo, hi);
			}
		}
		if (s < end && *s == '/') {
			const char *at = s++;
			long v = 0;

			if (!star && hi == lo && at[-1] != '-')
				return field_err(c, "a step needs a range or '*' (column %d)",
						 (int)(at - c->text) + 1);
			if (s >= end || *s < '0' || *s > '9')
				return field_err(c, "a step needs a number at column %d",
						 (int)(s - c->text) + 1);
			while (s < end && *s >= '0' && *s <= '9') {
				if (v < 100000)
					v = v * 10 + (*s - '0');
				s++;
			}
			if (v < 1 || v > c->f->max)
				return field_err(c, "step %.*s is out of range 1-%d",
						 (int)(s - at - 1), at + 1, c->f->max);
			step = (int)v;
		}
		for (int v = lo; v <= hi; v += step)
			*bits |= 1ULL << v;
		if (s == end)
			return 0;
		if (*s != ',')
			return field_err(c, "unexpected '%c' at column %d", *s,
					 (int)(s - c->text) + 1);
		s++;
		if (s == end)
			return field_err(c, "a value is missing at column %d",
					 (int)(s - c->text) + 1);
	}
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

int cron_parse(struct cron_expr *e, const char *text, char *err, size_t errlen)
{
	const char *start[F_COUNT] = {0}, *end[F_COUNT] = {0}, *s = text;
	int n = 0;

	memset(e, 0, sizeof(*e));
	if (!err)
		errlen = 0; /* snprintf(NULL, 0, ...) only measures */
	if (!text) {
		snprintf(err, errlen, "empty cron expression");
		return -1;
	}
	while (is_space(*s))
		s++;
	if (*s == '@') {
		size_t len = strcspn(s, " \t");
		const char *t = s + len;

		while (is_space(*t))
			t++;
		for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
			if (*t == '\0' && strlen(macros[i].name) == len &&
			    strncmp(s, macros[i].name, len) == 0)
				return cron_parse(e, macros[i].expr, err, errlen);
		snprintf(err, errlen,
			 "unknown macro '%.*s' (known: @hourly @daily @midnight "
			 "@weekly @monthly @yearly @annually)",
			 (int)(len > 40 ? 40 : len), s);
		return -1;
	}
	while (*s) {
		if (n < F_COUNT)
			start[n] = s;
		while (*s && !is_space(*s))
			s++;
		if (n < F_COUNT)
			end[n] = s;
		n++;
		while (is_space(*s))
			s++;
	}
	if (n != 5 && n != 6) {
		snprintf(err, errlen, "expected 5 or 6 fields, got %d", n);
		return -1;
	}
	uint64_t bits[F_COUNT] = {1}; /* five fields: second 0 */
	int first = n == 6 ? F_SEC : F_MIN;

	for (int i = 0; i < n; i++) {
		struct field_ctx c = {&fields[first + i], i + 1, text, err, errlen};

		if (parse_field(&c, start[i], end[i], &bits[first + i]) < 0)
			return -1;
	}
	/* Vixie cron: a day field written with a leading '*' does not take part in the OR. */
	if (*start[F_DOM - first] == '*')
		e->flags |= CRON_DOM_STAR;
	if (*start[F_DOW - first] == '*')
		e->flags |= CRON_DOW_STAR;
	if (bits[F_DOW] & (1ULL << 7))
		bits[F_DOW] = (bits[F_DOW] | 1) & 0x7f;
	e->sec = bits[F_SEC];
	e->min = bits[F_MIN];
	e->hour = (uint32_t)bits[F_HOUR];
	e->dom = (uint32_t)bits[F_DOM];
	e->mon = (uint16_t)bits[F_MON];
	e->dow = (uint8_t)bits[F_DOW];
	return 0;
}

/* ---- the search ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The lowest set bit at or above from, or -1. */
static int next_bit(uint64_t bits, int from)
{
	if (from > 63)
		return -1;
	bits &= ~0ULL << from;
	return bits ? __builtin_ctzll(bits) : -1;
}

static int day_matches(const struct cron_expr *e, int64_t days, unsigned d)
{
	int dow = (int)(((days + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
	int dom_ok = (e->dom >> d) & 1, dow_ok = (e->dow >> dow) & 1;

	if (e->flags & (CRON_DOM_STAR | CRON_DOW_STAR))
		return dom_ok && dow_ok;
	return dom_ok || dow_ok;
}

/* The first local time >= L (seconds on a UTC clock showing local time) that matches, or -1
 * past limit. Each pass either returns or moves L forward to the next possible unit. */
static int64_t next_local(const struct cron_expr *e, int64_t L, int64_t limit)
{
	while (L <= limit) {
		int64_t days = floor_div(L, 86400), y;
		int sod = (int)(L - days * 86400), h, m, s;
		unsigned mon, d;

		clock_civil_from_days(days, &y, &mon, &d);
		if (!((e->mon >> mon) & 1)) {
			int nm = next_bit(e->mon, (int)mon + 1);

			if (nm < 0) {
				y++;
				nm = next_bit(e->mon, 1);
			}
			L = clock_days_from_civil(y, (unsigned)nm, 1) * 86400;
			continue;
		}
		if (!day_matches(e, days, d)) {
			L = (days + 1) * 86400;
			continue;
		}
		h = next_bit(e->hour, sod / 3600);
		if (h < 0) {
			L = (days + 1) * 86400;
			continue;
		}
		if (h != sod / 3600) {
			L = days * 86400 + h * 3600;
			continue;
		}
		m = next_bit(e->min, sod / 60 % 60);
		if (m < 0) {
			L = days * 86400 + (h + 1) * 3600;
			continue;
		}
		if (m != sod / 60 % 60) {
			L = days * 86400 + h * 3600 + m * 60;
			continue;
		}
		s = next_bit(e->sec, sod % 60);
		if (s < 0) {
			L = days * 86400 + h * 3600 + (m + 1) * 60;
			continue;
		}
		return days * 86400 + h * 3600 + m * 60 + s;
	}
	return -1;
}

/* The lowest and highest offsets in force in the two days from u (sampled hourly: real
 * zones never change twice within an hour). */
static void offset_range(const struct tzone *z, int64_t u, int *lo, int *hi)
{
	*lo = *hi = tzone_offset(z, u);
	for (int k = 1; k <= 48; k++) {
		int o = tzone_offset(z, u + k * 3600);

		*lo = o < *lo ? o : *lo;
		*hi = o > *hi ? o : *hi;
	}
}

int64_t cron_next(const struct cron_expr *e, const struct tzone *z, int64_t after_utc_s,
		  enum cron_gap gap, enum cron_overlap overlap)
{
	int lo, hi = 0, unused;
	int64_t best = -1, L, limit;

	/* Beyond some 35000 years the arithmetic below could overflow: no schedule goes there. */
	if (!e || !z || e->sec == 0 || e->mon == 0 || after_utc_s < -(1LL << 40) ||
	    after_utc_s > (1LL << 40))
		return -1;
	/* Local times are not monotonic in UTC across an overlap: start from the earliest local
	 * time any later instant can show, and go on until no later local time can map to an
	 * instant before the best one. */
	offset_range(z, after_utc_s, &lo, &unused);
	L = after_utc_s + 1 + lo;
	limit = L + (int64_t)CRON_HORIZON_YEARS * 366 * 86400;
	for (;;) {
		int64_t u[2], c[2];
		int n, nc = 0;

		L = next_local(e, L, limit);
		if (L < 0 || (best >= 0 && L > best + hi))
			break;
		n = tzone_to_utc(z, L, u);
		if (n == 0 && gap == CRON_GAP_RUN_LATE)
			c[nc++] = tzone_gap_end(z, L);
		if (n >= 1)
			c[nc++] = u[0];
		if (n == 2 && overlap == CRON_OVERLAP_BOTH)
			c[nc++] = u[1];
		for (int i = 0; i < nc; i++)
			if (c[i] > after_utc_s && (best < 0 || c[i] < best)) {
				best = c[i];
				offset_range(z, best - 2 * 86400, &unused, &hi);
			}
		L++;
	}
	return best;
}
