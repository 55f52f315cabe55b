/* Config loading: defaults, every kind of error with its file:line:column, relations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/log.h"

static int load(struct config *cfg, const char *text)
{
	return config_load_text(cfg, "t.json", text, strlen(text), CONFIG_FULL);
}

static void test_defaults_fill_an_empty_object(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "{\"user\": \"nobody\"}"), 0);
	assert_int_equal(cfg.s.mode, MODE_SIM);
	assert_int_equal(cfg.s.supervisor.stop_timeout_ms, 5000);
	assert_true(cfg.s.workers[ROLE_MARKET_DATA].enabled);
	assert_int_equal(cfg.s.market_data.markets.n, 3);
	assert_string_equal(cfg.s.market_data.markets.v[2], "KRW-XRP");
	assert_false(cfg.s.clock.test);
	assert_true(cfg.s.clock.rate == 1.0);
	assert_int_equal(cfg.s.supervisor.fatal_action, FATAL_RETRY);
	assert_int_equal(cfg.s.log_level + LOG_LVL_CRIT, config_log_level(&cfg));
	/* An empty base URL is resolved once: the simulator in sim mode. */
	assert_int_equal(cfg.s.exchange.base_url.n, 1);
	assert_string_equal(cfg.s.exchange.base_url.v[0], "http://127.0.0.1:18080");
	config_free(&cfg);
}

static void test_values_override_defaults(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg,
			      "{\"mode\":\"paper\",\"user\":\"nobody\",\"supervisor\":{"
			      "\"stop_timeout_ms\":250,\"fatal_action\":\"exit\"},"
			      "\"clock\":{\"start\":\"2026-01-05T09:00:00+09:00\",\"rate\":60}}"),
			 0);
	assert_int_equal(cfg.s.mode, MODE_PAPER);
	assert_string_equal(config_mode_name(cfg.s.mode), "paper");
	assert_int_equal(cfg.s.supervisor.stop_timeout_ms, 250);
	assert_int_equal(cfg.s.supervisor.fatal_action, FATAL_EXIT);
	assert_true(cfg.s.clock.test);
	assert_int_equal(cfg.s.clock.start_ms, 1767571200000LL);
	assert_true(cfg.s.clock.rate == 60.0);
	assert_string_equal(cfg.s.exchange.base_url.v[0], "https://api.upbit.com");
	config_free(&cfg);
}

static void test_syntax_error_has_line_and_column(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "{\n  \"mode\": \"sim\",\n  \"user\": }\n"), -1);
	assert_int_equal(cfg.nerrors, 1);
	assert_int_equal(cfg.errors[0].line, 3);
	assert_int_equal(cfg.errors[0].column, 11);
	config_free(&cfg);
}

static void test_unknown_nested_key_is_located(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "{\n\t\"supervisor\": {\n\t\t\"stop_timeot_ms\": 5\n\t}\n}"),
			 -1);
	assert_int_equal(cfg.nerrors, 1);
	assert_string_equal(cfg.errors[0].key, "supervisor.stop_timeot_ms");
	assert_string_equal(cfg.errors[0].message, "unknown key");
	assert_int_equal(cfg.errors[0].line, 3);
	assert_int_equal(cfg.errors[0].column, 3);
	config_free(&cfg);
}

static void test_wrong_type_and_range_are_all_reported(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "{\"user\": 5, \"supervisor\": {\"heartbeat_interval_ms\": 1},"
				    " \"mode\": \"casino\"}"),
			 -1);
	assert_int_equal(cfg.nerrors, 3);
	assert_string_equal(cfg.errors[0].key, "user");
	assert_string_equal(cfg.errors[0].message, "expected a string, got an integer");
	assert_int_equal(cfg.errors[0].column, 2);
	assert_string_equal(cfg.errors[1].key, "supervisor.heartbeat_interval_ms");
	assert_non_null(strstr(cfg.errors[1].message, "out of range"));
	assert_string_equal(cfg.errors[2].key, "mode");
	assert_non_null(strstr(cfg.errors[2].message, "sim|paper|live"));
	config_free(&cfg);
}

static void test_array_items_are_checked(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "{\"market_data\": {\"markets\": [\"KRW-BTC\", 7]}}"), -1);
	assert_string_equal(cfg.errors[0].key, "market_data.markets[1]");
	assert_int_equal(cfg.errors[0].column, 41);
	config_free(&cfg);
}

static void test_clock_is_refused_in_live_mode(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "{\"mode\":\"live\", \"user\": \"nobody\", "
				    "\"exchange\": {\"keys_file\": \"/k\"},"
				    " \"clock\": {\"start\": \"2026-01-05T09:00:00+09:00\"}}"),
			 -1);
	assert_int_equal(cfg.nerrors, 1);
	assert_string_equal(cfg.errors[0].key, "clock");
	config_free(&cfg);
}

static void test_bad_timestamp_and_relations(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "{\"clock\": {\"start\": \"2026-01-05 09:00\"}}"), -1);
	assert_string_equal(cfg.errors[0].key, "clock.start");
	config_free(&cfg);
	assert_int_equal(load(&cfg, "{\"user\": \"nobody\", "
				    "\"supervisor\": {\"heartbeat_interval_ms\": 2000,"
				    " \"heartbeat_timeout_ms\": 1000}}"),
			 -1);
	assert_string_equal(cfg.errors[0].key, "supervisor.heartbeat_timeout_ms");
	config_free(&cfg);
}

static void test_duplicate_keys_and_non_objects_are_refused(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "{\"mode\":\"sim\",\"mode\":\"live\"}"), -1);
	assert_non_null(strstr(cfg.errors[0].message, "duplicate"));
	config_free(&cfg);
	assert_int_equal(load(&cfg, "[1, 2]"), -1);
	config_free(&cfg);
}

static void test_missing_file_is_an_error(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(config_load(&cfg, "/nonexistent/tradingd.json", CONFIG_FULL), -1);
	assert_non_null(strstr(cfg.errors[0].message, "cannot open"));
	config_free(&cfg);
}

static void test_listen_must_be_bindable(void **state)
{
	static const char *const bad[] = {"127.0.0.1:abc", "[::1]:99999", "127.0.0.1:0",
					  "localhost:80",  "::1:80",	  "[::1]80"};
	char text[128];
	struct config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
			 "{\"user\": \"nobody\", \"sim\": {\"listen\": \"%s\"}}", bad[i]);
		assert_int_equal(load(&cfg, text), -1);
		assert_string_equal(cfg.errors[0].key, "sim.listen");
		assert_int_equal(cfg.errors[0].line, 1);
		config_free(&cfg);
	}
	assert_int_equal(
		load(&cfg, "{\"user\": \"nobody\", \"sim\": {\"listen\": \"[::1]:8080\"}}"), 0);
	assert_string_equal(cfg.s.exchange.base_url.v[0], "http://[::1]:8080");
	config_free(&cfg);
}

static void test_accounts_are_checked_without_quoting_them(void **state)
{
	char text[4096] = "{\"user\": \"nobody\", \"sim\": {\"accounts\": [";
	struct config cfg;

	(void)state;
	for (int i = 0; i < 17; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s\"a%d:s%d:1000\"",
			 i ? "," : "", i, i);
	strcat(text, "]}}");
	assert_int_equal(load(&cfg, text), -1);
	assert_string_equal(cfg.errors[0].key, "sim.accounts");
	assert_non_null(strstr(cfg.errors[0].message, "out of range [0, 16]"));
	config_free(&cfg);
	assert_int_equal(load(&cfg, "{\"user\": \"nobody\", \"sim\": {\"accounts\": "
				    "[\"ak:sk:10\", \"ak2:topsecret\", \"ak3:s:12x\"]}}"),
			 -1);
	assert_int_equal(cfg.nerrors, 2);
	assert_string_equal(cfg.errors[0].key, "sim.accounts[1]");
	assert_string_equal(cfg.errors[1].key, "sim.accounts[2]");
	assert_null(strstr(cfg.errors[0].message, "topsecret"));
	config_free(&cfg);
}

static void test_strategy_section_is_checked(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(
		load(&cfg,
		     "{\"user\": \"nobody\", \"strategy\": {\"markets\":\n"
		     "  [\"KRW-BTC\", \"btc\", \"KRW-ETH:x:k\", \"KRW-BTC:y\", \"KRW-SOL\"],\n"
		     "  \"window_open\": \"09:61\", \"timezone\": \"Mars/Olympus\"}}"),
		-1);
	assert_int_equal(cfg.nerrors, 6);
	assert_string_equal(cfg.errors[0].key, "strategy.markets[1]");
	assert_int_equal(cfg.errors[0].line, 2);
	assert_non_null(strstr(cfg.errors[0].message, "market code"));
	assert_string_equal(cfg.errors[1].key, "strategy.markets[2]");
	assert_non_null(strstr(cfg.errors[1].message, "key=value"));
	assert_string_equal(cfg.errors[2].key, "strategy.markets[3]");
	assert_non_null(strstr(cfg.errors[2].message, "listed twice"));
	assert_string_equal(cfg.errors[3].key, "strategy.markets[4]");
	assert_non_null(strstr(cfg.errors[3].message, "not in market_data.markets"));
	assert_string_equal(cfg.errors[4].key, "strategy.window_open");
	assert_string_equal(cfg.errors[5].key, "strategy.timezone");
	config_free(&cfg);
	assert_int_equal(load(&cfg, "{\"user\": \"nobody\", \"strategy\": {\"markets\":"
				    " [\"KRW-BTC\", \"KRW-ETH:volatility_breakout:k=0.6\"],"
				    " \"k\": 0.7, \"window_close\": \"24:00\"}}"),
			 0);
	assert_int_equal(cfg.s.strategy.markets.n, 2);
	assert_true(cfg.s.strategy.k == 0.7);
	assert_string_equal(cfg.s.strategy.window_open, "09:00");
	assert_int_equal(cfg.s.strategy.on_window_close, 0);
	config_free(&cfg);
}

static void test_user_must_exist_and_not_be_root(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "{\n \"user\": \"root\"}"), -1);
	assert_string_equal(cfg.errors[0].key, "user");
	assert_int_equal(cfg.errors[0].line, 2);
	assert_non_null(strstr(cfg.errors[0].message, "root"));
	config_free(&cfg);
	assert_int_equal(load(&cfg, "{\"user\": \"no-such-user-here\"}"), -1);
	assert_non_null(strstr(cfg.errors[0].message, "no such user"));
	config_free(&cfg);
}

static void test_nul_byte_and_directory(void **state)
{
	static const char text[] = "{\"user\": \"nobody\",\n  \"mode\": \"sim\"\0, \"x\": 1}";
	struct config cfg;

	(void)state;
	assert_int_equal(config_load_text(&cfg, "t.json", text, sizeof(text) - 1, CONFIG_FULL), -1);
	assert_int_equal(cfg.errors[0].line, 2);
	assert_int_equal(cfg.errors[0].column, 16);
	assert_non_null(strstr(cfg.errors[0].message, "NUL"));
	config_free(&cfg);
	assert_int_equal(config_load(&cfg, "/tmp", CONFIG_FULL), -1);
	assert_non_null(strstr(cfg.errors[0].message, "directory"));
	config_free(&cfg);
}

static void test_each_role_gets_its_share(void **state)
{
	struct config cfg, share;
	char *text;

	(void)state;
	assert_int_equal(load(&cfg, "{\"user\": \"nobody\", \"sim\": {\"accounts\": "
				    "[\"ak:the-sim-secret:1000\"]}}"),
			 0);
	for (int r = 0; r < ROLE_WORKER_COUNT; r++) {
		text = config_text_for_role(&cfg, (enum role)r);
		assert_non_null(text);
		assert_int_equal(strstr(text, "the-sim-secret") != NULL, r == ROLE_ORDER_EXECUTION);
		assert_int_equal(strstr(text, "\"market_data\"") != NULL,
				 role_receives_section((enum role)r, "market_data"));
		assert_null(strstr(text, "\"workers\""));
		/* The share loads as a worker loads it, with the base URL already resolved. */
		assert_int_equal(
			config_load_text(&share, "share", text, strlen(text), CONFIG_KEYS_ONLY), 0);
		assert_string_equal(share.s.exchange.base_url.v[0], "http://127.0.0.1:18080");
		config_free(&share);
		free(text);
	}
	text = config_text_redacted(&cfg);
	assert_null(strstr(text, "the-sim-secret"));
	assert_non_null(strstr(text, "(secret)"));
	free(text);
	config_free(&cfg);
}

static void test_locator_paths(void **state)
{
	static const char text[] = "{\"a\": {\"b\": [1, {\"c\": 2}]},\n \"d\": 3}";
	struct config_locator *loc = config_locate(text, sizeof(text) - 1);
	int line, col;

	(void)state;
	assert_int_equal(config_locator_find(loc, "a.b[1].c", &line, &col), 0);
	assert_int_equal(line, 1);
	assert_int_equal(col, 18);
	assert_int_equal(config_locator_find(loc, "d", &line, &col), 0);
	assert_int_equal(line, 2);
	assert_int_equal(col, 2);
	assert_int_equal(config_locator_find(loc, "zz", &line, &col), -1);
	config_locator_free(loc);
}

/* The text as config_load reads a file: exactly its bytes, no NUL after them (ASan sees a read
 * past the end), and only what is inside len is indexed. */
static void test_locator_stops_at_len(void **state)
{
	static const char text[] = "{\"a\": {\"b\": 1}}{\"c\": 2}";
	size_t len = strlen("{\"a\": {\"b\": 1}}");
	char *buf = malloc(len);
	struct config_locator *loc;
	int line, col;

	(void)state;
	assert_non_null(buf);
	memcpy(buf, text, len);
	loc = config_locate(buf, len);
	assert_int_equal(config_locator_find(loc, "a.b", &line, &col), 0);
	assert_int_equal(col, 8);
	assert_int_equal(config_locator_find(loc, "c", &line, &col), -1);
	config_locator_free(loc);
	free(buf);
}

static void test_schema_defaults_are_valid(void **state)
{
	(void)state;
	/* Every default must parse and pass its own key's checks. */
	for (const struct config_key *k = config_schema; k->path; k++) {
		if (!k->defval)
			continue;
		json_t *v = json_loads(k->defval, JSON_DECODE_ANY, NULL);

		assert_non_null(v);
		json_decref(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_fill_an_empty_object),
		cmocka_unit_test(test_values_override_defaults),
		cmocka_unit_test(test_syntax_error_has_line_and_column),
		cmocka_unit_test(test_unknown_nested_key_is_located),
		cmocka_unit_test(test_wrong_type_and_range_are_all_reported),
		cmocka_unit_test(test_array_items_are_checked),
		cmocka_unit_test(test_clock_is_refused_in_live_mode),
		cmocka_unit_test(test_bad_timestamp_and_relations),
		cmocka_unit_test(test_duplicate_keys_and_non_objects_are_refused),
		cmocka_unit_test(test_missing_file_is_an_error),
		cmocka_unit_test(test_listen_must_be_bindable),
		cmocka_unit_test(test_accounts_are_checked_without_quoting_them),
		cmocka_unit_test(test_strategy_section_is_checked),
		cmocka_unit_test(test_user_must_exist_and_not_be_root),
		cmocka_unit_test(test_nul_byte_and_directory),
		cmocka_unit_test(test_each_role_gets_its_share),
		cmocka_unit_test(test_locator_paths),
		cmocka_unit_test(test_locator_stops_at_len),
		cmocka_unit_test(test_schema_defaults_are_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
