/* The Authorization header for Upbit exchange calls: a JWT whose query_hash covers the request's
 * parameters in send order (UPBIT_API.md section 3), with a fresh nonce every time. */
#include "upbit_auth.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *upbit_auth_header(enum jwt_alg alg, const char *access_key, const char *secret_key,
			const struct upbit_query *params, const char *nonce)
{
	char *hash_form = NULL, *token, *line;
	size_t len;

	if (!access_key || !secret_key)
		return NULL;
	if (params && params->n > 0) {
		hash_form = upbit_query_hash_form(params);
		if (!hash_form)
			return NULL;
	}
	token = jwt_sign(alg, access_key, secret_key, nonce, hash_form);
	free(hash_form);
	if (!token)
		return NULL;
	len = strlen(token) + sizeof("Authorization: Bearer ");
	line = malloc(len);
	if (line)
		snprintf(line, len, "Authorization: Bearer %s", token);
	/* The token is a bearer credential: wipe it before the allocator can hand it out. */
	OPENSSL_cleanse(token, strlen(token));
	free(token);
	return line;
}
