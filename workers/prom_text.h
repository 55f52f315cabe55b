/* The Prometheus text exposition format (version 0.0.4): metric families with HELP and TYPE,
 * samples with escaped label values, into a growing buffer. */
#ifndef TD_PROM_TEXT_H
#define TD_PROM_TEXT_H

#include <stddef.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PROM_MAX_LABELS 4

struct prom_buf {
	char *text; /* NUL-terminated; the caller frees it */
	size_t len, cap;
	int failed; /* out of memory: the text is incomplete and must not be served */
};

/* A label's name and value; the value is escaped when written. */
struct prom_label {
	const char *name, *value;
};

/* Escapes a label value (\\, \", \n) into out; returns the length it needs, as snprintf. */
size_t prom_escape_label(const char *value, char *out, size_t len);
/* "# HELP name help" and "# TYPE name type" (help escaped: \\ and \n). */
void prom_family(struct prom_buf *b, const char *name, const char *type, const char *help);
/* name{labels} value: up to PROM_MAX_LABELS labels (nlabels), an integer printed exactly,
 * NaN and infinities as Prometheus spells them. */
void prom_sample(struct prom_buf *b, const char *name, const struct prom_label *labels, int nlabels,
		 double value);
void prom_buf_free(struct prom_buf *b);

#endif
