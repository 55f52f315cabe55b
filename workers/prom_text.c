/* The Prometheus text exposition format: HELP and TYPE lines, samples with escaped label
 * values, and values spelt as Prometheus parses them. */
#include "workers/prom_text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void append(struct prom_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(struct prom_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->text ? b->text + b->len : NULL, b->text ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if (b->text && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;
		char *grown;

		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		grown = realloc(b->text, cap);
		if (!grown) {
			b->failed = 1;
			return;
		}
		b->text = grown;
		b->cap = cap;
	}
}

size_t prom_escape_label(const char *value, char *out, size_t len)
{
	size_t n = 0, written = 0;

	for (const char *p = value; *p; p++) {
		const char *rep = *p == '\\'   ? "\\\\"
				  : *p == '"'  ? "\\\""
				  : *p == '\n' ? "\\n"
					       : NULL;
		size_t k = rep ? 2 : 1;

		/* Whole escapes only: a cut value never ends in half of one. */
		if (written == n && n + k < len) {
			memcpy(out + n, rep ? rep : p, k);
			written += k;
		}
		n += k;
	}
	if (len > 0)
		out[written] = '\0';
	return n;
}

/* The shortest of %.15g and %.17g that reads back as the same double. */
static void append_shortest(struct prom_buf *b, double value)
{
	char buf[40];

	snprintf(buf, sizeof(buf), "%.15g", value);
	if (strtod(buf, NULL) != value)
		snprintf(buf, sizeof(buf), "%.17g", value);
	append(b, " %s\n", buf);
}

void prom_family(struct prom_buf *b, const char *name, const char *type, const char *help)
{
	append(b, "# HELP %s ", name);
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			append(b, "\\\\");
		else if (*p == '\n')
			append(b, "\\n");
		else
			append(b, "%c", *p);
	}
	append(b, "\n# TYPE %s %s\n", name, type);
}

void prom_sample(struct prom_buf *b, const char *name, const struct prom_label *labels, int nlabels,
		 double value)
{
	append(b, "%s", name);
	for (int i = 0; i < nlabels && i < PROM_MAX_LABELS; i++) {
		size_t need = prom_escape_label(labels[i].value, NULL, 0);
		char small[256], *esc = need < sizeof(small) ? small : malloc(need + 1);

		if (!esc) {
			b->failed = 1;
			return;
		}
		prom_escape_label(labels[i].value, esc, need + 1);
		append(b, "%s%s=\"%s\"", i ? "," : "{", labels[i].name, esc);
		if (esc != small)
			free(esc);
	}
	if (nlabels > 0)
		append(b, "}");
	if (isnan(value))
		append(b, " NaN\n");
	else if (isinf(value))
		append(b, " %s\n", value > 0 ? "+Inf" : "-Inf");
	else if (value == floor(value) && fabs(value) < 9007199254740992.0)
		append(b, " %.0f\n", value);
	else
		append_shortest(b, value);
}

void prom_buf_free(struct prom_buf *b)
{
	free(b->text);
	b->text = NULL;
	b->len = b->cap = 0;
}
