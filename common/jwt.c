/* Upbit request authentication: JWT (HS256/HS512) over {access_key, nonce[, query_hash]}.
 * Shared by the client (signing) and the simulator (verification). */
#include "jwt.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64url_encode(const unsigned char *in, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;

		if (n > 1)
			v |= (unsigned)in[i + 1] << 8;
		if (n > 2)
			v |= in[i + 2];
		if (o + n + 1 >= outlen)
			return -1;
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		if (n > 1)
			out[o++] = b64url_alphabet[(v >> 6) & 63];
		if (n > 2)
			out[o++] = b64url_alphabet[v & 63];
	}
	if (o >= outlen)
		return -1;
	out[o] = '\0';
	return (int)o;
}

static int b64url_value(char c)
{
	const char *at = c ? strchr(b64url_alphabet, c) : NULL;

	return at ? (int)(at - b64url_alphabet) : -1;
}

int b64url_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;

	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b64url_value(in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -1;
			out[o++] = (unsigned char)((acc >> bits) & 0xff);
		}
	}
	return (int)o;
}

void sha512_hex(const char *data, size_t len, char out[129])
{
	unsigned char digest[64];
	unsigned int dlen = 0;

	EVP_Digest(data, len, digest, &dlen, EVP_sha512(), NULL);
	for (unsigned i = 0; i < 64; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

int uuid4(char out[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return 0;
}

static const EVP_MD *alg_md(enum jwt_alg alg)
{
	return alg == JWT_HS512 ? EVP_sha512() : EVP_sha256();
}

/* Signs "header.payload" and appends ".signature" in place; buf must have room. */
static int append_signature(enum jwt_alg alg, const char *secret, char *buf, size_t buflen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t used = strlen(buf);

	if (!HMAC(alg_md(alg), secret, (int)strlen(secret), (const unsigned char *)buf, used, mac,
		  &maclen))
		return -1;
	if (used + 2 >= buflen)
		return -1;
	buf[used++] = '.';
	return b64url_encode(mac, maclen, buf + used, buflen - used) < 0 ? -1 : 0;
}

char *jwt_sign(enum jwt_alg alg, const char *access_key, const char *secret, const char *nonce,
	       const char *query)
{
	char fresh[37], hash[129];
	const char *header = alg == JWT_HS512 ? "{\"alg\":\"HS512\",\"typ\":\"JWT\"}"
					      : "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	json_t *payload;
	char *payload_text, *token = NULL;
	size_t cap;

	if (!nonce) {
		if (uuid4(fresh) < 0)
			return NULL;
		nonce = fresh;
	}
	/* Key order matters to reproduce the reference vectors byte for byte. */
	payload = json_pack("{s:s, s:s}", "access_key", access_key, "nonce", nonce);
	if (!payload)
		return NULL;
	if (query && *query) {
		sha512_hex(query, strlen(query), hash);
		json_object_set_new(payload, "query_hash", json_string(hash));
		json_object_set_new(payload, "query_hash_alg", json_string("SHA512"));
	}
	payload_text = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(payload);
	if (!payload_text)
		return NULL;
	cap = (strlen(header) + strlen(payload_text)) * 2 + 200;
	token = malloc(cap);
	if (token) {
		int h = b64url_encode((const unsigned char *)header, strlen(header), token, cap);

		token[h] = '.';
		if (b64url_encode((const unsigned char *)payload_text, strlen(payload_text),
				  token + h + 1, cap - (size_t)h - 1) < 0 ||
		    append_signature(alg, secret, token, cap) < 0) {
			free(token);
			token = NULL;
		}
	}
	free(payload_text);
	return token;
}

static json_t *decode_part(const char *start, size_t len)
{
	unsigned char buf[2048];
	int n;

	if (len > 2700)
		return NULL;
	n = b64url_decode(start, len, buf, sizeof(buf));
	if (n < 0)
		return NULL;
	return json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
}

static int copy_claim(json_t *obj, const char *key, char *out, size_t outlen, int required)
{
	json_t *v = json_object_get(obj, key);

	if (!v) {
		out[0] = '\0';
		return required ? -1 : 0;
	}
	if (!json_is_string(v) || json_string_length(v) >= outlen)
		return -1;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

int jwt_parse(const char *token, struct jwt_claims *claims)
{
	const char *dot1 = strchr(token, '.');
	const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	json_t *header, *payload;
	const char *alg;
	int rc = -1;

	if (!dot2 || strchr(dot2 + 1, '.'))
		return -1;
	header = decode_part(token, (size_t)(dot1 - token));
	payload = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (!json_is_object(header) || !json_is_object(payload))
		goto out;
	alg = json_string_value(json_object_get(header, "alg"));
	if (!alg)
		goto out;
	if (strcmp(alg, "HS256") == 0)
		claims->alg = JWT_HS256;
	else if (strcmp(alg, "HS512") == 0)
		claims->alg = JWT_HS512;
	else
		goto out;
	if (copy_claim(payload, "access_key", claims->access_key, sizeof(claims->access_key), 1) ||
	    copy_claim(payload, "nonce", claims->nonce, sizeof(claims->nonce), 1) ||
	    copy_claim(payload, "query_hash", claims->query_hash, sizeof(claims->query_hash), 0) ||
	    copy_claim(payload, "query_hash_alg", claims->query_hash_alg,
		       sizeof(claims->query_hash_alg), 0))
		goto out;
	rc = 0;
out:
	json_decref(header);
	json_decref(payload);
	return rc;
}

int jwt_verify_signature(const char *token, const char *secret)
{
	struct jwt_claims claims;
	const char *sig = strrchr(token, '.');
	char expect[4096];
	size_t signed_len;

	if (!sig || jwt_parse(token, &claims) < 0)
		return -1;
	signed_len = (size_t)(sig - token);
	if (signed_len >= sizeof(expect) - 100)
		return -1;
	memcpy(expect, token, signed_len);
	expect[signed_len] = '\0';
	if (append_signature(claims.alg, secret, expect, sizeof(expect)) < 0)
		return -1;
	if (strlen(expect) != strlen(token))
		return -1;
	return CRYPTO_memcmp(expect, token, strlen(token)) == 0 ? 0 : -1;
}
