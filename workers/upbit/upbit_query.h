/* Ordered request parameters for the Upbit API, rendered three ways from one list: the
 * percent-encoded query for the URL, the unencoded k=v&... form the JWT query_hash covers, and JSON. */
#ifndef TD_UPBIT_QUERY_H
#define TD_UPBIT_QUERY_H

#include <stddef.h>

/* Bound on parameters per request; Upbit's widest call uses under ten. */
#define UPBIT_QUERY_MAX 64

struct upbit_param {
	char *key; /* arrays carry the "[]" suffix: "states[]" */
	char *value;
};

struct upbit_query {
	struct upbit_param items[UPBIT_QUERY_MAX];
	size_t n;
};

void upbit_query_init(struct upbit_query *q);
void upbit_query_free(struct upbit_query *q);

/* Appends key=value in send order. Returns 0, -EINVAL, -ENOBUFS (list full) or -ENOMEM. */
int upbit_query_add(struct upbit_query *q, const char *key, const char *value);
/* Appends key[]=v for each value, in order. */
int upbit_query_add_array(struct upbit_query *q, const char *key, const char *const *values,
			  size_t n);

/* malloc'd strings, "" for an empty list; NULL on allocation failure. */
char *upbit_query_encoded(const struct upbit_query *q);	  /* states%5B%5D=wait&t=13%3A56 */
char *upbit_query_hash_form(const struct upbit_query *q); /* states[]=wait&t=13:56 */
/* A JSON object with the fields in list order, values as strings; k[] keys become arrays "k". */
char *upbit_query_json(const struct upbit_query *q);

#endif
