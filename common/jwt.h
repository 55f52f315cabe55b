/* Upbit request authentication: JWT (HS256/HS512) over {access_key, nonce[, query_hash]}.
 * Shared by the client (signing) and the simulator (verification). */
#ifndef TD_JWT_H
#define TD_JWT_H

#include <stddef.h>

enum jwt_alg { JWT_HS256, JWT_HS512 };

/* base64url without padding. Returns the length written (excluding NUL) or -1 if out is short. */
int b64url_encode(const unsigned char *in, size_t len, char *out, size_t outlen);
/* Returns decoded length or -1 on bad input or short buffer. */
int b64url_decode(const char *in, size_t len, unsigned char *out, size_t outlen);

/* Lowercase hex SHA-512 of data into out[129]. */
void sha512_hex(const char *data, size_t len, char out[129]);

/* A random RFC 4122 version-4 UUID into out[37]. Returns 0, or -1 when no randomness. */
int uuid4(char out[37]);

/* Builds the token. query may be NULL or "" (no query_hash claim); nonce NULL means a fresh
 * UUIDv4. Returns a malloc'd string, or NULL. */
char *jwt_sign(enum jwt_alg alg, const char *access_key, const char *secret, const char *nonce,
	       const char *query);

/* What a verifier learns from a token before it knows the secret. */
struct jwt_claims {
	enum jwt_alg alg;
	char access_key[128];
	char nonce[128];
	char query_hash[129]; /* "" when absent */
	char query_hash_alg[16];
};

/* Parses header and payload (no signature check). Returns 0 or -1 when malformed. */
int jwt_parse(const char *token, struct jwt_claims *claims);
/* Checks the signature with secret in constant time. Returns 0 when it matches. */
int jwt_verify_signature(const char *token, const char *secret);

#endif
