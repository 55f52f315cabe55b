/* Exact decimals with 8 places. Products go through 128 bits, so nothing rounds until the
 * one step that must, and that step rounds as its caller asked. */
#include "common/dec8.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int dec8_parse(const char *s, dec8 *out)
{
	unsigned __int128 whole = 0, frac = 0;
	int neg = 0, places = 0, digits = 0;
	unsigned __int128 v;

	if (!s)
		return -1;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	for (; isdigit((unsigned char)*s); s++, digits++) {
		whole = whole * 10 + (unsigned)(*s - '0');
		if (whole > (unsigned __int128)INT64_MAX)
			return -1;
	}
	if (*s == '.') {
		s++;
		for (; isdigit((unsigned char)*s); s++, digits++) {
			if (places < DEC8_PLACES) {
				frac = frac * 10 + (unsigned)(*s - '0');
				places++;
			} else if (*s != '0') {
				return -1; /* more precision than a dec8 holds */
			}
		}
	}
	if (*s != '\0' || digits == 0)
		return -1;
	for (; places < DEC8_PLACES; places++)
		frac *= 10;
	v = whole * (unsigned __int128)DEC8_ONE + frac;
	if (v > (unsigned __int128)INT64_MAX + (neg ? 1 : 0))
		return -1;
	*out = neg ? (dec8)(0 - (uint64_t)v) : (dec8)v;
	return 0;
}

int dec8_from_json(const json_t *v, dec8 *out)
{
	char buf[64];

	if (json_is_string(v))
		return dec8_parse(json_string_value(v), out);
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i > INT64_MAX / DEC8_ONE || i < INT64_MIN / DEC8_ONE)
			return -1;
		*out = (dec8)i * DEC8_ONE;
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);

		/* %.8f rounds the binary value to 8 places: exact for every number Upbit sends
		 * (at most 8 places, well inside 2^53 units for the magnitudes that have them). */
		if (!isfinite(d) || fabs(d) >= 9.2e10)
			return -1;
		snprintf(buf, sizeof(buf), "%.8f", d);
		return dec8_parse(buf, out);
	}
	return -1;
}

void dec8_format(dec8 v, char buf[DEC8_BUF])
{
	uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	uint64_t whole = mag / (uint64_t)DEC8_ONE, frac = mag % (uint64_t)DEC8_ONE;
	int n = snprintf(buf, DEC8_BUF, "%s%llu", v < 0 ? "-" : "", (unsigned long long)whole);

	if (frac) {
		int places = DEC8_PLACES;

		while (frac % 10 == 0) {
			frac /= 10;
			places--;
		}
		snprintf(buf + n, (size_t)(DEC8_BUF - n), ".%0*llu", places,
			 (unsigned long long)frac);
	}
}

void dec8_format_grouped(dec8 v, char buf[DEC8_GROUPED_BUF])
{
	char plain[DEC8_BUF];
	const char *digits, *point;
	size_t whole, o = 0;

	dec8_format(v, plain);
	digits = plain[0] == '-' ? plain + 1 : plain;
	point = strchr(digits, '.');
	whole = point ? (size_t)(point - digits) : strlen(digits);
	if (digits != plain)
		buf[o++] = '-';
	for (size_t i = 0; i < whole; i++) {
		if (i > 0 && (whole - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	snprintf(buf + o, DEC8_GROUPED_BUF - o, "%s", point ? point : "");
}

/* q = n / d on 128 bits, rounded as asked; -1 when q leaves the int64 range. */
static int div_round(__int128 n, __int128 d, enum dec8_round mode, dec8 *out)
{
	__int128 q, r;

	if (d == 0)
		return -1;
	if (d < 0) {
		n = -n;
		d = -d;
	}
	q = n / d;
	r = n % d; /* same sign as n */
	if (r != 0) {
		__int128 twice = (r < 0 ? -r : r) * 2;

		switch (mode) {
		case DEC8_DOWN:
			break;
		case DEC8_UP:
			q += n < 0 ? -1 : 1;
			break;
		case DEC8_HALF_EVEN:
			if (twice > d || (twice == d && (q % 2 != 0)))
				q += n < 0 ? -1 : 1;
			break;
		}
	}
	if (q > INT64_MAX || q < INT64_MIN)
		return -1;
	*out = (dec8)q;
	return 0;
}

int dec8_mul(dec8 a, dec8 b, enum dec8_round mode, dec8 *out)
{
	return div_round((__int128)a * b, DEC8_ONE, mode, out);
}

int dec8_div(dec8 a, dec8 b, enum dec8_round mode, dec8 *out)
{
	return div_round((__int128)a * DEC8_ONE, b, mode, out);
}

int dec8_muldiv(dec8 a, int64_t num, int64_t den, enum dec8_round mode, dec8 *out)
{
	return div_round((__int128)a * num, den, mode, out);
}

/* The KRW price-unit table since 2025-07-31 (../shared/UPBIT_API.md §6); below 100 KRW the
 * stored page is truncated and the 2024 rows stand, as in the simulator. */
static const struct {
	dec8 from, tick;
} krw_ticks[] = {
	{1000000 * DEC8_ONE, 1000 * DEC8_ONE},	 {500000 * DEC8_ONE, 500 * DEC8_ONE},
	{100000 * DEC8_ONE, 100 * DEC8_ONE},	 {50000 * DEC8_ONE, 50 * DEC8_ONE},
	{10000 * DEC8_ONE, 10 * DEC8_ONE},	 {5000 * DEC8_ONE, 5 * DEC8_ONE},
	{100 * DEC8_ONE, 1 * DEC8_ONE},		 {10 * DEC8_ONE, DEC8_ONE / 100},
	{1 * DEC8_ONE, DEC8_ONE / 1000},	 {DEC8_ONE / 10, DEC8_ONE / 10000},
	{DEC8_ONE / 100, DEC8_ONE / 100000},	 {DEC8_ONE / 1000, DEC8_ONE / 1000000},
	{DEC8_ONE / 10000, DEC8_ONE / 10000000},
};

dec8 dec8_krw_tick(dec8 price)
{
	for (size_t i = 0; i < sizeof(krw_ticks) / sizeof(krw_ticks[0]); i++)
		if (price >= krw_ticks[i].from)
			return krw_ticks[i].tick;
	return 1;
}

dec8 dec8_to_tick(dec8 price, dec8 tick, enum dec8_round mode)
{
	dec8 steps;

	if (tick <= 0 || div_round(price, tick, mode, &steps) < 0)
		return price;
	return steps * tick;
}

dec8 dec8_krw_round(dec8 price, enum dec8_round mode)
{
	dec8 r = dec8_to_tick(price, dec8_krw_tick(price), mode);

	/* Rounding up across a band's lower edge lands on the coarser grid's first step, which
	 * is the edge itself: on both grids. Rounding down below an edge uses the finer grid of
	 * the lower band, which the tick of the rounded price confirms. */
	if (dec8_krw_tick(r) != dec8_krw_tick(price))
		r = dec8_to_tick(price, dec8_krw_tick(r), mode);
	return r;
}
