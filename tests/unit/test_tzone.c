/* The tzone module: real zone files (Seoul, New York, Berlin, UTC), footer rules from files
 * written here, local-to-UTC answers in gaps and overlaps, and the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/tzone.h"

/* "2026-03-08T07:00:00Z" as seconds; local civil times are written with a Z as well. */
static int64_t iso(const char *text)
{
	int64_t ms = 0;

	assert_int_equal(clock_parse_iso8601(text, 0, &ms), 0);
	return ms / 1000;
}

static struct tzone *load(const char *name)
{
	char err[256] = "";
	struct tzone *z = tzone_load(name, err, sizeof(err));

	if (!z)
		fail_msg("%s: %s", name, err);
	return z;
}

static void test_seoul_has_no_dst(void **state)
{
	struct tzone *z = load("Asia/Seoul");
	int64_t out[2];

	(void)state;
	assert_string_equal(tzone_name(z), "Asia/Seoul");
	for (int64_t t = iso("2026-01-01T00:00:00Z"); t < iso("2027-01-01T00:00:00Z");
	     t += 3 * 3600)
		assert_int_equal(tzone_offset(z, t), 9 * 3600);
	/* Far past the table: the footer "KST-9" answers. */
	assert_int_equal(tzone_offset(z, iso("2100-07-01T00:00:00Z")), 9 * 3600);
	assert_int_equal(tzone_to_utc(z, iso("2026-12-01T09:00:00Z"), out), 1);
	assert_int_equal(out[0], iso("2026-12-01T00:00:00Z"));
	tzone_free(z);
}

static void test_utc(void **state)
{
	struct tzone *z = load("UTC");
	int64_t out[2];

	(void)state;
	assert_int_equal(tzone_offset(z, 0), 0);
	assert_int_equal(tzone_offset(z, iso("2026-07-01T12:00:00Z")), 0);
	assert_int_equal(tzone_to_utc(z, 12345, out), 1);
	assert_int_equal(out[0], 12345);
	tzone_free(z);
}

static void test_new_york_2026(void **state)
{
	struct tzone *z = load("America/New_York");
	int64_t out[2];

	(void)state;
	/* Spring forward 2026-03-08 02:00 EST = 07:00 UTC; fall back 2026-11-01 02:00 EDT. */
	assert_int_equal(tzone_offset(z, iso("2026-03-08T06:59:59Z")), -5 * 3600);
	assert_int_equal(tzone_offset(z, iso("2026-03-08T07:00:00Z")), -4 * 3600);
	assert_int_equal(tzone_offset(z, iso("2026-11-01T05:59:59Z")), -4 * 3600);
	assert_int_equal(tzone_offset(z, iso("2026-11-01T06:00:00Z")), -5 * 3600);
	/* 02:30 does not exist on 03-08; the gap ends at the transition. */
	assert_int_equal(tzone_to_utc(z, iso("2026-03-08T02:30:00Z"), out), 0);
	assert_int_equal(tzone_to_utc(z, iso("2026-03-08T02:00:00Z"), out), 0);
	assert_int_equal(tzone_gap_end(z, iso("2026-03-08T02:30:00Z")),
			 iso("2026-03-08T07:00:00Z"));
	assert_int_equal(tzone_gap_end(z, iso("2026-03-08T02:00:00Z")),
			 iso("2026-03-08T07:00:00Z"));
	assert_int_equal(tzone_to_utc(z, iso("2026-03-08T01:59:59Z"), out), 1);
	assert_int_equal(out[0], iso("2026-03-08T06:59:59Z"));
	assert_int_equal(tzone_to_utc(z, iso("2026-03-08T03:00:00Z"), out), 1);
	assert_int_equal(out[0], iso("2026-03-08T07:00:00Z"));
	/* 01:30 happens twice on 11-01: EDT first, then EST. */
	assert_int_equal(tzone_to_utc(z, iso("2026-11-01T01:30:00Z"), out), 2);
	assert_int_equal(out[0], iso("2026-11-01T05:30:00Z"));
	assert_int_equal(out[1], iso("2026-11-01T06:30:00Z"));
	assert_int_equal(tzone_to_utc(z, iso("2026-11-01T01:00:00Z"), out), 2);
	assert_int_equal(tzone_to_utc(z, iso("2026-11-01T00:59:59Z"), out), 1);
	assert_int_equal(tzone_to_utc(z, iso("2026-11-01T02:00:00Z"), out), 1);
	assert_int_equal(out[0], iso("2026-11-01T07:00:00Z"));
	/* Beyond any table (2100): the footer's rules, second Sunday of March = 03-14. */
	assert_int_equal(tzone_offset(z, iso("2100-03-14T06:59:59Z")), -5 * 3600);
	assert_int_equal(tzone_offset(z, iso("2100-03-14T07:00:00Z")), -4 * 3600);
	/* Before the zone's first transition: local mean time, -4:56:02. */
	assert_int_equal(tzone_offset(z, iso("1850-01-01T00:00:00Z")), -(4 * 3600 + 56 * 60 + 2));
	tzone_free(z);
}

static void test_berlin_2026(void **state)
{
	struct tzone *z = load("Europe/Berlin");
	int64_t out[2];

	(void)state;
	/* 2026-03-29 01:00 UTC and 2026-10-25 01:00 UTC, both last Sundays. */
	assert_int_equal(tzone_offset(z, iso("2026-03-29T00:59:59Z")), 3600);
	assert_int_equal(tzone_offset(z, iso("2026-03-29T01:00:00Z")), 7200);
	assert_int_equal(tzone_offset(z, iso("2026-10-25T00:59:59Z")), 7200);
	assert_int_equal(tzone_offset(z, iso("2026-10-25T01:00:00Z")), 3600);
	assert_int_equal(tzone_to_utc(z, iso("2026-03-29T02:59:59Z"), out), 0);
	assert_int_equal(tzone_gap_end(z, iso("2026-03-29T02:15:00Z")),
			 iso("2026-03-29T01:00:00Z"));
	assert_int_equal(tzone_to_utc(z, iso("2026-10-25T02:59:59Z"), out), 2);
	assert_int_equal(out[0], iso("2026-10-25T00:59:59Z"));
	assert_int_equal(out[1], iso("2026-10-25T01:59:59Z"));
	assert_int_equal(tzone_to_utc(z, iso("2026-10-25T03:00:00Z"), out), 1);
	assert_int_equal(out[0], iso("2026-10-25T02:00:00Z"));
	tzone_free(z);
}

/* ---- synthetic files: the footer alone decides every offset ---- */

static char tmpdir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_tzone.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* A TZif file with no transitions, one type (utoff) and the footer given. */
static size_t tzif_bytes(unsigned char *buf, char version, int32_t utoff, const char *footer)
{
	size_t n = 0;

	for (int block = 0; block < (version == '1' ? 1 : 2); block++) {
		memset(buf + n, 0, 44);
		memcpy(buf + n, "TZif", 4);
		buf[n + 4] = (unsigned char)version;
		put32(buf + n + 36, 1); /* typecnt */
		put32(buf + n + 40, 4); /* charcnt */
		n += 44;
		put32(buf + n, (uint32_t)utoff);
		buf[n + 4] = 0, buf[n + 5] = 0;
		memcpy(buf + n + 6, "ABC", 4);
		n += 10;
	}
	if (footer)
		n += (size_t)sprintf((char *)buf + n, "\n%s\n", footer);
	return n;
}

static void write_file(const char *name, const unsigned char *buf, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

static struct tzone *load_footer(const char *name, const char *footer)
{
	unsigned char buf[512] = {0};
	char err[256] = "";
	struct tzone *z;

	write_file(name, buf, tzif_bytes(buf, '2', 0, footer));
	z = tzone_load_dir(tmpdir, name, err, sizeof(err));
	if (!z)
		fail_msg("%s: %s", footer, err);
	return z;
}

/* The footer alone gives the same offsets as the real zone through 2026-2030, hourly. */
static void compare_with_zone(const char *zone, const char *footer)
{
	struct tzone *real = load(zone), *rule = load_footer("rule", footer);

	for (int64_t t = iso("2026-01-01T00:00:00Z"); t < iso("2031-01-01T00:00:00Z"); t += 1800)
		if (tzone_offset(real, t) != tzone_offset(rule, t))
			fail_msg("%s at %lld: %d vs %d", zone, (long long)t, tzone_offset(real, t),
				 tzone_offset(rule, t));
	tzone_free(real);
	tzone_free(rule);
}

static void test_footer_rules_match_zone_files(void **state)
{
	(void)state;
	compare_with_zone("America/New_York", "EST5EDT,M3.2.0,M11.1.0");
	compare_with_zone("Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3");
	compare_with_zone("Asia/Seoul", "KST-9");
	/* Southern hemisphere: daylight time spans the new year. */
	compare_with_zone("Australia/Sydney", "AEST-10AEDT,M10.1.0,M4.1.0/3");
}

static void test_footer_forms(void **state)
{
	struct tzone *z;

	(void)state;
	/* Angle-bracket names and minutes in the offset. */
	z = load_footer("india", "<+0530>-5:30");
	assert_int_equal(tzone_offset(z, iso("2026-06-01T00:00:00Z")), 5 * 3600 + 1800);
	tzone_free(z);
	/* Jn counts without Feb 29: J60 is always March 1st; n counts from 0 with it. */
	z = load_footer("julian", "AAA0BBB,J60/0,300/0");
	assert_int_equal(tzone_offset(z, iso("2028-02-29T23:59:59Z")), 0);
	assert_int_equal(tzone_offset(z, iso("2028-03-01T00:00:00Z")), 3600);
	/* Day 300 of leap 2028 is Oct 27 (0-based); its 00:00 on daylight time. */
	assert_int_equal(tzone_offset(z, iso("2028-10-26T22:59:59Z")), 3600);
	assert_int_equal(tzone_offset(z, iso("2028-10-26T23:00:00Z")), 0);
	tzone_free(z);
	/* An empty footer: the last type goes on for ever. */
	z = load_footer("empty", "");
	assert_int_equal(tzone_offset(z, iso("2300-01-01T00:00:00Z")), 0);
	tzone_free(z);
	/* Negative and >24 h rule times (RFC 8536): DST all year. */
	z = load_footer("allyear", "EST5EDT,0/0,J365/25");
	assert_int_equal(tzone_offset(z, iso("2026-01-01T12:00:00Z")), -4 * 3600);
	assert_int_equal(tzone_offset(z, iso("2026-07-01T12:00:00Z")), -4 * 3600);
	tzone_free(z);
}

static void test_refusals(void **state)
{
	static const char *const bad_names[] = {
		"",	 "/etc/passwd", "../etc/passwd", "Asia/../../etc/passwd", "Asia/..",
		"Asia/", ".",		"Asia//Seoul",	 "Asia/Seoul\n",	  "Asia/Se oul",
	};
	unsigned char buf[512] = {0};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		err[0] = '\0';
		assert_null(tzone_load(bad_names[i], err, sizeof(err)));
		assert_non_null(strstr(err, "not a valid zone name"));
	}
	assert_null(tzone_load(NULL, err, sizeof(err)));
	/* Unknown zones are an error, never UTC. */
	assert_null(tzone_load("Mars/Olympus_Mons", err, sizeof(err)));
	assert_string_equal(err, "time zone Mars/Olympus_Mons: no such zone "
				 "(/usr/share/zoneinfo/Mars/Olympus_Mons)");
	assert_null(tzone_load("America", err, sizeof(err)));
	assert_non_null(strstr(err, "not a zone file"));

	write_file("garbage", (const unsigned char *)"hello world", 11);
	assert_null(tzone_load_dir(tmpdir, "garbage", err, sizeof(err)));
	assert_string_equal(err, "time zone garbage: not a TZif file");

	write_file("v1", buf, tzif_bytes(buf, '1', 0, NULL));
	assert_null(tzone_load_dir(tmpdir, "v1", err, sizeof(err)));
	assert_non_null(strstr(err, "version 1"));

	size_t n = tzif_bytes(buf, '2', 0, "UTC0");
	write_file("short", buf, n - 20);
	assert_null(tzone_load_dir(tmpdir, "short", err, sizeof(err)));
	assert_non_null(strstr(err, "truncated"));
	write_file("nofooter", buf, n - 6);
	assert_null(tzone_load_dir(tmpdir, "nofooter", err, sizeof(err)));
	assert_non_null(strstr(err, "footer"));

	write_file("badoff", buf, tzif_bytes(buf, '2', 30 * 3600, "UTC0"));
	assert_null(tzone_load_dir(tmpdir, "badoff", err, sizeof(err)));
	assert_non_null(strstr(err, "bad local time type"));

	static const char *const bad_footers[] = {
		"EST",
		"ES5",
		"EST5EDT,M3.2.0",
		"EST5EDT,M13.2.0,M11.1.0",
		"EST5EDT,M3.6.0,M11.1.0",
		"EST5EDT,M3.2.7,M11.1.0",
		"EST5EDT,J0,J100",
		"EST5EDT,M3.2.0,M11.1.0x",
		"<+05-5",
		"EST25",
	};
	for (size_t i = 0; i < sizeof(bad_footers) / sizeof(bad_footers[0]); i++) {
		write_file("badfooter", buf, tzif_bytes(buf, '2', 0, bad_footers[i]));
		err[0] = '\0';
		if (tzone_load_dir(tmpdir, "badfooter", err, sizeof(err)))
			fail_msg("footer \"%s\" accepted", bad_footers[i]);
		assert_non_null(strstr(err, "cannot parse TZ footer"));
	}
}

/* Every local time of two years maps back to itself, and every instant is found. */
static void test_round_trip(void **state)
{
	static const char *const zones[] = {"America/New_York", "Europe/Berlin", "Asia/Seoul"};

	(void)state;
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		struct tzone *z = load(zones[i]);

		for (int64_t u = iso("2026-01-01T00:00:00Z"); u < iso("2028-01-01T00:00:00Z");
		     u += 900) {
			int64_t out[2], local = u + tzone_offset(z, u);
			int n = tzone_to_utc(z, local, out);

			assert_true(n == 1 || n == 2);
			assert_true(out[0] == u || (n == 2 && out[1] == u));
			for (int k = 0; k < n; k++)
				assert_int_equal(out[k] + tzone_offset(z, out[k]), local);
		}
		tzone_free(z);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seoul_has_no_dst),
		cmocka_unit_test(test_utc),
		cmocka_unit_test(test_new_york_2026),
		cmocka_unit_test(test_berlin_2026),
		cmocka_unit_test(test_footer_rules_match_zone_files),
		cmocka_unit_test(test_footer_forms),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
