/* Field readers shared by the Upbit parsers (internal to workers/upbit): each checks presence,
 * JSON type and range of one field and records the first failure in the parse error. */
#include "upbit_parse_util.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

const char *upbit_parse_err_name(int code)
{
	static const char *const names[] = {
		"ok",	"empty", "too_big", "syntax", "encoding", "api_error", "shape", "missing",
		"type", "range", "market",  "time",   "decimal",  "enum",      "count", "nomem",
	};

	if (code > 0 || -code >= (int)(sizeof(names) / sizeof(names[0])))
		return "unknown";
	return names[-code];
}

void pu_begin(struct pctx *c, const struct upbit_parse_opts *o, struct upbit_parse_error *e,
	      struct upbit_parse_error *scratch)
{
	c->o = o;
	c->e = e ? e : scratch;
	memset(c->e, 0, sizeof(*c->e));
	c->e->index = -1;
}

int pu_fail(struct pctx *c, int code, const char *field, const char *fmt, ...)
{
	va_list ap;

	/* The first failure is the one worth reporting. */
	if (c->e->code != 0)
		return c->e->code;
	c->e->code = code;
	snprintf(c->e->field, sizeof(c->e->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(c->e->detail, sizeof(c->e->detail), fmt, ap);
	va_end(ap);
	return code;
}

int upbit_parse_api_error(const char *body, size_t len, struct upbit_api_error *out)
{
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *err, *name, *msg;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	err = json_is_object(root) ? json_object_get(root, "error") : NULL;
	name = json_object_get(err, "name");
	msg = json_object_get(err, "message");
	if (json_is_object(err) && (json_is_string(name) || json_is_integer(name)) &&
	    (!msg || json_is_string(msg) || json_is_null(msg))) {
		if (json_is_string(name))
			snprintf(out->name, sizeof(out->name), "%s", json_string_value(name));
		else
			snprintf(out->name, sizeof(out->name), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(name));
		if (json_is_string(msg))
			snprintf(out->message, sizeof(out->message), "%s", json_string_value(msg));
		rc = 0;
	}
	json_decref(root);
	return rc;
}

json_t *pu_load(const char *body, size_t len, struct pctx *c)
{
	json_error_t jerr;
	json_t *root;
	size_t i = 0;

	if (!body || len == 0)
		return pu_fail(c, UPBIT_PARSE_EMPTY, NULL, "empty body"), NULL;
	if (c->o && c->o->max_body && len > c->o->max_body)
		return pu_fail(c, UPBIT_PARSE_TOO_BIG, NULL, "body of %zu bytes", len), NULL;
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len)
		return pu_fail(c, UPBIT_PARSE_EMPTY, NULL, "blank body"), NULL;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		int code = json_error_code(&jerr) == json_error_invalid_utf8 ? UPBIT_PARSE_ENCODING
									     : UPBIT_PARSE_SYNTAX;

		pu_fail(c, code, NULL, "line %d col %d: %s", jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (json_is_object(root) && json_object_get(root, "error")) {
		if (upbit_parse_api_error(body, len, &c->e->api) == 0)
			pu_fail(c, UPBIT_PARSE_API_ERROR, "error", "%s: %s", c->e->api.name,
				c->e->api.message);
		else
			pu_fail(c, UPBIT_PARSE_SHAPE, "error", "malformed error envelope");
		json_decref(root);
		return NULL;
	}
	return root;
}

/* NULL and set *code when the field is absent/null: MISSING unless optional. */
static json_t *field(json_t *obj, const char *key, unsigned flags, int *absent, struct pctx *c)
{
	json_t *v = json_object_get(obj, key);

	*absent = 0;
	if (!v || json_is_null(v)) {
		*absent = 1;
		if (!(flags & PU_OPTIONAL))
			pu_fail(c, UPBIT_PARSE_MISSING, key, "missing");
		return NULL;
	}
	return v;
}

static int check_range(double d, const char *key, unsigned flags, struct pctx *c)
{
	double max = (flags & PU_PRICE) ? UPBIT_PRICE_MAX : UPBIT_AMOUNT_MAX;

	if (!isfinite(d))
		return pu_fail(c, UPBIT_PARSE_RANGE, key, "not finite");
	if ((flags & PU_POSITIVE) && !(d > 0))
		return pu_fail(c, UPBIT_PARSE_RANGE, key, "%g is not positive", d);
	if ((flags & PU_NONNEG) && d < 0)
		return pu_fail(c, UPBIT_PARSE_RANGE, key, "%g is negative", d);
	if (fabs(d) > max)
		return pu_fail(c, UPBIT_PARSE_RANGE, key, "%g is out of range", d);
	return 0;
}

int pu_number(json_t *obj, const char *key, unsigned flags, double *out, struct pctx *c)
{
	int absent;
	json_t *v = field(obj, key, flags, &absent, c);

	*out = 0;
	if (!v)
		return absent && (flags & PU_OPTIONAL) ? 0 : UPBIT_PARSE_MISSING;
	/* Quotation prices come as JSON integers or reals; both are numbers. */
	if (!json_is_number(v))
		return pu_fail(c, UPBIT_PARSE_TYPE, key, "not a number");
	*out = json_number_value(v);
	return check_range(*out, key, flags, c);
}

int pu_dec8(json_t *obj, const char *key, dec8 *out, struct pctx *c)
{
	if (dec8_from_json(json_object_get(obj, key), out) < 0)
		return pu_fail(c, UPBIT_PARSE_RANGE, key, "not an exact decimal of 8 places");
	return 0;
}

void pu_decimal_text(json_t *obj, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(obj, key);
	char tmp[DEC8_BUF];
	dec8 d;
	size_t n;

	if (dec8_from_json(v, &d) == 0) {
		dec8_format(d, tmp);
		snprintf(buf, len, "%s", tmp);
		return;
	}
	/* Beyond dec8: the number as jansson read it, to 8 places, trailing zeros trimmed. */
	snprintf(buf, len, "%.8f", json_number_value(v));
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
}

int pu_integer(json_t *obj, const char *key, unsigned flags, long *out, struct pctx *c)
{
	int absent;
	json_t *v = field(obj, key, flags, &absent, c);

	*out = 0;
	if (!v)
		return absent && (flags & PU_OPTIONAL) ? 0 : UPBIT_PARSE_MISSING;
	if (!json_is_integer(v))
		return pu_fail(c, UPBIT_PARSE_TYPE, key, "not an integer");
	if (((flags & PU_NONNEG) && json_integer_value(v) < 0) ||
	    ((flags & PU_POSITIVE) && json_integer_value(v) <= 0) ||
	    json_integer_value(v) > 1000000000)
		return pu_fail(c, UPBIT_PARSE_RANGE, key, "out of range");
	*out = (long)json_integer_value(v);
	return 0;
}

int pu_string(json_t *obj, const char *key, unsigned flags, char *buf, size_t len, struct pctx *c)
{
	int absent;
	json_t *v = field(obj, key, flags, &absent, c);

	buf[0] = '\0';
	if (!v)
		return absent && (flags & PU_OPTIONAL) ? 0 : UPBIT_PARSE_MISSING;
	if (!json_is_string(v))
		return pu_fail(c, UPBIT_PARSE_TYPE, key, "not a string");
	if (json_string_length(v) >= len)
		return pu_fail(c, UPBIT_PARSE_RANGE, key, "too long");
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

int pu_enum(json_t *obj, const char *key, const char *const *allowed, char *buf, size_t len,
	    struct pctx *c)
{
	int rc = pu_string(obj, key, 0, buf, len, c);

	if (rc < 0)
		return rc;
	for (; *allowed; allowed++)
		if (strcmp(buf, *allowed) == 0)
			return 0;
	return pu_fail(c, UPBIT_PARSE_ENUM, key, "unknown value '%.32s'", buf);
}

static int currency_valid(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!isupper((unsigned char)s[n]) && !isdigit((unsigned char)s[n]))
			return 0;
	return n >= 1 && n <= max;
}

int upbit_market_code_valid(const char *s)
{
	const char *dash = strchr(s, '-');
	char quote[16];
	size_t qlen;

	if (!dash)
		return 0;
	qlen = (size_t)(dash - s);
	if (qlen < 2 || qlen > 10)
		return 0;
	memcpy(quote, s, qlen);
	quote[qlen] = '\0';
	return currency_valid(quote, 10) && currency_valid(dash + 1, 15);
}

int pu_market(json_t *obj, const char *key, char *buf, struct pctx *c)
{
	int rc = pu_string(obj, key, 0, buf, UPBIT_MARKET_LEN, c);

	if (rc == UPBIT_PARSE_RANGE)
		c->e->code = UPBIT_PARSE_MARKET;
	if (rc < 0)
		return c->e->code;
	if (!upbit_market_code_valid(buf))
		return pu_fail(c, UPBIT_PARSE_MARKET, key, "bad market code '%.24s'", buf);
	if (c->o && c->o->market && strcmp(buf, c->o->market) != 0)
		return pu_fail(c, UPBIT_PARSE_MARKET, key, "'%s' is not the market asked for", buf);
	return 0;
}

int pu_currency(json_t *obj, const char *key, char *buf, struct pctx *c)
{
	int rc = pu_string(obj, key, 0, buf, UPBIT_CURRENCY_LEN, c);

	if (rc < 0)
		return rc;
	if (!currency_valid(buf, UPBIT_CURRENCY_LEN - 1))
		return pu_fail(c, UPBIT_PARSE_RANGE, key, "bad currency '%.16s'", buf);
	return 0;
}

int pu_time_in_range(int64_t ms, const char *field_name, struct pctx *c)
{
	int64_t now = c->o && c->o->now_ms ? c->o->now_ms : clock_now_ms();

	if (ms < UPBIT_EPOCH_MIN_MS)
		return pu_fail(c, UPBIT_PARSE_TIME, field_name, "%lld is before 2017",
			       (long long)ms);
	if (ms > now + UPBIT_FUTURE_SLACK_MS)
		return pu_fail(c, UPBIT_PARSE_TIME, field_name, "%lld is in the future",
			       (long long)ms);
	return 0;
}

int pu_timestamp(json_t *obj, const char *key, int64_t *out, struct pctx *c)
{
	int absent;
	json_t *v = field(obj, key, 0, &absent, c);

	*out = 0;
	if (!v)
		return UPBIT_PARSE_MISSING;
	if (!json_is_integer(v))
		return pu_fail(c, UPBIT_PARSE_TYPE, key, "not an integer");
	*out = (int64_t)json_integer_value(v);
	return pu_time_in_range(*out, key, c);
}

int pu_iso_time(json_t *obj, const char *key, int assume_utc, unsigned flags, int64_t *out,
		struct pctx *c)
{
	char text[48];
	int rc = pu_string(obj, key, flags, text, sizeof(text), c);

	*out = 0;
	if (rc < 0)
		return rc == UPBIT_PARSE_RANGE ? (c->e->code = UPBIT_PARSE_TIME) : rc;
	if (!text[0])
		return 0;
	if (clock_parse_iso8601(text, assume_utc, out) < 0)
		return pu_fail(c, UPBIT_PARSE_TIME, key, "bad time '%.40s'", text);
	return pu_time_in_range(*out, key, c);
}

int upbit_decimal_valid(const char *s)
{
	size_t i = 0, digits = 0;

	while (isdigit((unsigned char)s[i])) {
		i++;
		digits++;
	}
	if (digits == 0)
		return 0;
	if (s[i] == '.') {
		size_t frac = 0;

		i++;
		while (isdigit((unsigned char)s[i])) {
			i++;
			frac++;
		}
		if (frac == 0)
			return 0;
	}
	return i < UPBIT_DEC_LEN && s[i] == '\0';
}

int pu_decimal(json_t *obj, const char *key, unsigned flags, struct upbit_dec *out, struct pctx *c)
{
	int absent;
	json_t *v = field(obj, key, flags, &absent, c);

	memset(out, 0, sizeof(*out));
	if (!v)
		return absent && (flags & PU_OPTIONAL) ? 0 : UPBIT_PARSE_MISSING;
	if (json_is_number(v) && (flags & PU_NUMBER_OK)) {
		double d = json_number_value(v);

		if (check_range(d, key, flags | PU_NONNEG, c) < 0)
			return c->e->code;
		snprintf(out->text, sizeof(out->text), "%.17g", d);
		out->value = d;
		out->present = 1;
		return 0;
	}
	if (!json_is_string(v))
		return pu_fail(c, UPBIT_PARSE_TYPE, key, "not a decimal string");
	if (json_string_length(v) >= sizeof(out->text) ||
	    !upbit_decimal_valid(json_string_value(v)))
		return pu_fail(c, UPBIT_PARSE_DECIMAL, key, "bad decimal '%.40s'",
			       json_string_value(v));
	memcpy(out->text, json_string_value(v), json_string_length(v) + 1);
	out->value = strtod(out->text, NULL);
	out->present = 1;
	return check_range(out->value, key, flags, c);
}

int pu_bool(json_t *obj, const char *key, unsigned flags, int *out, struct pctx *c)
{
	int absent;
	json_t *v = field(obj, key, flags, &absent, c);

	*out = 0;
	if (!v)
		return absent && (flags & PU_OPTIONAL) ? 0 : UPBIT_PARSE_MISSING;
	if (!json_is_boolean(v))
		return pu_fail(c, UPBIT_PARSE_TYPE, key, "not a boolean");
	*out = json_is_true(v);
	return 0;
}

int pu_array(json_t *root, size_t item_size, size_t max, pu_item_fn fn, void (*clear)(void *),
	     void **out, size_t *n, struct pctx *c)
{
	size_t count;
	char *items;

	*out = NULL;
	*n = 0;
	if (!json_is_array(root))
		return pu_fail(c, UPBIT_PARSE_SHAPE, NULL, "not an array");
	count = json_array_size(root);
	if (count > max)
		return pu_fail(c, UPBIT_PARSE_COUNT, NULL, "%zu items", count);
	if (count == 0)
		return 0;
	items = calloc(count, item_size);
	if (!items)
		return pu_fail(c, UPBIT_PARSE_NOMEM, NULL, "out of memory");
	for (size_t i = 0; i < count; i++) {
		json_t *item = json_array_get(root, i);
		int rc;

		c->e->index = (long)i;
		if (!json_is_object(item))
			rc = pu_fail(c, UPBIT_PARSE_SHAPE, NULL, "item is not an object");
		else
			rc = fn(item, items + i * item_size, c);
		if (rc < 0) {
			if (clear)
				for (size_t j = 0; j <= i; j++)
					clear(items + j * item_size);
			free(items);
			return c->e->code ? c->e->code : rc;
		}
	}
	c->e->index = -1;
	*out = items;
	*n = count;
	return 0;
}

int pu_parse_list(const char *body, size_t len, const struct upbit_parse_opts *o,
		  struct upbit_parse_error *err, size_t item_size, size_t max, pu_item_fn fn,
		  void (*clear)(void *), void **out, size_t *n)
{
	struct upbit_parse_error scratch;
	struct pctx c;
	json_t *root;
	int rc;

	pu_begin(&c, o, err, &scratch);
	*out = NULL;
	*n = 0;
	root = pu_load(body, len, &c);
	if (!root)
		return c.e->code;
	rc = pu_array(root, item_size, max, fn, clear, out, n, &c);
	json_decref(root);
	return rc;
}
