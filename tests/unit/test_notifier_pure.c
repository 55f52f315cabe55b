/* The notifier's decisions without I/O: severity routing, storm coalescing over a window, KRW as
 * people read it in English and Korean, Telegram's per-chat and per-group limits, backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "workers/notifier_pure.h"

static void test_severity_routing(void **state)
{
	(void)state;
	assert_int_equal(notifier_severity("info"), SEVERITY_INFO);
	assert_int_equal(notifier_severity("critical"), SEVERITY_CRITICAL);
	assert_int_equal(notifier_severity("warning"), SEVERITY_WARNING);
	/* A misspelt severity is still sent where warnings go. */
	assert_int_equal(notifier_severity("crit"), SEVERITY_WARNING);
	assert_int_equal(notifier_severity(NULL), SEVERITY_WARNING);
	assert_true(notifier_routed("info", SEVERITY_INFO));
	assert_false(notifier_routed("info", SEVERITY_WARNING));
	assert_true(notifier_routed("warning", SEVERITY_WARNING));
	assert_false(notifier_routed("warning", SEVERITY_CRITICAL));
	assert_true(notifier_routed("critical", SEVERITY_CRITICAL));
}

static void test_storm_coalescing(void **state)
{
	struct storm s;
	struct storm_kind due;

	(void)state;
	storm_init(&s, 60000);
	assert_int_equal(storm_admit(&s, "crash_loop", SEVERITY_WARNING, 1, 1000), STORM_LEAD);
	/* Another kind is not part of the storm. */
	assert_int_equal(storm_admit(&s, "stale", SEVERITY_INFO, 2, 1500), STORM_LEAD);
	for (int64_t id = 3; id < 1003; id++)
		assert_int_equal(storm_admit(&s, "crash_loop", SEVERITY_WARNING, id, 2000 + id),
				 STORM_FOLD);
	assert_int_equal(storm_admit(&s, "crash_loop", SEVERITY_CRITICAL, 1003, 60999), STORM_FOLD);
	assert_int_equal(storm_next(&s), 61000);
	assert_int_equal(storm_due(&s, 60999, &due), 0);
	assert_int_equal(storm_due(&s, 61000, &due), 1);
	assert_string_equal(due.kind, "crash_loop");
	assert_int_equal(due.lead_id, 1);
	assert_int_equal(due.folded, 1001);
	assert_int_equal(due.last_folded_id, 1003);
	assert_int_equal(due.worst, SEVERITY_CRITICAL);
	/* "stale" had no repeats: freed without a summary. */
	assert_int_equal(storm_due(&s, 61500, &due), 0);
	assert_int_equal(storm_next(&s), INT64_MAX);
	/* After the summary the kind leads a new window. */
	assert_int_equal(storm_admit(&s, "crash_loop", SEVERITY_WARNING, 2000, 70000), STORM_LEAD);
	/* A window of 0 turns storm control off. */
	storm_init(&s, 0);
	assert_int_equal(storm_admit(&s, "x", SEVERITY_INFO, 1, 0), STORM_LEAD);
	assert_int_equal(storm_admit(&s, "x", SEVERITY_INFO, 2, 0), STORM_LEAD);
}

static void test_storm_window_ended_before_the_summary(void **state)
{
	struct storm s;
	struct storm_kind due;

	(void)state;
	storm_init(&s, 1000);
	assert_int_equal(storm_admit(&s, "k", SEVERITY_INFO, 1, 0), STORM_LEAD);
	assert_int_equal(storm_admit(&s, "k", SEVERITY_INFO, 2, 500), STORM_FOLD);
	/* Past the window, before storm_due ran: counted in the coming summary, not lost. */
	assert_int_equal(storm_admit(&s, "k", SEVERITY_INFO, 3, 1500), STORM_FOLD);
	assert_int_equal(storm_due(&s, 1500, &due), 1);
	assert_int_equal(due.folded, 2);
	/* Without repeats an ended window simply starts again. */
	assert_int_equal(storm_admit(&s, "k", SEVERITY_INFO, 4, 3000), STORM_LEAD);
	assert_int_equal(storm_admit(&s, "k", SEVERITY_INFO, 5, 4500), STORM_LEAD);
}

static void test_storm_table_full_lets_alerts_through(void **state)
{
	struct storm s;
	char kind[16];

	(void)state;
	storm_init(&s, 1000);
	for (int i = 0; i < STORM_KINDS + 5; i++) {
		snprintf(kind, sizeof(kind), "kind%d", i);
		assert_int_equal(storm_admit(&s, kind, SEVERITY_INFO, i + 1, 0), STORM_LEAD);
	}
	/* Kinds beyond the table are never folded. */
	assert_int_equal(storm_admit(&s, "kind70", SEVERITY_INFO, 100, 1), STORM_LEAD);
	assert_int_equal(storm_admit(&s, "kind0", SEVERITY_INFO, 101, 1), STORM_FOLD);
}

static dec8 won(int64_t krw, int64_t e8)
{
	return krw * DEC8_ONE + e8;
}

static void assert_krw(dec8 v, int locale, const char *want)
{
	char buf[64];

	notifier_format_krw(v, locale, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_krw_both_locales(void **state)
{
	(void)state;
	assert_krw(won(1234567, 0), LOCALE_EN, "1,234,567 KRW");
	assert_krw(won(1234567, 0), LOCALE_KO, "1,234,567원");
	assert_krw(0, LOCALE_EN, "0 KRW");
	assert_krw(won(999, 0), LOCALE_KO, "999원");
	assert_krw(won(1000, 0), LOCALE_EN, "1,000 KRW");
	assert_krw(won(100000, 0), LOCALE_EN, "100,000 KRW");
	/* Whole won, half away from zero. */
	assert_krw(won(1234, 50000000), LOCALE_EN, "1,235 KRW");
	assert_krw(won(1234, 49999999), LOCALE_EN, "1,234 KRW");
	assert_krw(-won(1234567, 0), LOCALE_EN, "-1,234,567 KRW");
	assert_krw(-won(1234567, 0), LOCALE_KO, "-1,234,567원");
	assert_krw(-won(0, 40000000), LOCALE_EN, "0 KRW");
	assert_krw(INT64_MAX, LOCALE_EN, "92,233,720,369 KRW");
	assert_krw(INT64_MIN, LOCALE_KO, "-92,233,720,369원");
}

static void test_volume(void **state)
{
	char buf[64];

	(void)state;
	notifier_format_volume(won(1234, 50000000), buf, sizeof(buf));
	assert_string_equal(buf, "1,234.5");
	notifier_format_volume(12345, buf, sizeof(buf));
	assert_string_equal(buf, "0.00012345");
	notifier_format_volume(won(3, 0), buf, sizeof(buf));
	assert_string_equal(buf, "3");
}

static void test_alert_text(void **state)
{
	char buf[256];

	(void)state;
	notifier_format_alert(LOCALE_EN, "critical", "crash_loop", "strategy crashed", 1, buf,
			      sizeof(buf));
	assert_string_equal(buf, "[CRITICAL] crash_loop\nstrategy crashed");
	notifier_format_alert(LOCALE_KO, "warning", "stale", "no prices", 12, buf, sizeof(buf));
	assert_string_equal(buf, "[경고] stale ×12\nno prices");
	assert_string_equal(notifier_phrase(LOCALE_KO, PH_PAUSED), "거래를 일시 중지했습니다.");
	assert_string_equal(notifier_phrase(7, PH_PAUSED), "Trading paused.");
}

static void test_utf8_clean(void **state)
{
	char ok[] = "거래 ok ×3 é", bad[] = "a\xff b\xc3 c\xe2\x82 d\xed\xa0\x80 e\xc0\xaf f";

	(void)state;
	notifier_utf8_clean(ok);
	assert_string_equal(ok, "거래 ok ×3 é");
	/* A stray byte, a cut sequence, a surrogate, an overlong form: each byte a '?'. */
	notifier_utf8_clean(bad);
	assert_string_equal(bad, "a? b? c?? d??? e?? f");
}

static void test_rate_private_chat(void **state)
{
	struct tg_rate r;

	(void)state;
	tg_rate_init(&r, "1001", 1000, 20);
	assert_int_equal(tg_rate_next(&r, 5000), 5000);
	tg_rate_sent(&r, 5000);
	assert_int_equal(tg_rate_next(&r, 5001), 6000);
	assert_int_equal(tg_rate_next(&r, 6500), 6500);
	/* A private chat has no per-minute cap. */
	for (int i = 0; i < 100; i++)
		tg_rate_sent(&r, 10000 + i * 1000);
	assert_int_equal(tg_rate_next(&r, 109000), 110000);
}

static void test_rate_group_chat(void **state)
{
	struct tg_rate r;
	int64_t t = 0;

	(void)state;
	tg_rate_init(&r, "-100200300", 1000, 20);
	for (int i = 0; i < 20; i++) {
		t = tg_rate_next(&r, t);
		assert_int_equal(t, i * 1000);
		tg_rate_sent(&r, t);
	}
	/* The 21st waits until the first of the minute is 60 s old. */
	assert_int_equal(tg_rate_next(&r, 19500), 60000);
	tg_rate_sent(&r, 60000);
	assert_int_equal(tg_rate_next(&r, 60000), 61000);
	/* The ring moves on: the 22nd may go 60 s after the second. */
	tg_rate_sent(&r, 61000);
	assert_int_equal(tg_rate_next(&r, 61000), 62000);
	tg_rate_sent(&r, 62000);
	assert_int_equal(tg_rate_next(&r, 62000), 63000);
}

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(notifier_backoff_ms(1, 1000, 300000), 1000);
	assert_int_equal(notifier_backoff_ms(2, 1000, 300000), 2000);
	assert_int_equal(notifier_backoff_ms(5, 1000, 300000), 16000);
	assert_int_equal(notifier_backoff_ms(40, 1000, 300000), 300000);
	assert_int_equal(notifier_backoff_ms(1000000, 1000, 300000), 300000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_severity_routing),
		cmocka_unit_test(test_storm_coalescing),
		cmocka_unit_test(test_storm_window_ended_before_the_summary),
		cmocka_unit_test(test_storm_table_full_lets_alerts_through),
		cmocka_unit_test(test_krw_both_locales),
		cmocka_unit_test(test_volume),
		cmocka_unit_test(test_alert_text),
		cmocka_unit_test(test_utf8_clean),
		cmocka_unit_test(test_rate_private_chat),
		cmocka_unit_test(test_rate_group_chat),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
