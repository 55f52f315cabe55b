/* Exchange number rules: the KRW tick grid (2025-07-31 table), 8-decimal amounts and
 * the decimal strings Upbit uses for every amount in private responses. */
#include "sim/sim_state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows of the KRW price-unit table in force since 2025-07-31. The rows below 100 KRW were
 * truncated in our source; they keep the 2024 values (documented in docs/simulator.md). */
static const struct {
	double from, tick;
} krw_ticks[] = {
	{1000000, 1000}, {500000, 500},	  {100000, 100},     {50000, 50},	  {10000, 10},
	{5000, 5},	 {1000, 1},	  {100, 1},	     {10, 0.01},	  {1, 0.001},
	{0.1, 0.0001},	 {0.01, 0.00001}, {0.001, 0.000001}, {0.0001, 0.0000001},
};

double tick_size_krw(double price)
{
	size_t i;

	for (i = 0; i < sizeof(krw_ticks) / sizeof(krw_ticks[0]); i++)
		if (price >= krw_ticks[i].from)
			return krw_ticks[i].tick;
	return 0.00000001;
}

int tick_on_grid(double price, double tick)
{
	double q = price / tick;

	/* Relative tolerance: 0.1 / 0.001 is not an exact integer in binary. */
	return fabs(q - nearbyint(q)) < 1e-6;
}

double round_to_tick(double price)
{
	double tick = tick_size_krw(price);
	double r = nearbyint(price / tick) * tick;

	return r > 0 ? round8(r) : tick;
}

double round8(double v)
{
	return nearbyint(v * 1e8) / 1e8;
}

double floor8(double v)
{
	/* The epsilon keeps 0.29999999999 (meant as 0.3) from dropping a unit. */
	return floor(v * 1e8 + 1e-6) / 1e8;
}

void dec_format(double v, char *buf, size_t len)
{
	char *dot, *end;

	if (!isfinite(v))
		v = 0;
	v = round8(v);
	if (v == 0)
		v = 0; /* no "-0.0" */
	snprintf(buf, len, "%.8f", v);
	dot = strchr(buf, '.');
	if (!dot)
		return;
	end = buf + strlen(buf) - 1;
	while (end > dot + 1 && *end == '0')
		*end-- = '\0';
}

json_t *dec_json(double v)
{
	char buf[64];

	dec_format(v, buf, sizeof(buf));
	return json_string(buf);
}

int dec_parse_json(json_t *v, double *out)
{
	const char *s;
	char *end;
	double d;

	if (json_is_number(v)) {
		d = json_number_value(v);
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		if (!*s || strlen(s) > 40)
			return -1;
		d = strtod(s, &end);
		if (*end || end == s)
			return -1;
	} else {
		return -1;
	}
	if (!isfinite(d))
		return -1;
	*out = d;
	return 0;
}
