/* Field readers shared by the Upbit parsers (internal to workers/upbit): each checks presence,
 * JSON type and range of one field and records the first failure in the parse error. */
#ifndef TD_UPBIT_PARSE_UTIL_H
#define TD_UPBIT_PARSE_UTIL_H

#include <jansson.h>

#include "common/dec8.h"
#include "workers/upbit/upbit_parse.h"

/* Flags for the readers. */
#define PU_OPTIONAL 0x01  /* absent or null is fine (left zero / present = 0) */
#define PU_POSITIVE 0x02  /* > 0 */
#define PU_NONNEG 0x04	  /* >= 0 */
#define PU_PRICE 0x08	  /* <= UPBIT_PRICE_MAX (else UPBIT_AMOUNT_MAX) */
#define PU_NUMBER_OK 0x10 /* decimals: a JSON number is accepted too */

struct pctx {
	const struct upbit_parse_opts *o;
	struct upbit_parse_error *e;
};

int pu_fail(struct pctx *c, int code, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Loads and screens the body: size, emptiness, syntax, UTF-8, duplicate keys, error envelope. */
json_t *pu_load(const char *body, size_t len, struct pctx *c);

int pu_number(json_t *obj, const char *key, unsigned flags, double *out, struct pctx *c);
/* The exact dec8 of a number field already read by pu_number (a price: at most 8 places). */
int pu_dec8(json_t *obj, const char *key, dec8 *out, struct pctx *c);
/* A non-negative number field as decimal text: dec8_format when it fits, else %.8f trimmed. */
void pu_decimal_text(json_t *obj, const char *key, char *buf, size_t len);
int pu_integer(json_t *obj, const char *key, unsigned flags, long *out, struct pctx *c);
int pu_string(json_t *obj, const char *key, unsigned flags, char *buf, size_t len, struct pctx *c);
int pu_enum(json_t *obj, const char *key, const char *const *allowed, char *buf, size_t len,
	    struct pctx *c);
int pu_market(json_t *obj, const char *key, char *buf, struct pctx *c);
int pu_currency(json_t *obj, const char *key, char *buf, struct pctx *c);
int pu_timestamp(json_t *obj, const char *key, int64_t *out, struct pctx *c);
/* ISO-8601; zone required unless assume_utc. */
int pu_iso_time(json_t *obj, const char *key, int assume_utc, unsigned flags, int64_t *out,
		struct pctx *c);
int pu_decimal(json_t *obj, const char *key, unsigned flags, struct upbit_dec *out, struct pctx *c);
int pu_bool(json_t *obj, const char *key, unsigned flags, int *out, struct pctx *c);
int pu_time_in_range(int64_t ms, const char *field, struct pctx *c);

/* Parses every element of a top-level array into a calloc'd array of item_size records. */
typedef int (*pu_item_fn)(json_t *item, void *dst, struct pctx *c);
int pu_array(json_t *root, size_t item_size, size_t max, pu_item_fn fn, void (*clear)(void *),
	     void **out, size_t *n, struct pctx *c);

void pu_begin(struct pctx *c, const struct upbit_parse_opts *o, struct upbit_parse_error *e,
	      struct upbit_parse_error *scratch);

/* A whole list endpoint: screen the body, then parse every item with fn (pu_array). */
int pu_parse_list(const char *body, size_t len, const struct upbit_parse_opts *o,
		  struct upbit_parse_error *err, size_t item_size, size_t max, pu_item_fn fn,
		  void (*clear)(void *), void **out, size_t *n);

#endif
