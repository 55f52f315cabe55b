/* Upbit request signing and parameter rendering: the five JWT vectors of upbit_jwt_vectors.py
 * (HS256 and HS512 full tokens, query hashes) and the encoded versus hashed query forms. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/jwt.h"
#include "workers/upbit/upbit_auth.h"
#include "workers/upbit/upbit_query.h"

#define AK "test-access-key"
#define SK "test-secret-key"
#define NONCE "3f1d2a4e-7b6c-4d5e-8f90-a1b2c3d4e5f6"

struct vector {
	const char *wire, *hash_input, *query_hash, *hs256, *hs512;
};

/* Output of /work/shared/upbit_jwt_vectors.py, in its order. */
static const struct vector vectors[] = {
	{"", "", "",
	 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	 "eyJhY2Nlc3Nfa2V5IjoidGVzdC1hY2Nlc3Mta2V5Iiwibm9uY2UiOiIzZjFkMmE0ZS03YjZjLTRkNWUtOGY5MC1hM"
	 "WIyYzNkNGU1ZjYifQ.tGTfA7jfndm5NpTh78i24wxEdtRo4WH7tFi9mRCl-Tc",
	 "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."
	 "eyJhY2Nlc3Nfa2V5IjoidGVzdC1hY2Nlc3Mta2V5Iiwibm9uY2UiOiIzZjFkMmE0ZS03YjZjLTRkNWUtOGY5MC1hM"
	 "WIyYzNkNGU1ZjYifQ.RoM-zxt4GdcyfDTo-Ro-rAkCFJrPuc6aFhkdqOgI44Xsgel_"
	 "evwbyqXbeUjl7YS42eo3NLdudfQhp7RiUwXr8g"},
	{"market=KRW-BTC", "market=KRW-BTC",
	 "b749dfc2e17f75e5b46c8161f97fe7c9298ed4167ea21c5c94d16573efd8a801351470c0ff1a9a3f1e763f824"
	 "9968218c04c571c8b45aa80cd4588e6c4be0738",
	 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	 "eyJhY2Nlc3Nfa2V5IjoidGVzdC1hY2Nlc3Mta2V5Iiwibm9uY2UiOiIzZjFkMmE0ZS03YjZjLTRkNWUtOGY5MC1hM"
	 "WIyYzNkNGU1ZjYiLCJxdWVyeV9oYXNoIjoiYjc0OWRmYzJlMTdmNzVlNWI0NmM4MTYxZjk3ZmU3YzkyOThlZDQxNj"
	 "dlYTIxYzVjOTRkMTY1NzNlZmQ4YTgwMTM1MTQ3MGMwZmYxYTlhM2YxZTc2M2Y4MjQ5OTY4MjE4YzA0YzU3MWM4YjQ"
	 "1YWE4MGNkNDU4OGU2YzRiZTA3MzgiLCJxdWVyeV9oYXNoX2FsZyI6IlNIQTUxMiJ9."
	 "pedWWQx6g5GQkmyztJlVANagbbpFu1wfIPS4l7kPNRQ",
	 "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."
	 "eyJhY2Nlc3Nfa2V5IjoidGVzdC1hY2Nlc3Mta2V5Iiwibm9uY2UiOiIzZjFkMmE0ZS03YjZjLTRkNWUtOGY5MC1hM"
	 "WIyYzNkNGU1ZjYiLCJxdWVyeV9oYXNoIjoiYjc0OWRmYzJlMTdmNzVlNWI0NmM4MTYxZjk3ZmU3YzkyOThlZDQxNj"
	 "dlYTIxYzVjOTRkMTY1NzNlZmQ4YTgwMTM1MTQ3MGMwZmYxYTlhM2YxZTc2M2Y4MjQ5OTY4MjE4YzA0YzU3MWM4YjQ"
	 "1YWE4MGNkNDU4OGU2YzRiZTA3MzgiLCJxdWVyeV9oYXNoX2FsZyI6IlNIQTUxMiJ9.UpoIHdRYxnf9gM3PNJ3w_"
	 "Cb_jszqdj_R-97JPbrnq1Acq7L0G4eyw4TVztFYwjimGE43NMLVvcy0HQwuQGr_Hw"},
	{"market=KRW-BTC&states%5B%5D=wait&states%5B%5D=watch",
	 "market=KRW-BTC&states[]=wait&states[]=watch",
	 "c01bbcb80094d2225c90eda65128baf7ef800471fbdeb76579856d1532cd263060e41ede9c52bfc926a0b46c4"
	 "b7797a61e4327cda59d236f829cde4c875dfe77",
	 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	 "eyJhY2Nlc3Nfa2V5IjoidGVzdC1hY2Nlc3Mta2V5Iiwibm9uY2UiOiIzZjFkMmE0ZS03YjZjLTRkNWUtOGY5MC1hM"
	 "WIyYzNkNGU1ZjYiLCJxdWVyeV9oYXNoIjoiYzAxYmJjYjgwMDk0ZDIyMjVjOTBlZGE2NTEyOGJhZjdlZjgwMDQ3MW"
	 "ZiZGViNzY1Nzk4NTZkMTUzMmNkMjYzMDYwZTQxZWRlOWM1MmJmYzkyNmEwYjQ2YzRiNzc5N2E2MWU0MzI3Y2RhNTl"
	 "kMjM2ZjgyOWNkZTRjODc1ZGZlNzciLCJxdWVyeV9oYXNoX2FsZyI6IlNIQTUxMiJ9."
	 "ot9tTfCWNdgbTQVzqardyiSkLk4S6q4xSyTiNuwGF04",
	 "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."
	 "eyJhY2Nlc3Nfa2V5IjoidGVzdC1hY2Nlc3Mta2V5Iiwibm9uY2UiOiIzZjFkMmE0ZS03YjZjLTRkNWUtOGY5MC1hM"
	 "WIyYzNkNGU1ZjYiLCJxdWVyeV9oYXNoIjoiYzAxYmJjYjgwMDk0ZDIyMjVjOTBlZGE2NTEyOGJhZjdlZjgwMDQ3MW"
	 "ZiZGViNzY1Nzk4NTZkMTUzMmNkMjYzMDYwZTQxZWRlOWM1MmJmYzkyNmEwYjQ2YzRiNzc5N2E2MWU0MzI3Y2RhNTl"
	 "kMjM2ZjgyOWNkZTRjODc1ZGZlNzciLCJxdWVyeV9oYXNoX2FsZyI6IlNIQTUxMiJ9.4jsVMaTuApIzv2-"
	 "1pLLImSS3cNp-WSEd7ukzLZnUnMLDda2kKy5VREnCzOq7l2t7pOr8wqE_nfrMC5wjrDZAVg"},
	{"market=KRW-BTC&side=bid&volume=0.001&price=50000000&ord_type=limit&identifier=bot-"
	 "20240101-0001",
	 "market=KRW-BTC&side=bid&volume=0.001&price=50000000&ord_type=limit&identifier=bot-"
	 "20240101-0001",
	 "02313970fd1aa42cc874ef4b1efd382c33cc70598e029a5394f3e7bd69f389e25c38750fc619577ed566492c2"
	 "b2550da7311a358d4f1b835a9064e5815ead810",
	 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	 "eyJhY2Nlc3Nfa2V5IjoidGVzdC1hY2Nlc3Mta2V5Iiwibm9uY2UiOiIzZjFkMmE0ZS03YjZjLTRkNWUtOGY5MC1hM"
	 "WIyYzNkNGU1ZjYiLCJxdWVyeV9oYXNoIjoiMDIzMTM5NzBmZDFhYTQyY2M4NzRlZjRiMWVmZDM4MmMzM2NjNzA1OT"
	 "hlMDI5YTUzOTRmM2U3YmQ2OWYzODllMjVjMzg3NTBmYzYxOTU3N2VkNTY2NDkyYzJiMjU1MGRhNzMxMWEzNThkNGY"
	 "xYjgzNWE5MDY0ZTU4MTVlYWQ4MTAiLCJxdWVyeV9oYXNoX2FsZyI6IlNIQTUxMiJ9."
	 "4sJQBi85t3acpSzHlDnMYNZi53nCLfg5D_bPQg6cRRQ",
	 "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."
	 "eyJhY2Nlc3Nfa2V5IjoidGVzdC1hY2Nlc3Mta2V5Iiwibm9uY2UiOiIzZjFkMmE0ZS03YjZjLTRkNWUtOGY5MC1hM"
	 "WIyYzNkNGU1ZjYiLCJxdWVyeV9oYXNoIjoiMDIzMTM5NzBmZDFhYTQyY2M4NzRlZjRiMWVmZDM4MmMzM2NjNzA1OT"
	 "hlMDI5YTUzOTRmM2U3YmQ2OWYzODllMjVjMzg3NTBmYzYxOTU3N2VkNTY2NDkyYzJiMjU1MGRhNzMxMWEzNThkNGY"
	 "xYjgzNWE5MDY0ZTU4MTVlYWQ4MTAiLCJxdWVyeV9oYXNoX2FsZyI6IlNIQTUxMiJ9.6aB1WxeBqFdb4J-qcTwpH_"
	 "I8T2OE8Ate5JS7sLxycVJbM5shdiUi6qqdriDy-S70Jdg6NI8FrAqyCHQvD0dHEw"},
	{"market=KRW-BTC&start_time=2024-12-09T13%3A56%3A53%2B09%3A00",
	 "market=KRW-BTC&start_time=2024-12-09T13:56:53+09:00",
	 "be96db89e135b9555a7c33d5f7dab02082a3a8fa3dab75e51a66257074743c098403ba88f3e42355d2f063fd6"
	 "1ca7d0735fd0832da5285e6ee3dda3b04d409bc",
	 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	 "eyJhY2Nlc3Nfa2V5IjoidGVzdC1hY2Nlc3Mta2V5Iiwibm9uY2UiOiIzZjFkMmE0ZS03YjZjLTRkNWUtOGY5MC1hM"
	 "WIyYzNkNGU1ZjYiLCJxdWVyeV9oYXNoIjoiYmU5NmRiODllMTM1Yjk1NTVhN2MzM2Q1ZjdkYWIwMjA4MmEzYThmYT"
	 "NkYWI3NWU1MWE2NjI1NzA3NDc0M2MwOTg0MDNiYTg4ZjNlNDIzNTVkMmYwNjNmZDYxY2E3ZDA3MzVmZDA4MzJkYTU"
	 "yODVlNmVlM2RkYTNiMDRkNDA5YmMiLCJxdWVyeV9oYXNoX2FsZyI6IlNIQTUxMiJ9."
	 "pGIzJODt9vKR87rYrIPok8cCJ9bj2IM8vzBMYUfJs8c",
	 "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."
	 "eyJhY2Nlc3Nfa2V5IjoidGVzdC1hY2Nlc3Mta2V5Iiwibm9uY2UiOiIzZjFkMmE0ZS03YjZjLTRkNWUtOGY5MC1hM"
	 "WIyYzNkNGU1ZjYiLCJxdWVyeV9oYXNoIjoiYmU5NmRiODllMTM1Yjk1NTVhN2MzM2Q1ZjdkYWIwMjA4MmEzYThmYT"
	 "NkYWI3NWU1MWE2NjI1NzA3NDc0M2MwOTg0MDNiYTg4ZjNlNDIzNTVkMmYwNjNmZDYxY2E3ZDA3MzVmZDA4MzJkYTU"
	 "yODVlNmVlM2RkYTNiMDRkNDA5YmMiLCJxdWVyeV9oYXNoX2FsZyI6IlNIQTUxMiJ9."
	 "qWKpR7t2CWH3t1miPsnkHrgI5VFL-4b03O9fV27VF9QiDWpPO3MXvHxI0euR2hxDddyzdV4ujPPaAXBEer0reA"},
};

/* The same five requests as ordered parameter lists. */
static void build_case(int i, struct upbit_query *q)
{
	static const char *const states[] = {"wait", "watch"};

	upbit_query_init(q);
	switch (i) {
	case 1:
		assert_int_equal(upbit_query_add(q, "market", "KRW-BTC"), 0);
		break;
	case 2:
		assert_int_equal(upbit_query_add(q, "market", "KRW-BTC"), 0);
		assert_int_equal(upbit_query_add_array(q, "states", states, 2), 0);
		break;
	case 3:
		assert_int_equal(upbit_query_add(q, "market", "KRW-BTC"), 0);
		assert_int_equal(upbit_query_add(q, "side", "bid"), 0);
		assert_int_equal(upbit_query_add(q, "volume", "0.001"), 0);
		assert_int_equal(upbit_query_add(q, "price", "50000000"), 0);
		assert_int_equal(upbit_query_add(q, "ord_type", "limit"), 0);
		assert_int_equal(upbit_query_add(q, "identifier", "bot-20240101-0001"), 0);
		break;
	case 4:
		assert_int_equal(upbit_query_add(q, "market", "KRW-BTC"), 0);
		assert_int_equal(upbit_query_add(q, "start_time", "2024-12-09T13:56:53+09:00"), 0);
		break;
	default:
		break;
	}
}

static void test_query_forms_match_vectors(void **state)
{
	(void)state;
	for (int i = 0; i < 5; i++) {
		struct upbit_query q;
		char *enc, *hash;

		build_case(i, &q);
		enc = upbit_query_encoded(&q);
		hash = upbit_query_hash_form(&q);
		assert_string_equal(enc, vectors[i].wire);
		assert_string_equal(hash, vectors[i].hash_input);
		if (*hash) {
			char hex[129];

			sha512_hex(hash, strlen(hash), hex);
			assert_string_equal(hex, vectors[i].query_hash);
		}
		free(enc);
		free(hash);
		upbit_query_free(&q);
	}
}

static void test_full_tokens(void **state)
{
	(void)state;
	for (int i = 0; i < 5; i++) {
		struct upbit_query q;
		char *h256, *h512;
		char expect[1024];

		build_case(i, &q);
		h256 = upbit_auth_header(JWT_HS256, AK, SK, &q, NONCE);
		h512 = upbit_auth_header(JWT_HS512, AK, SK, &q, NONCE);
		snprintf(expect, sizeof(expect), "Authorization: Bearer %s", vectors[i].hs256);
		assert_string_equal(h256, expect);
		snprintf(expect, sizeof(expect), "Authorization: Bearer %s", vectors[i].hs512);
		assert_string_equal(h512, expect);
		free(h256);
		free(h512);
		upbit_query_free(&q);
	}
}

/* A fresh nonce per call: two headers for the same request never match. */
static void test_fresh_nonce(void **state)
{
	struct upbit_query q;
	char *a, *b;
	struct jwt_claims ca, cb;

	(void)state;
	build_case(1, &q);
	a = upbit_auth_header(JWT_HS256, AK, SK, &q, NULL);
	b = upbit_auth_header(JWT_HS256, AK, SK, &q, NULL);
	assert_string_not_equal(a, b);
	assert_int_equal(jwt_parse(a + strlen("Authorization: Bearer "), &ca), 0);
	assert_int_equal(jwt_parse(b + strlen("Authorization: Bearer "), &cb), 0);
	assert_string_not_equal(ca.nonce, cb.nonce);
	assert_int_equal(strlen(ca.nonce), 36);
	assert_int_equal(ca.nonce[14], '4');
	assert_string_equal(ca.query_hash, vectors[1].query_hash);
	assert_int_equal(jwt_verify_signature(a + strlen("Authorization: Bearer "), SK), 0);
	free(a);
	free(b);
	upbit_query_free(&q);
	assert_null(upbit_auth_header(JWT_HS256, NULL, SK, NULL, NULL));
}

/* The POST body and its hash come from one list, so their field order cannot drift. */
static void test_post_body_json(void **state)
{
	struct upbit_query q;
	char *json;

	(void)state;
	build_case(3, &q);
	json = upbit_query_json(&q);
	assert_string_equal(json, "{\"market\":\"KRW-BTC\",\"side\":\"bid\",\"volume\":\"0.001\","
				  "\"price\":\"50000000\",\"ord_type\":\"limit\","
				  "\"identifier\":\"bot-20240101-0001\"}");
	free(json);
	upbit_query_free(&q);
	build_case(2, &q);
	json = upbit_query_json(&q);
	assert_string_equal(json, "{\"market\":\"KRW-BTC\",\"states\":[\"wait\",\"watch\"]}");
	free(json);
	upbit_query_free(&q);
}

static void test_encoding_edge_cases(void **state)
{
	struct upbit_query q;
	char *enc, *hash;

	(void)state;
	upbit_query_init(&q);
	assert_int_equal(upbit_query_add(&q, "to", "2025-06-24T13:56:53+09:00"), 0);
	assert_int_equal(upbit_query_add(&q, "markets", "KRW-BTC,KRW-ETH"), 0);
	assert_int_equal(upbit_query_add(&q, "note", "a b&c=d/é~_."), 0);
	enc = upbit_query_encoded(&q);
	hash = upbit_query_hash_form(&q);
	assert_string_equal(enc, "to=2025-06-24T13%3A56%3A53%2B09%3A00&markets=KRW-BTC%2CKRW-ETH&"
				 "note=a%20b%26c%3Dd%2F%C3%A9~_.");
	assert_string_equal(hash, "to=2025-06-24T13:56:53+09:00&markets=KRW-BTC,KRW-ETH&"
				  "note=a b&c=d/é~_.");
	free(enc);
	free(hash);
	assert_int_equal(upbit_query_add(&q, "", "x"), -EINVAL);
	assert_int_equal(upbit_query_add(&q, "k", NULL), -EINVAL);
	while (q.n < UPBIT_QUERY_MAX)
		assert_int_equal(upbit_query_add(&q, "k", "v"), 0);
	assert_int_equal(upbit_query_add(&q, "k", "v"), -ENOBUFS);
	upbit_query_free(&q);
	upbit_query_init(&q);
	enc = upbit_query_encoded(&q);
	assert_string_equal(enc, "");
	free(enc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_forms_match_vectors),
		cmocka_unit_test(test_full_tokens),
		cmocka_unit_test(test_fresh_nonce),
		cmocka_unit_test(test_post_body_json),
		cmocka_unit_test(test_encoding_edge_cases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
