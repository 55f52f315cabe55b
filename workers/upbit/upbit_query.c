/* Ordered request parameters for the Upbit API, rendered three ways from one list: the
 * percent-encoded query for the URL, the unencoded k=v&... form the JWT query_hash covers, and JSON. */
#include "upbit_query.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void upbit_query_init(struct upbit_query *q)
{
	memset(q, 0, sizeof(*q));
}

void upbit_query_free(struct upbit_query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->items[i].key);
		free(q->items[i].value);
	}
	q->n = 0;
}

static int add_pair(struct upbit_query *q, const char *key, const char *suffix, const char *value)
{
	size_t klen, slen = strlen(suffix);
	char *k, *v;

	if (!key || !*key || !value)
		return -EINVAL;
	if (q->n >= UPBIT_QUERY_MAX)
		return -ENOBUFS;
	klen = strlen(key);
	k = malloc(klen + slen + 1);
	v = strdup(value);
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	memcpy(k, key, klen);
	memcpy(k + klen, suffix, slen + 1);
	q->items[q->n].key = k;
	q->items[q->n].value = v;
	q->n++;
	return 0;
}

int upbit_query_add(struct upbit_query *q, const char *key, const char *value)
{
	return add_pair(q, key, "", value);
}

int upbit_query_add_array(struct upbit_query *q, const char *key, const char *const *values,
			  size_t n)
{
	if (n > UPBIT_QUERY_MAX - q->n)
		return -ENOBUFS;
	for (size_t i = 0; i < n; i++) {
		int rc = add_pair(q, key, "[]", values[i]);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* RFC 3986 unreserved characters pass; everything else, space included, becomes %XX, so the
 * server's percent-decoding gives back exactly the hash form. */
static size_t encode_into(char *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			if (out)
				out[o] = (char)c;
			o++;
		} else {
			if (out) {
				out[o] = '%';
				out[o + 1] = hex[c >> 4];
				out[o + 2] = hex[c & 15];
			}
			o += 3;
		}
	}
	return o;
}

static size_t copy_into(char *out, const char *s)
{
	size_t n = strlen(s);

	if (out)
		memcpy(out, s, n);
	return n;
}

static char *render(const struct upbit_query *q, size_t (*put)(char *, const char *))
{
	size_t len = 0, o = 0;
	char *out;

	for (size_t i = 0; i < q->n; i++)
		len += put(NULL, q->items[i].key) + put(NULL, q->items[i].value) + 2;
	out = malloc(len + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < q->n; i++) {
		if (i > 0)
			out[o++] = '&';
		o += put(out + o, q->items[i].key);
		out[o++] = '=';
		o += put(out + o, q->items[i].value);
	}
	out[o] = '\0';
	return out;
}

char *upbit_query_encoded(const struct upbit_query *q)
{
	return render(q, encode_into);
}

char *upbit_query_hash_form(const struct upbit_query *q)
{
	return render(q, copy_into);
}

char *upbit_query_json(const struct upbit_query *q)
{
	json_t *obj = json_object();
	char *text = NULL;
	int ok = obj != NULL;

	for (size_t i = 0; ok && i < q->n; i++) {
		const char *key = q->items[i].key;
		size_t klen = strlen(key);
		json_t *value = json_string(q->items[i].value);

		if (!value) {
			ok = 0;
			break;
		}
		if (klen > 2 && strcmp(key + klen - 2, "[]") == 0) {
			char base[256];
			json_t *arr;

			if (klen - 2 >= sizeof(base)) {
				json_decref(value);
				ok = 0;
				break;
			}
			memcpy(base, key, klen - 2);
			base[klen - 2] = '\0';
			arr = json_object_get(obj, base);
			if (!arr) {
				arr = json_array();
				if (!arr || json_object_set_new(obj, base, arr) < 0) {
					json_decref(value);
					ok = 0;
					break;
				}
			}
			ok = json_array_append_new(arr, value) == 0;
		} else {
			ok = json_object_set_new(obj, key, value) == 0;
		}
	}
	if (ok)
		text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	return text;
}
