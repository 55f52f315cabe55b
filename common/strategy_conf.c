/* The strategy section's small grammars, shared by the config check and the strategy worker:
 * a market entry "MARKET[:STRATEGY[:key=value,...]]" and a time of day "HH:MM". */
#include "common/strategy_conf.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int valid_market(const char *m, size_t n)
{
	/* KRW-BTC: an upper-case quote, a dash, an upper-case or digit base. */
	const char *dash = memchr(m, '-', n);

	if (!dash || dash == m || (size_t)(dash - m) + 1 >= n || n >= 24)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (m + i != dash && !isupper((unsigned char)m[i]) && !isdigit((unsigned char)m[i]))
			return 0;
	return 1;
}

static int parse_params(const char *p, struct strat_entry *out, char *err, size_t len)
{
	while (*p) {
		const char *end = strchr(p, ','), *eq;
		size_t n = end ? (size_t)(end - p) : strlen(p);
		struct strat_param *sp;

		eq = memchr(p, '=', n);
		if (!eq || eq == p || eq + 1 == p + n) {
			snprintf(err, len, "parameter \"%.*s\" is not key=value",
				 (int)(n > 40 ? 40 : n), p);
			return -1;
		}
		if (out->n_params == STRAT_MAX_PARAMS) {
			snprintf(err, len, "more than %d parameters", STRAT_MAX_PARAMS);
			return -1;
		}
		if ((size_t)(eq - p) >= STRAT_PARAM_LEN ||
		    (size_t)(p + n - eq - 1) >= STRAT_PARAM_LEN) {
			snprintf(err, len, "a parameter key or value longer than %d bytes",
				 STRAT_PARAM_LEN - 1);
			return -1;
		}
		sp = &out->params[out->n_params++];
		snprintf(sp->key, sizeof(sp->key), "%.*s", (int)(eq - p), p);
		snprintf(sp->value, sizeof(sp->value), "%.*s", (int)(p + n - eq - 1), eq + 1);
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

int strat_entry_parse(const char *text, struct strat_entry *out, char *err, size_t len)
{
	const char *c1 = strchr(text, ':'), *c2;
	size_t n = c1 ? (size_t)(c1 - text) : strlen(text);

	memset(out, 0, sizeof(*out));
	if (!valid_market(text, n)) {
		snprintf(err, len, "\"%.*s\" is not a market code such as KRW-BTC",
			 (int)(n > 30 ? 30 : n), text);
		return -1;
	}
	memcpy(out->market, text, n);
	if (!c1)
		return 0;
	c2 = strchr(c1 + 1, ':');
	n = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
	if (n == 0 || n >= STRAT_NAME_LEN) {
		snprintf(err, len,
			 "expected MARKET:STRATEGY[:key=value,...], with a strategy name "
			 "or a plugin path of 1 to %d bytes",
			 STRAT_NAME_LEN - 1);
		return -1;
	}
	memcpy(out->strategy, c1 + 1, n);
	return c2 ? parse_params(c2 + 1, out, err, len) : 0;
}

const char *strat_entry_param(const struct strat_entry *e, const char *key)
{
	for (size_t i = 0; i < e->n_params; i++)
		if (strcmp(e->params[i].key, key) == 0)
			return e->params[i].value;
	return NULL;
}

int strat_time_of_day(const char *text)
{
	int h, m;

	if (strlen(text) != 5 || !isdigit((unsigned char)text[0]) ||
	    !isdigit((unsigned char)text[1]) || text[2] != ':' ||
	    !isdigit((unsigned char)text[3]) || !isdigit((unsigned char)text[4]))
		return -1;
	h = (text[0] - '0') * 10 + (text[1] - '0');
	m = (text[3] - '0') * 10 + (text[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return -1;
	return h * 60 + m;
}
