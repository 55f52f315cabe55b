/* Config loading: defaults, every kind of error with its file:line:column, relations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/config.h"

static int load(struct config *cfg, const char *text)
{
	return config_load_text(cfg, "t.json", text);
}

static void test_defaults_fill_an_empty_object(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "{}"), 0);
	assert_string_equal(config_str(&cfg, "mode"), "sim");
	assert_int_equal(config_int(&cfg, "supervisor.stop_timeout_ms"), 5000);
	assert_true(config_bool(&cfg, "workers.market-data.enabled"));
	assert_int_equal(json_array_size(config_get(&cfg, "market_data.markets")), 3);
	assert_null(config_get(&cfg, "clock.start"));
	config_free(&cfg);
}

static void test_values_override_defaults(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(
		load(&cfg, "{\"mode\":\"paper\",\"supervisor\":{\"stop_timeout_ms\":250}}"), 0);
	assert_string_equal(config_str(&cfg, "mode"), "paper");
	assert_int_equal(config_int(&cfg, "supervisor.stop_timeout_ms"), 250);
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
	assert_int_equal(load(&cfg, "{\"mode\":\"live\", \"exchange\": {\"keys_file\": \"/k\"},"
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
	assert_int_equal(load(&cfg, "{\"supervisor\": {\"heartbeat_interval_ms\": 2000,"
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
	assert_int_equal(config_load(&cfg, "/nonexistent/tradingd.json"), -1);
	assert_non_null(strstr(cfg.errors[0].message, "cannot open"));
	config_free(&cfg);
}

static void test_locator_paths(void **state)
{
	struct config_locator *loc = config_locate("{\"a\": {\"b\": [1, {\"c\": 2}]},\n \"d\": 3}");
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
		cmocka_unit_test(test_locator_paths),
		cmocka_unit_test(test_schema_defaults_are_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
