/* The one place every tradingd process reads time from.
 * Real time by default; a test clock (start instant, rate) makes a day pass in seconds. */
#include "clock.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int clock_test;
static int64_t clock_start_ms;
static int64_t clock_anchor_ms;
static double clock_speed = 1.0;

static int64_t read_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_real_ms(void)
{
	return read_clock(CLOCK_REALTIME);
}

int64_t clock_mono_ms(void)
{
	return read_clock(CLOCK_MONOTONIC);
}

int64_t clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int clock_set_test(int64_t start_ms, double rate, int64_t anchor_real_ms)
{
	if (!(rate > 0 && rate <= 100000) || !isfinite(rate))
		return -1;
	clock_test = 1;
	clock_start_ms = start_ms;
	clock_speed = rate;
	clock_anchor_ms = anchor_real_ms ? anchor_real_ms : clock_real_ms();
	return 0;
}

int clock_step_test(int64_t ms)
{
	if (!clock_test)
		return -1;
	clock_start_ms += ms;
	return 0;
}

void clock_set_real(void)
{
	clock_test = 0;
	clock_speed = 1.0;
}

int clock_is_test(void)
{
	return clock_test;
}

double clock_rate(void)
{
	return clock_speed;
}

int64_t clock_now_ms(void)
{
	if (!clock_test)
		return clock_real_ms();
	/* Anchored to the real wall clock so that every process computes the same instant. */
	return clock_start_ms +
	       (int64_t)((double)(clock_real_ms() - clock_anchor_ms) * clock_speed);
}

uint64_t clock_timer_ms(int64_t clock_ms)
{
	double real;

	if (clock_ms <= 0)
		return 0;
	real = (double)clock_ms / clock_speed;
	return real < 1.0 ? 1 : (uint64_t)real;
}

void clock_export_env(void)
{
	char value[96];

	if (!clock_test) {
		unsetenv(CLOCK_ENV);
		return;
	}
	snprintf(value, sizeof(value), "%" PRId64 ":%" PRId64 ":%.17g", clock_start_ms,
		 clock_anchor_ms, clock_speed);
	setenv(CLOCK_ENV, value, 1);
}

int clock_import_env(void)
{
	const char *value = getenv(CLOCK_ENV);
	long long start, anchor;
	double rate;
	int used = 0;

	if (!value || !*value)
		return 0;
	if (sscanf(value, "%lld:%lld:%lf%n", &start, &anchor, &rate, &used) != 3 ||
	    value[used] != '\0')
		return -1;
	return clock_set_test(start, rate, anchor) == 0 ? 1 : -1;
}

/* Howard Hinnant's civil-date algorithms: exact for every proleptic Gregorian date. */
int64_t clock_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void clock_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int read_digits(const char **p, int count, int *out)
{
	int value = 0;

	for (int i = 0; i < count; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		value = value * 10 + ((*p)[i] - '0');
	}
	*p += count;
	*out = value;
	return 0;
}

static int expect(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

int clock_parse_iso8601(const char *text, int assume_utc, int64_t *out_ms)
{
	const char *p = text;
	int y, mo, d, h, mi, s, ms = 0, offset = 0;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (read_digits(&p, 4, &y) || expect(&p, '-') || read_digits(&p, 2, &mo) ||
	    expect(&p, '-') || read_digits(&p, 2, &d))
		return -1;
	if (*p != 'T' && *p != ' ')
		return -1;
	p++;
	if (read_digits(&p, 2, &h) || expect(&p, ':') || read_digits(&p, 2, &mi) ||
	    expect(&p, ':') || read_digits(&p, 2, &s))
		return -1;
	if (*p == '.') {
		int digits = 0;

		p++;
		while (isdigit((unsigned char)*p)) {
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
			digits++;
			p++;
		}
		if (digits == 0)
			return -1;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;

		p++;
		if (read_digits(&p, 2, &oh) || expect(&p, ':') || read_digits(&p, 2, &om) ||
		    oh > 23 || om > 59)
			return -1;
		offset = sign * (oh * 60 + om);
	} else if (!assume_utc) {
		return -1;
	}
	if (*p != '\0')
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || s > 59)
		return -1;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -1;
	int64_t days = clock_days_from_civil(y, (unsigned)mo, (unsigned)d);
	*out_ms = ((days * 86400 + h * 3600 + mi * 60 + s) - (int64_t)offset * 60) * 1000 + ms;
	return 0;
}

void clock_format(int64_t ms, int offset_min, char *buf, unsigned len)
{
	int64_t secs = (ms >= 0 ? ms / 1000 : (ms - 999) / 1000) + (int64_t)offset_min * 60;
	int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	int64_t rem = secs - days * 86400, y;
	unsigned m, d;

	clock_civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04lld-%02u-%02uT%02d:%02d:%02d", (long long)y, m, d, (int)(rem / 3600),
		 (int)(rem % 3600 / 60), (int)(rem % 60));
}
