/* The Authorization header for Upbit exchange calls: a JWT whose query_hash covers the request's
 * parameters in send order (UPBIT_API.md section 3), with a fresh nonce every time. */
#ifndef TD_UPBIT_AUTH_H
#define TD_UPBIT_AUTH_H

#include "common/jwt.h"
#include "workers/upbit/upbit_query.h"

/* Returns a malloc'd "Authorization: Bearer <jwt>" line, or NULL. nonce NULL means a fresh
 * UUIDv4 (tests pass a fixed one). The caller frees it and must never log it. */
char *upbit_auth_header(enum jwt_alg alg, const char *access_key, const char *secret_key,
			const struct upbit_query *params, const char *nonce);

#endif
