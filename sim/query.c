/* Query strings as the simulator needs them: decoded parameters for the routes, and the exact
 * unencoded string (received order) that a client hashed into the JWT's query_hash. */
#include "sim/sim_state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t pct_decode(const char *in, size_t len, char *out, int plus_space)
{
	size_t i, o = 0;

	/* A bad escape stays literal, as Python's unquote() leaves it. */
	for (i = 0; i < len; i++) {
		if (in[i] == '%' && i + 2 < len && hexval(in[i + 1]) >= 0 &&
		    hexval(in[i + 2]) >= 0) {
			out[o++] = (char)(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));
			i += 2;
		} else if (in[i] == '+' && plus_space) {
			out[o++] = ' ';
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = '\0';
	return o;
}

int query_parse(const char *raw, struct query *q)
{
	const char *p = raw, *amp, *eq;
	size_t len;

	memset(q, 0, sizeof(*q));
	if (!raw)
		raw = p = "";
	len = strlen(raw);
	q->hash_input = malloc(len + 1);
	if (!q->hash_input)
		return -1;
	pct_decode(raw, len, q->hash_input, 0);
	while (*p) {
		size_t klen, vlen;
		struct qparam *np;

		amp = strchr(p, '&');
		if (!amp)
			amp = p + strlen(p);
		eq = memchr(p, '=', (size_t)(amp - p));
		klen = eq ? (size_t)(eq - p) : (size_t)(amp - p);
		vlen = eq ? (size_t)(amp - eq - 1) : 0;
		if (klen > 0) {
			if (q->n >= 256) /* more parameters than any endpoint takes */
				return -1;
			np = realloc(q->p, (q->n + 1) * sizeof(*np));
			if (!np)
				return -1;
			q->p = np;
			np[q->n].key = malloc(klen + 1);
			np[q->n].value = malloc(vlen + 1);
			if (!np[q->n].key || !np[q->n].value) {
				free(np[q->n].key);
				free(np[q->n].value);
				return -1;
			}
			pct_decode(p, klen, np[q->n].key, 1);
			pct_decode(eq ? eq + 1 : "", vlen, np[q->n].value, 1);
			q->n++;
		}
		p = *amp ? amp + 1 : amp;
	}
	return 0;
}

const char *query_get(const struct query *q, const char *key)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		if (strcmp(q->p[i].key, key) == 0)
			return q->p[i].value;
	return NULL;
}

void query_free(struct query *q)
{
	size_t i;

	for (i = 0; i < q->n; i++) {
		free(q->p[i].key);
		free(q->p[i].value);
	}
	free(q->p);
	free(q->hash_input);
	memset(q, 0, sizeof(*q));
}

/* Shortest text that reads back as the same double, as Python's str(float) prints it. */
static void real_text(double d, char *buf, size_t len)
{
	int prec;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

static int append(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);

	if (*len + n + 1 > *cap) {
		size_t nc = (*cap + n + 1) * 2;
		char *nb = realloc(*buf, nc);

		if (!nb)
			return -1;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
	return 0;
}

static int append_value(char **buf, size_t *len, size_t *cap, json_t *v)
{
	char tmp[64];

	if (json_is_string(v))
		return append(buf, len, cap, json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return append(buf, len, cap, tmp);
	}
	if (json_is_real(v)) {
		real_text(json_real_value(v), tmp, sizeof(tmp));
		return append(buf, len, cap, tmp);
	}
	if (json_is_true(v))
		return append(buf, len, cap, "true");
	if (json_is_false(v))
		return append(buf, len, cap, "false");
	return 0; /* null and nested objects hash as an empty value */
}

char *query_hash_input_json(json_t *obj)
{
	const char *key;
	json_t *v;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int first = 1;

	if (append(&buf, &len, &cap, "") < 0)
		return NULL;
	/* jansson keeps object keys in insertion order, which is the body's order. */
	json_object_foreach(obj, key, v)
	{
		size_t i, n = json_is_array(v) ? json_array_size(v) : 1;
		int suffix = json_is_array(v) &&
			     !(strlen(key) > 2 && !strcmp(key + strlen(key) - 2, "[]"));

		for (i = 0; i < n; i++) {
			json_t *item = json_is_array(v) ? json_array_get(v, i) : v;

			if ((!first && append(&buf, &len, &cap, "&") < 0) ||
			    append(&buf, &len, &cap, key) < 0 ||
			    (suffix && append(&buf, &len, &cap, "[]") < 0) ||
			    append(&buf, &len, &cap, "=") < 0 ||
			    append_value(&buf, &len, &cap, item) < 0) {
				free(buf);
				return NULL;
			}
			first = 0;
		}
	}
	return buf;
}
