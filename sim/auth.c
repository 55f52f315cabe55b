/* JWT verification as Upbit does it: bearer token, HS256/HS512 signature with the raw secret,
 * known access key, single-use nonce, and query_hash over the unencoded parameters. */
#include "sim/sim_state.h"

#include "common/jwt.h"

#include <string.h>
#include <strings.h>

static uint64_t nonce_hash(const char *access_key, const char *nonce)
{
	uint64_t h = 1469598103934665603ULL;
	const char *p;

	for (p = access_key; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (p = nonce; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h ? h : 1;
}

static size_t probe_find(const struct nonce_set *ns, uint64_t h)
{
	size_t i = (size_t)(h & (NONCE_TABLE - 1));

	while (ns->table[i] && ns->table[i] != h)
		i = (i + 1) & (NONCE_TABLE - 1);
	return i;
}

/* Backward-shift deletion keeps linear probing correct without tombstones. */
static void table_delete(struct nonce_set *ns, uint64_t h)
{
	size_t i = probe_find(ns, h), j = i;

	if (!ns->table[i])
		return;
	ns->table[i] = 0;
	for (;;) {
		size_t home;

		j = (j + 1) & (NONCE_TABLE - 1);
		if (!ns->table[j])
			return;
		home = (size_t)(ns->table[j] & (NONCE_TABLE - 1));
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			ns->table[i] = ns->table[j];
			ns->table[j] = 0;
			i = j;
		}
	}
}

int nonce_seen(struct nonce_set *ns, const char *access_key, const char *nonce)
{
	uint64_t h = nonce_hash(access_key, nonce);
	size_t slot = probe_find(ns, h);

	if (ns->table[slot])
		return 1;
	/* Bounded memory: the oldest of NONCE_RING remembered nonces is forgotten first. */
	if (ns->ring_count == NONCE_RING) {
		table_delete(ns, ns->ring[ns->ring_head]);
		ns->ring_head = (ns->ring_head + 1) % NONCE_RING;
		ns->ring_count--;
		slot = probe_find(ns, h);
	}
	ns->table[slot] = h;
	ns->ring[(ns->ring_head + ns->ring_count) % NONCE_RING] = h;
	ns->ring_count++;
	return 0;
}

static const char *bearer_token(const char *authorization)
{
	if (!authorization)
		return NULL;
	while (*authorization == ' ')
		authorization++;
	if (strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	authorization += 7;
	while (*authorization == ' ')
		authorization++;
	return *authorization ? authorization : NULL;
}

int auth_peek_key(const char *authorization, char *out, size_t len)
{
	const char *tok = bearer_token(authorization);
	struct jwt_claims claims;

	if (!tok || strlen(tok) > 4000 || jwt_parse(tok, &claims) < 0)
		return -1;
	snprintf(out, len, "%s", claims.access_key);
	return 0;
}

static int fail(struct auth_error *err, const char *name, const char *message)
{
	err->status = 401;
	err->name = name;
	err->message = message;
	return -1;
}

int auth_check(struct sim *s, const char *authorization, const char *hash_input,
	       struct auth_error *err)
{
	const char *tok = bearer_token(authorization);
	struct jwt_claims claims;
	char hex[129];
	int i, account = -1;

	if (!tok)
		return fail(err, "no_authorization_token", "Authorization token does not exist.");
	if (strlen(tok) > 4000 || jwt_parse(tok, &claims) < 0)
		return fail(err, "jwt_verification", "Jwt 토큰 검증에 실패했습니다.");
	for (i = 0; i < s->naccounts; i++)
		if (strcmp(s->accounts[i].access_key, claims.access_key) == 0)
			account = i;
	if (account < 0)
		return fail(err, "invalid_access_key", "잘못된 엑세스 키입니다.");
	if (jwt_verify_signature(tok, s->accounts[account].secret_key) != 0)
		return fail(err, "jwt_verification", "Jwt 토큰 검증에 실패했습니다.");
	if (hash_input && *hash_input) {
		if (!claims.query_hash[0] ||
		    (claims.query_hash_alg[0] && strcmp(claims.query_hash_alg, "SHA512") != 0))
			return fail(err, "invalid_query_payload",
				    "Jwt의 query를 검증하는데 실패하였습니다.");
		sha512_hex(hash_input, strlen(hash_input), hex);
		if (strcasecmp(hex, claims.query_hash) != 0)
			return fail(err, "invalid_query_payload",
				    "Jwt의 query를 검증하는데 실패하였습니다.");
	}
	/* The nonce is spent only by a token that passed every other check. */
	if (nonce_seen(s->nonces, claims.access_key, claims.nonce))
		return fail(err, "nonce_used", "This temporary number has already been used.");
	return account;
}
