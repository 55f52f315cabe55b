/* The cron module: a table of expressions, zones and instants with their next fires (DST gaps
 * and overlaps under each policy), the parse errors, long walks, and a brute-force check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/cron.h"
#include "common/tzone.h"

#define SKIP CRON_GAP_SKIP
#define LATE CRON_GAP_RUN_LATE
#define ONCE CRON_OVERLAP_ONCE
#define BOTH CRON_OVERLAP_BOTH

static int64_t iso(const char *text)
{
	int64_t ms = 0;

	if (clock_parse_iso8601(text, 0, &ms) < 0)
		fail_msg("bad instant in the table: %s", text);
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

static void parse_ok(struct cron_expr *e, const char *text)
{
	char err[256] = "";

	if (cron_parse(e, text, err, sizeof(err)) < 0)
		fail_msg("\"%s\": %s", text, err);
}

/* Successive fires from after; "never" expects -1. All instants are UTC. */
struct row {
	const char *zone, *expr, *after;
	enum cron_gap gap;
	enum cron_overlap overlap;
	const char *fires[5];
};

/* Rows marked [sd] were cross-checked at development time with systemd-analyze (257), e.g.
 *   systemd-analyze calendar --iterations=3 --base-time="2026-12-01 00:00:00 UTC" \
 *     "Mon..Fri *-*-* 09:00:00 Asia/Seoul"
 * systemd skips a local time in a gap and fires once in an overlap: our SKIP/ONCE. */
static const struct row rows[] = {
	/* [sd] Seoul has no DST: 09:00 KST is 00:00 UTC; weekdays only. */
	{"Asia/Seoul",
	 "0 9 * * 1-5",
	 "2026-12-01T00:00:00Z",
	 SKIP,
	 ONCE,
	 {"2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z", "2026-12-04T00:00:00Z"}},
	{"Asia/Seoul",
	 "0 9 * * MON-FRI",
	 "2026-12-04T00:00:00Z",
	 SKIP,
	 ONCE, /* [sd] */
	 {"2026-12-07T00:00:00Z", "2026-12-08T00:00:00Z", "2026-12-09T00:00:00Z"}},
	{"Asia/Seoul",
	 "*/15 * * * *",
	 "2026-12-01T21:00:00Z",
	 SKIP,
	 ONCE, /* [sd] */
	 {"2026-12-01T21:15:00Z", "2026-12-01T21:30:00Z", "2026-12-01T21:45:00Z",
	  "2026-12-01T22:00:00Z"}},
	/* [sd] dom '*' so the day fields AND: weekends of the first quarter. */
	{"Asia/Seoul",
	 "0 12 * JAN-MAR SAT,SUN",
	 "2026-01-01T00:00:00Z",
	 SKIP,
	 ONCE,
	 {"2026-01-03T03:00:00Z", "2026-01-04T03:00:00Z", "2026-01-10T03:00:00Z"}},
	{"Asia/Seoul",
	 "30 0 9 * * *",
	 "2026-12-01T00:00:00Z",
	 SKIP,
	 ONCE,
	 {"2026-12-01T00:00:30Z", "2026-12-02T00:00:30Z"}},
	{"Asia/Seoul",
	 "@daily",
	 "2026-12-01T21:19:35Z",
	 SKIP,
	 ONCE,
	 {"2026-12-02T15:00:00Z", "2026-12-03T15:00:00Z"}},
	/* [sd] Month ends: the 31st is skipped in 30-day months and February. */
	{"UTC",
	 "0 0 31 * *",
	 "2026-04-01T00:00:00Z",
	 SKIP,
	 ONCE,
	 {"2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z"}},
	{"UTC",
	 "0 12 31 * *",
	 "2026-01-31T12:00:00Z",
	 SKIP,
	 ONCE,
	 {"2026-03-31T12:00:00Z", "2026-05-31T12:00:00Z", "2026-07-31T12:00:00Z",
	  "2026-08-31T12:00:00Z", "2026-10-31T12:00:00Z"}},
	/* [sd] Feb 29: every four years; 2100 is not a leap year (8 years). */
	{"UTC",
	 "0 0 29 2 *",
	 "2026-10-24T00:00:00Z",
	 SKIP,
	 ONCE,
	 {"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
	{"UTC", "0 0 29 2 *", "2096-03-01T00:00:00Z", SKIP, ONCE, {"2104-02-29T00:00:00Z"}},
	{"UTC", "0 0 30 2 *", "2026-01-01T00:00:00Z", SKIP, ONCE, {"never"}},
	{"UTC", "0 0 31 4,6,9,11 *", "2026-01-01T00:00:00Z", SKIP, ONCE, {"never"}},
	/* Steps and lists. */
	{"UTC",
	 "5-20/5,50 */6 * * *",
	 "2026-01-01T00:00:00Z",
	 SKIP,
	 ONCE,
	 {"2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z", "2026-01-01T00:15:00Z",
	  "2026-01-01T00:20:00Z", "2026-01-01T00:50:00Z"}},
	{"UTC",
	 "5-20/5,50 */6 * * *",
	 "2026-01-01T00:50:00Z",
	 SKIP,
	 ONCE,
	 {"2026-01-01T06:05:00Z"}},
	{"UTC",
	 "0 0-23/8 * * *",
	 "2026-01-01T00:00:00Z",
	 SKIP,
	 ONCE,
	 {"2026-01-01T08:00:00Z", "2026-01-01T16:00:00Z", "2026-01-02T00:00:00Z"}},
	/* Names, any case. */
	{"UTC",
	 "0 0 1 jan,Jul *",
	 "2026-03-01T00:00:00Z",
	 SKIP,
	 ONCE,
	 {"2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z", "2027-07-01T00:00:00Z"}},
	/* Both day fields restricted: either matches (Mondays, and the 1st, a Tuesday). */
	{"UTC",
	 "0 0 1 * MON",
	 "2026-11-25T00:00:00Z",
	 SKIP,
	 ONCE,
	 {"2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z", "2026-12-07T00:00:00Z",
	  "2026-12-14T00:00:00Z"}},
	/* Vixie: a dom starting with '*' (even a step of 2 on it) makes the day fields AND: odd Mondays. */
	{"UTC",
	 "0 0 */2 * MON",
	 "2026-11-01T00:00:00Z",
	 SKIP,
	 ONCE,
	 {"2026-11-09T00:00:00Z", "2026-11-23T00:00:00Z", "2026-12-07T00:00:00Z",
	  "2026-12-21T00:00:00Z"}},
	/* 7 is Sunday, as is 0; 2026-11-01 is a Sunday. */
	{"UTC",
	 "0 0 * * 7",
	 "2026-11-01T00:00:00Z",
	 SKIP,
	 ONCE,
	 {"2026-11-08T00:00:00Z", "2026-11-15T00:00:00Z"}},
	{"UTC",
	 "0 0 * * 5-7",
	 "2026-11-01T00:00:00Z",
	 SKIP,
	 ONCE,
	 {"2026-11-06T00:00:00Z", "2026-11-07T00:00:00Z", "2026-11-08T00:00:00Z",
	  "2026-11-13T00:00:00Z"}},
	{"UTC", "59 23 31 12 *", "2026-12-31T23:59:00Z", SKIP, ONCE, {"2027-12-31T23:59:00Z"}},
	{"UTC", "0 0 1 1 *", "1969-12-31T23:59:59Z", SKIP, ONCE, {"1970-01-01T00:00:00Z"}},
	/* [sd] Six fields: seconds. */
	{"Europe/Berlin",
	 "*/20 * * * * *",
	 "2026-12-01T00:00:00Z",
	 SKIP,
	 ONCE,
	 {"2026-12-01T00:00:20Z", "2026-12-01T00:00:40Z", "2026-12-01T00:01:00Z"}},
	/* Macros. */
	{"UTC", "@hourly", "2026-12-01T21:19:35Z", SKIP, ONCE, {"2026-12-01T22:00:00Z"}},
	{"UTC", "@midnight", "2026-12-01T21:19:35Z", SKIP, ONCE, {"2026-12-02T00:00:00Z"}},
	{"UTC", "@weekly", "2026-12-01T21:19:35Z", SKIP, ONCE, {"2026-12-06T00:00:00Z"}},
	{"UTC", "@monthly", "2026-12-01T21:19:35Z", SKIP, ONCE, {"2027-01-01T00:00:00Z"}},
	{"UTC", "@yearly", "2026-12-01T21:19:35Z", SKIP, ONCE, {"2027-01-01T00:00:00Z"}},
	{"UTC", "@annually", "2027-01-01T00:00:00Z", SKIP, ONCE, {"2028-01-01T00:00:00Z"}},

	/* New York, spring forward 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00 UTC). */
	{"America/New_York",
	 "30 2 * * *",
	 "2026-03-07T12:00:00Z",
	 SKIP,
	 ONCE, /* [sd] */
	 {"2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z", "2026-03-11T06:30:00Z"}},
	{"America/New_York",
	 "30 2 * * *",
	 "2026-03-07T12:00:00Z",
	 LATE,
	 ONCE,
	 {"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"}},
	{"America/New_York",
	 "0 9 * * *",
	 "2026-03-07T12:00:00Z",
	 SKIP,
	 ONCE, /* [sd] */
	 {"2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z"}},
	/* Run late: 02:00, 02:30 and 03:00 all land on 07:00 UTC and fire once there. */
	{"America/New_York",
	 "0,30 2,3 * * *",
	 "2026-03-08T06:00:00Z",
	 LATE,
	 ONCE,
	 {"2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z", "2026-03-09T06:00:00Z"}},
	/* New York, fall back 2026-11-01: 01:00-01:59 happen at 05:xx EDT and 06:xx EST. */
	{"America/New_York",
	 "30 1 * * *",
	 "2026-10-31T12:00:00Z",
	 SKIP,
	 ONCE, /* [sd] */
	 {"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z", "2026-11-03T06:30:00Z"}},
	{"America/New_York",
	 "30 1 * * *",
	 "2026-10-31T12:00:00Z",
	 SKIP,
	 BOTH,
	 {"2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-02T06:30:00Z"}},
	{"America/New_York",
	 "*/30 1-2 * * *",
	 "2026-11-01T05:00:00Z",
	 SKIP,
	 BOTH,
	 {"2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z",
	  "2026-11-01T07:00:00Z", "2026-11-01T07:30:00Z"}},
	{"America/New_York",
	 "*/30 1-2 * * *",
	 "2026-11-01T05:00:00Z",
	 SKIP,
	 ONCE,
	 {"2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:30:00Z",
	  "2026-11-02T06:00:00Z"}},
	/* From inside the overlap (01:40 EST, second pass), 01:45 EDT is not in the future. */
	{"America/New_York",
	 "45 1 * * *",
	 "2026-11-01T06:40:00Z",
	 SKIP,
	 BOTH,
	 {"2026-11-01T06:45:00Z", "2026-11-02T06:45:00Z"}},
	/* After 01:50 EDT the first instant to come is 01:00 EST, earlier in UTC than 02:00. */
	{"America/New_York",
	 "0 1,2 * * *",
	 "2026-11-01T05:50:00Z",
	 SKIP,
	 BOTH,
	 {"2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z", "2026-11-02T06:00:00Z"}},

	/* Berlin, spring forward 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00 UTC). */
	{"Europe/Berlin",
	 "30 2 * * *",
	 "2026-03-28T12:00:00Z",
	 SKIP,
	 ONCE, /* [sd] */
	 {"2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z", "2026-04-01T00:30:00Z"}},
	{"Europe/Berlin",
	 "30 2 * * *",
	 "2026-03-28T12:00:00Z",
	 LATE,
	 ONCE,
	 {"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
	{"Europe/Berlin",
	 "0,30 2 * * *",
	 "2026-03-29T00:00:00Z",
	 LATE,
	 BOTH,
	 {"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-30T00:30:00Z"}},
	{"Europe/Berlin",
	 "0 3 * * *",
	 "2026-03-29T00:00:00Z",
	 SKIP,
	 ONCE,
	 {"2026-03-29T01:00:00Z", "2026-03-30T01:00:00Z"}},
	/* Berlin, fall back 2026-10-25: 02:00-02:59 happen at 00:xx CEST and 01:xx CET. */
	{"Europe/Berlin",
	 "30 2 * * *",
	 "2026-10-24T12:00:00Z",
	 SKIP,
	 ONCE, /* [sd] */
	 {"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z"}},
	{"Europe/Berlin",
	 "0 2 * * *",
	 "2026-10-24T12:00:00Z",
	 SKIP,
	 BOTH,
	 {"2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-26T01:00:00Z"}},
	{"Europe/Berlin",
	 "30 2 * * *",
	 "2026-10-25T01:00:00Z",
	 SKIP,
	 ONCE,
	 {"2026-10-26T01:30:00Z"}},
	{"Europe/Berlin",
	 "30 2 * * *",
	 "2026-10-25T01:00:00Z",
	 SKIP,
	 BOTH,
	 {"2026-10-25T01:30:00Z", "2026-10-26T01:30:00Z"}},
	{"Europe/Berlin",
	 "0 9 * * *",
	 "2026-10-24T12:00:00Z",
	 SKIP,
	 ONCE, /* [sd] */
	 {"2026-10-25T08:00:00Z", "2026-10-26T08:00:00Z", "2026-10-27T08:00:00Z"}},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct tzone *z = load(r->zone);
		struct cron_expr e;
		int64_t t = iso(r->after);

		parse_ok(&e, r->expr);
		for (int k = 0; k < 5 && r->fires[k]; k++) {
			int64_t want = strcmp(r->fires[k], "never") == 0 ? -1 : iso(r->fires[k]);
			int64_t got = cron_next(&e, z, t, r->gap, r->overlap);

			if (got != want) {
				char buf[32] = "-1";

				if (got >= 0)
					clock_format(got * 1000, 0, buf, sizeof(buf));
				fail_msg("row %zu \"%s\" in %s, fire %d: got %s, want %s", i,
					 r->expr, r->zone, k + 1, buf, r->fires[k]);
			}
			t = got;
		}
		tzone_free(z);
	}
}

/* The host's zone plays no part: the same table under a far-away TZ (and a bogus one, which
 * glibc would silently take for UTC). */
static void test_table_whatever_host_tz(void **state)
{
	static const char *const host_zones[] = {"Pacific/Kiritimati", "America/St_Johns",
						 "No/Such_Zone"};

	for (size_t i = 0; i < sizeof(host_zones) / sizeof(host_zones[0]); i++) {
		setenv("TZ", host_zones[i], 1);
		tzset();
		test_table(state);
	}
	unsetenv("TZ");
	tzset();
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *expr, *message;
	} bad[] = {
		{"0 25 * * *", "field 2 (hour): 25 is out of range 0-23"},
		{"60 * * * *", "field 1 (minute): 60 is out of range 0-59"},
		{"* * 0 * *", "field 3 (day of month): 0 is out of range 1-31"},
		{"* * 32 * *", "field 3 (day of month): 32 is out of range 1-31"},
		{"* * * 13 *", "field 4 (month): 13 is out of range 1-12"},
		{"* * * 0 *", "field 4 (month): 0 is out of range 1-12"},
		{"* * * * 8", "field 5 (day of week): 8 is out of range 0-7"},
		{"60 * * * * *", "field 1 (second): 60 is out of range 0-59"},
		{"0 0 0 * * 9", "field 6 (day of week): 9 is out of range 0-7"},
		{"99999999999 * * * *", "field 1 (minute): 99999999999 is out of range 0-59"},
		{"* * *", "expected 5 or 6 fields, got 3"},
		{"* * * * * * *", "expected 5 or 6 fields, got 7"},
		{"", "expected 5 or 6 fields, got 0"},
		{"   ", "expected 5 or 6 fields, got 0"},
		{"5-1 * * * *", "field 1 (minute): range 5-1 is reversed"},
		{"*/0 * * * *", "field 1 (minute): step 0 is out of range 1-59"},
		{"* */24 * * *", "field 2 (hour): step 24 is out of range 1-23"},
		{"5/10 * * * *", "field 1 (minute): a step needs a range or '*' (column 2)"},
		{"*/ * * * *", "field 1 (minute): a step needs a number at column 3"},
		{"* * * FOO *", "field 4 (month): unknown name 'FOO' at column 7"},
		{"* * * * MONDAY", "field 5 (day of week): unknown name 'MONDAY' at column 9"},
		{"* * * * JAN", "field 5 (day of week): unknown name 'JAN' at column 9"},
		{"* JAN * * *", "field 2 (hour): unknown name 'JAN' at column 3"},
		{"1,,2 * * * *", "field 1 (minute): unexpected ',' at column 3"},
		{"1, * * * *", "field 1 (minute): a value is missing at column 3"},
		{"1-* * * * *", "field 1 (minute): unexpected '*' at column 3"},
		{"1-2-3 * * * *", "field 1 (minute): unexpected '-' at column 4"},
		{"0 0 * * MON-", "field 5 (day of week): a value is missing at column 13"},
		{"0 0 1.5 * *", "field 3 (day of month): unexpected '.' at column 6"},
		{"@reboot", "unknown macro '@reboot' (known: @hourly @daily @midnight @weekly "
			    "@monthly @yearly @annually)"},
		{"@daily 5", "unknown macro '@daily' (known: @hourly @daily @midnight @weekly "
			     "@monthly @yearly @annually)"},
	};
	struct cron_expr e;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (cron_parse(&e, bad[i].expr, err, sizeof(err)) != -1)
			fail_msg("\"%s\" accepted", bad[i].expr);
		if (strcmp(err, bad[i].message) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", bad[i].expr, err,
				 bad[i].message);
	}
	assert_int_equal(cron_parse(&e, NULL, err, sizeof(err)), -1);
	/* Tabs and surrounding blanks are fine; so is a tiny error buffer. */
	parse_ok(&e, "\t0  9 * *\tmon-fri ");
	assert_int_equal(e.dow, 0x3e);
	assert_int_equal(cron_parse(&e, "0 25 * * *", err, 8), -1);
	assert_int_equal(strlen(err), 7);
}

static void test_parsed_bits(void **state)
{
	struct cron_expr e;

	(void)state;
	parse_ok(&e, "*/15 9-17/4 1,15 JAN-MAR,dec 0,7");
	assert_int_equal(e.sec, 1);
	assert_int_equal(e.min, 1ULL << 0 | 1ULL << 15 | 1ULL << 30 | 1ULL << 45);
	assert_int_equal(e.hour, 1u << 9 | 1u << 13 | 1u << 17);
	assert_int_equal(e.dom, 1u << 1 | 1u << 15);
	assert_int_equal(e.mon, 1u << 1 | 1u << 2 | 1u << 3 | 1u << 12);
	assert_int_equal(e.dow, 1);
	assert_int_equal(e.flags, 0);
	parse_ok(&e, "* * * * * *");
	assert_int_equal(e.sec, (1ULL << 60) - 1);
	assert_int_equal(e.dom, 0xfffffffeu);
	assert_int_equal(e.dow, 0x7f);
	assert_int_equal(e.flags, CRON_DOM_STAR | CRON_DOW_STAR);
}

/* Count the fires of a year and check they strictly increase: a loop or a repeat fails. */
static int count_fires(const char *zone, const char *expr, enum cron_gap gap,
		       enum cron_overlap overlap)
{
	struct tzone *z = load(zone);
	struct cron_expr e;
	int64_t t = iso("2025-12-31T23:59:59Z") - 14 * 3600, end = iso("2027-01-01T00:00:00Z");
	int n = 0;

	parse_ok(&e, expr);
	/* Count by local year 2026: start before it in every zone, stop at its end. */
	for (;;) {
		int64_t next = cron_next(&e, z, t, gap, overlap);
		int64_t y;
		unsigned m, d;

		assert_true(next > t);
		clock_civil_from_days((next + tzone_offset(z, next)) / 86400, &y, &m, &d);
		if (y > 2026 || next > end + 86400)
			break;
		if (y == 2026)
			n++;
		t = next;
	}
	tzone_free(z);
	return n;
}

static void test_year_walks(void **state)
{
	(void)state;
	assert_int_equal(count_fires("America/New_York", "30 1 * * *", SKIP, ONCE), 365);
	assert_int_equal(count_fires("America/New_York", "30 1 * * *", SKIP, BOTH), 366);
	assert_int_equal(count_fires("America/New_York", "30 2 * * *", SKIP, ONCE), 364);
	assert_int_equal(count_fires("America/New_York", "30 2 * * *", LATE, ONCE), 365);
	assert_int_equal(count_fires("Europe/Berlin", "30 2 * * *", SKIP, BOTH), 365);
	assert_int_equal(count_fires("Europe/Berlin", "30 2 * * *", LATE, BOTH), 366);
	assert_int_equal(count_fires("Europe/Berlin", "*/10 2 * * *", SKIP, ONCE), 364 * 6);
	assert_int_equal(count_fires("Europe/Berlin", "*/10 2 * * *", SKIP, BOTH), 364 * 6 + 6);
	/* Hourly in New York: 8760 hours, less the hour skipped, and the repeat once or twice. */
	assert_int_equal(count_fires("America/New_York", "0 * * * *", SKIP, ONCE), 8759);
	assert_int_equal(count_fires("America/New_York", "0 * * * *", SKIP, BOTH), 8760);
	assert_int_equal(count_fires("Asia/Seoul", "0 9 * * MON-FRI", SKIP, ONCE), 261);
	assert_int_equal(count_fires("UTC", "0 0 13 * FRI", SKIP, ONCE), 52 + 12 - 3);
}

/* Minute by minute over the days around each 2026 transition, cron_next agrees with a naive
 * check of every UTC minute (its local time matches, and it is that time's first instant,
 * or the second too with BOTH). */
static int naive_fires(const struct cron_expr *e, const struct tzone *z, int64_t u,
		       enum cron_overlap overlap)
{
	int64_t local = u + tzone_offset(z, u), days = local / 86400, out[2], y;
	int sod = (int)(local % 86400), dow = (int)((days + 4) % 7), dom_ok, dow_ok, n;
	unsigned m, d;

	clock_civil_from_days(days, &y, &m, &d);
	dom_ok = (e->dom >> d) & 1;
	dow_ok = (e->dow >> dow) & 1;
	if (!((e->sec >> (sod % 60)) & 1) || !((e->min >> (sod / 60 % 60)) & 1) ||
	    !((e->hour >> (sod / 3600)) & 1) || !((e->mon >> m) & 1))
		return 0;
	if ((e->flags & (CRON_DOM_STAR | CRON_DOW_STAR)) ? !(dom_ok && dow_ok)
							 : !(dom_ok || dow_ok))
		return 0;
	n = tzone_to_utc(z, local, out);
	return out[0] == u || (n == 2 && overlap == CRON_OVERLAP_BOTH && out[1] == u);
}

static void test_brute_force_around_transitions(void **state)
{
	static const char *const exprs[] = {
		"* * * * *", "*/7 * * * *", "0,15,59 0-3 * * *", "30 1,2 * * *",   "*/20 1-2 * * 0",
		"0 2 8 3 *", "5 1 1 11 *",  "0 0-5/2 * * SUN",	 "59 0,1,2 * * *", "0 3 * * 1-5",
	};
	static const struct {
		const char *zone, *from;
	} spans[] = {
		{"America/New_York", "2026-03-07T00:00:00Z"},
		{"America/New_York", "2026-10-31T00:00:00Z"},
		{"Europe/Berlin", "2026-03-28T00:00:00Z"},
		{"Europe/Berlin", "2026-10-24T00:00:00Z"},
	};

	(void)state;
	for (size_t s = 0; s < sizeof(spans) / sizeof(spans[0]); s++) {
		struct tzone *z = load(spans[s].zone);

		for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++)
			for (int ov = ONCE; ov <= BOTH; ov++) {
				struct cron_expr e;
				int64_t from = iso(spans[s].from), to = from + 3 * 86400;
				int64_t t = from;

				parse_ok(&e, exprs[i]);
				for (int64_t u = from + 60; u <= to; u += 60) {
					if (!naive_fires(&e, z, u, (enum cron_overlap)ov))
						continue;
					int64_t got =
						cron_next(&e, z, t, SKIP, (enum cron_overlap)ov);
					if (got != u)
						fail_msg("%s \"%s\" ov %d after %lld: got %lld, "
							 "want %lld",
							 spans[s].zone, exprs[i], ov, (long long)t,
							 (long long)got, (long long)u);
					t = u;
				}
			}
		tzone_free(z);
	}
}

static void test_bad_arguments(void **state)
{
	struct tzone *z = load("UTC");
	struct cron_expr e;

	(void)state;
	parse_ok(&e, "* * * * *");
	assert_int_equal(cron_next(NULL, z, 0, SKIP, ONCE), -1);
	assert_int_equal(cron_next(&e, NULL, 0, SKIP, ONCE), -1);
	assert_int_equal(cron_next(&e, z, INT64_MAX, SKIP, ONCE), -1);
	assert_int_equal(cron_next(&e, z, INT64_MIN, SKIP, ONCE), -1);
	assert_int_equal(cron_parse(&e, "bad", NULL, 0), -1);
	assert_int_equal(cron_parse(&e, "* * * * 9", NULL, 100), -1);
	memset(&e, 0, sizeof(e)); /* an expression that was never parsed */
	assert_int_equal(cron_next(&e, z, 0, SKIP, ONCE), -1);
	tzone_free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_whatever_host_tz),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parsed_bits),
		cmocka_unit_test(test_year_walks),
		cmocka_unit_test(test_brute_force_around_transitions),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
