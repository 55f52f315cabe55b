/* The Prometheus text format: label values escaped (\\, \", \n) and never cut in half, HELP
 * escaped, values spelt as Prometheus reads them, and a /metrics page from a METRICS answer. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "workers/api_metrics.h"
#include "workers/prom_text.h"

static void test_label_escaping(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(prom_escape_label("plain", out, sizeof(out)), 5);
	assert_string_equal(out, "plain");
	assert_int_equal(prom_escape_label("a\\b\"c\nd", out, sizeof(out)), 10);
	assert_string_equal(out, "a\\\\b\\\"c\\nd");
	/* Too small: whole escapes only, the needed length still returned. */
	assert_int_equal(prom_escape_label("ab\"", out, 4), 4);
	assert_string_equal(out, "ab");
	assert_int_equal(prom_escape_label("x", NULL, 0), 1);
	assert_int_equal(prom_escape_label("", out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

static void test_family_and_samples(void **state)
{
	struct prom_buf b = {0};
	struct prom_label l[2] = {{"url", "http://h/\"x\"\\"}, {"code", "429"}};

	(void)state;
	prom_family(&b, "tradingd_x_total", "counter", "a\\b\nc");
	prom_sample(&b, "tradingd_x_total", l, 2, 3);
	prom_sample(&b, "tradingd_x_total", NULL, 0, 0.25);
	prom_sample(&b, "tradingd_x_total", l + 1, 1, NAN);
	prom_sample(&b, "tradingd_x_total", l + 1, 1, -INFINITY);
	prom_sample(&b, "tradingd_x_total", NULL, 0, 0.05);
	prom_sample(&b, "tradingd_x_total", NULL, 0, 1e300);
	assert_false(b.failed);
	assert_string_equal(b.text,
			    "# HELP tradingd_x_total a\\\\b\\nc\n"
			    "# TYPE tradingd_x_total counter\n"
			    "tradingd_x_total{url=\"http://h/\\\"x\\\"\\\\\",code=\"429\"} 3\n"
			    "tradingd_x_total 0.25\n"
			    "tradingd_x_total{code=\"429\"} NaN\n"
			    "tradingd_x_total{code=\"429\"} -Inf\n"
			    "tradingd_x_total 0.05\n"
			    "tradingd_x_total 1e+300\n");
	prom_buf_free(&b);
}

static void test_a_long_value_grows_the_buffer(void **state)
{
	struct prom_buf b = {0};
	char big[10000];
	struct prom_label l = {"v", big};

	(void)state;
	memset(big, '"', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	prom_sample(&b, "m", &l, 1, 1);
	assert_false(b.failed);
	assert_int_equal(b.len, strlen("m{v=\"\"} 1\n") + 2 * (sizeof(big) - 1));
	prom_buf_free(&b);
}

static void test_page_from_a_metrics_answer(void **state)
{
	const char *answer =
		"{\"daemon\":{\"version\":\"0.2.0\",\"mode\":\"sim\",\"uptime_s\":5},"
		"\"processes\":[{\"name\":\"market-data\",\"state\":\"RUNNING\",\"pid\":7,"
		"\"restarts\":2,\"sampled\":true,\"cpu_seconds\":1.5,\"rss_bytes\":4096,\"fds\":9,"
		"\"uptime_s\":4},{\"name\":\"strategy\",\"state\":\"FATAL\",\"pid\":0,"
		"\"restarts\":6,\"sampled\":false,\"cpu_seconds\":0,\"rss_bytes\":0,\"fds\":0,"
		"\"uptime_s\":0}],"
		"\"workers\":{\"market-data\":{\"markets\":{\"KRW-BTC\":{\"stale\":true}},"
		"\"counters\":{\"ticker_ok\":11,\"ticker_failed\":1},"
		"\"upbit\":{\"groups\":{\"ticker\":{\"queued\":0,\"tokens\":9.5,\"n_429\":3,"
		"\"n_418\":0,\"blocked_by_418\":false,\"breakers\":[{\"url\":\"http://a\","
		"\"state\":\"open\",\"successes\":20,\"failures\":4,\"opened\":1}]}}}}},"
		"\"system\":{\"sampled\":false},\"jobs\":{\"ok\":1,\"transient\":0,\"permanent\":2}"
		","
		"\"db\":{\"alerts\":{\"warning\":3},\"alerts_undelivered\":{\"all\":1},"
		"\"fills\":{\"bid\":4}}}";
	struct api_counters c = {.requests_ok = 5};
	struct prom_buf b = {0};
	json_t *m = json_loads(answer, 0, NULL);

	(void)state;
	assert_non_null(m);
	api_metrics_text(m, &c, &b);
	json_decref(m);
	assert_false(b.failed);
	assert_non_null(strstr(b.text, "tradingd_process_up{process=\"market-data\"} 1\n"));
	assert_non_null(strstr(b.text, "tradingd_process_up{process=\"strategy\"} 0\n"));
	assert_non_null(
		strstr(b.text, "tradingd_process_state{process=\"strategy\",state=\"FATAL\"} 1\n"));
	assert_non_null(strstr(b.text, "tradingd_process_cpu_seconds_total{process=\"market-data\"}"
				       " 1.5\n"));
	/* Not sampled: no resource samples for it, rather than a false 0. */
	assert_null(strstr(b.text, "tradingd_process_resident_memory_bytes{process=\"strategy\"}"));
	assert_non_null(strstr(b.text,
			       "tradingd_exchange_requests_total{worker=\"market-data\","
			       "group=\"ticker\",base_url=\"http://a\",result=\"failure\"} 4\n"));
	assert_non_null(strstr(b.text, "tradingd_exchange_breaker_open{worker=\"market-data\","
				       "group=\"ticker\",base_url=\"http://a\"} 1\n"));
	assert_non_null(strstr(b.text,
			       "tradingd_exchange_rate_limited_total{worker=\"market-data\","
			       "group=\"ticker\",code=\"429\"} 3\n"));
	assert_non_null(strstr(b.text, "tradingd_market_data_stale{market=\"KRW-BTC\"} 1\n"));
	assert_non_null(strstr(b.text, "tradingd_jobs_total{result=\"permanent\"} 2\n"));
	assert_non_null(strstr(b.text, "tradingd_alerts_total{severity=\"warning\"} 3\n"));
	assert_non_null(strstr(b.text, "tradingd_api_requests_total{code=\"200\"} 5\n"));
	/* The system was not sampled yet: no system samples. */
	assert_null(strstr(b.text, "tradingd_system_load1"));
	/* Each family once, its samples together: no TYPE line repeated. */
	{
		const char *t = strstr(b.text, "# TYPE tradingd_exchange_requests_total counter");

		assert_non_null(t);
		assert_null(strstr(t + 1, "# TYPE tradingd_exchange_requests_total "));
	}
	prom_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_family_and_samples),
		cmocka_unit_test(test_a_long_value_grows_the_buffer),
		cmocka_unit_test(test_page_from_a_metrics_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
