/* The strategy worker's arithmetic and records: the breakout target on the KRW tick grid, the
 * trading window in Asia/Seoul across days (whatever the host's TZ), the trading day, sizing
 * and the 5,000 KRW minimum, the daily loss limit, the config grammar, and the signal key that
 * makes a second entry for one signal impossible. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/strategy_conf.h"
#include "tests/unit/tmp_db.h"
#include "workers/strategy_calc.h"
#include "workers/strategy_db.h"

static dec8 D(const char *s)
{
	dec8 v;

	assert_int_equal(dec8_parse(s, &v), 0);
	return v;
}

static void assert_dec(dec8 got, const char *want)
{
	char buf[DEC8_BUF];

	dec8_format(got, buf);
	assert_string_equal(buf, want);
}

static void test_target_on_the_tick_grid(void **state)
{
	static const struct {
		const char *open, *high, *low, *k, *target;
	} rows[] = {
		{"145000000", "147500000", "143000000", "0.5", "147250000"},
		{"3100", "3200", "3077", "0.5", "3162"}, /* 3161.5 up to the 1 KRW grid */
		{"450", "460", "440", "0.5", "460"},
		{"9.99", "10.2", "9.8", "0.5", "10.19"},      /* 0.01 grid from 10 KRW */
		{"4999", "5003", "4999", "0.5", "5005"},      /* 5001 crosses onto the 5 KRW grid */
		{"0.12345", "0.13", "0.12", "0.3", "0.1265"}, /* 0.12645 up to 0.0001 */
		{"100", "100", "100", "0.5", "100"},	      /* no range: the open itself */
		{"2000000", "2100000", "1900000", "0", "2000000"},
	};
	dec8 t;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(strat_target(D(rows[i].open), D(rows[i].high), D(rows[i].low),
					      D(rows[i].k), &t),
				 0);
		assert_dec(t, rows[i].target);
	}
	assert_int_equal(strat_target(D("100"), D("90"), D("95"), D("0.5"), &t), -1);
	assert_int_equal(strat_target(0, D("90"), D("80"), D("0.5"), &t), -1);
	assert_int_equal(strat_target(D("100"), D("110"), D("90"), -1, &t), -1);
	assert_int_equal(strat_target(D("90000000000"), D("92000000000"), D("1"), D("10"), &t), -1);
}

static int64_t at(const char *iso)
{
	int64_t ms;

	assert_int_equal(clock_parse_iso8601(iso, 0, &ms), 0);
	return ms;
}

static void test_window_in_seoul_across_days(void **state)
{
	char err[128];
	struct tzone *z = tzone_load("Asia/Seoul", err, sizeof(err));
	static const char *const tz[] = {NULL, "America/New_York", "Pacific/Kiritimati", "UTC"};
	const int open = 9 * 60, close = 23 * 60;

	(void)state;
	assert_non_null(z);
	for (size_t i = 0; i < sizeof(tz) / sizeof(tz[0]); i++) {
		/* The host's TZ never matters. */
		if (tz[i])
			setenv("TZ", tz[i], 1);
		else
			unsetenv("TZ");
		assert_int_equal(
			strat_window_is_open(z, open, close, at("2026-01-05T08:59:59+09:00")), 0);
		assert_int_equal(
			strat_window_is_open(z, open, close, at("2026-01-05T09:00:00+09:00")), 1);
		assert_int_equal(strat_window_is_open(z, open, close, at("2026-01-05T00:00:00Z")),
				 1);
		assert_int_equal(
			strat_window_is_open(z, open, close, at("2026-01-05T22:59:59+09:00")), 1);
		assert_int_equal(
			strat_window_is_open(z, open, close, at("2026-01-05T23:00:00+09:00")), 0);
		assert_int_equal(strat_window_is_open(z, open, close, at("2026-01-05T15:30:00Z")),
				 0);
		assert_int_equal(
			strat_window_is_open(z, open, close, at("2026-01-06T09:00:00+09:00")), 1);
		/* A year-end and a leap day are days like the others. */
		assert_int_equal(
			strat_window_is_open(z, open, close, at("2027-12-31T23:30:00+09:00")), 0);
		assert_int_equal(
			strat_window_is_open(z, open, close, at("2028-02-29T12:00:00+09:00")), 1);
		/* A window over midnight; equal times: never open. */
		assert_int_equal(
			strat_window_is_open(z, 22 * 60, 2 * 60, at("2026-01-05T23:59:00+09:00")),
			1);
		assert_int_equal(
			strat_window_is_open(z, 22 * 60, 2 * 60, at("2026-01-06T01:59:59+09:00")),
			1);
		assert_int_equal(
			strat_window_is_open(z, 22 * 60, 2 * 60, at("2026-01-06T02:00:00+09:00")),
			0);
		assert_int_equal(strat_window_is_open(z, 600, 600, at("2026-01-06T10:00:00+09:00")),
				 0);
		assert_int_equal(
			strat_window_is_open(z, 0, 24 * 60, at("2026-01-06T00:00:00+09:00")), 1);
	}
	unsetenv("TZ");
	tzone_free(z);
}

static void test_trading_day_starts_at_nine_kst(void **state)
{
	char day[16];
	int64_t start;

	(void)state;
	strat_trading_day(at("2026-01-05T08:59:59.999+09:00"), day, &start);
	assert_string_equal(day, "2026-01-04");
	assert_true(start == at("2026-01-04T09:00:00+09:00"));
	strat_trading_day(at("2026-01-05T09:00:00+09:00"), day, &start);
	assert_string_equal(day, "2026-01-05");
	assert_true(start == at("2026-01-05T00:00:00Z"));
	strat_trading_day(at("2028-03-01T08:00:00+09:00"), day, &start);
	assert_string_equal(day, "2028-02-29");
}

static const struct strat_sizing fixed = {
	.share = 0,
	.order_krw = INT64_C(100000) * DEC8_ONE,
	.max_market = INT64_C(1000000) * DEC8_ONE,
	.max_total = INT64_C(3000000) * DEC8_ONE,
};

static void test_sizing_caps_and_minimum(void **state)
{
	struct strat_sizing share = fixed;
	const char *why = NULL;
	dec8 f;

	(void)state;
	assert_int_equal(strat_entry_funds(&fixed, 0, 0, 0, 0, &f, &why), 0);
	assert_dec(f, "100000");
	/* The balance caps it, in whole won. */
	assert_int_equal(strat_entry_funds(&fixed, D("50000.7"), 1, 0, 0, &f, &why), 0);
	assert_dec(f, "50000");
	/* Room under the market's and the total limit. */
	assert_int_equal(strat_entry_funds(&fixed, 0, 0, D("950000"), 0, &f, &why), 0);
	assert_dec(f, "50000");
	assert_int_equal(strat_entry_funds(&fixed, 0, 0, 0, D("2990000"), &f, &why), 0);
	assert_dec(f, "10000");
	/* Under 5,000 KRW after the caps: refused, and why. */
	assert_int_equal(strat_entry_funds(&fixed, D("4999.99"), 1, 0, 0, &f, &why), -1);
	assert_non_null(strstr(why, "5,000"));
	assert_int_equal(strat_entry_funds(&fixed, 0, 0, D("1000000"), 0, &f, &why), -1);
	assert_non_null(strstr(why, "no room"));
	assert_int_equal(strat_entry_funds(&fixed, 0, 0, D("995000"), 0, &f, &why), 0);
	assert_dec(f, "5000");
	/* A share of the balance. */
	share.share = 1;
	share.share_e8 = D("0.1");
	assert_int_equal(strat_entry_funds(&share, D("1234567.89"), 1, 0, 0, &f, &why), 0);
	assert_dec(f, "123456");
	assert_int_equal(strat_entry_funds(&share, 0, 0, 0, 0, &f, &why), -1);
	assert_non_null(strstr(why, "balance"));
	assert_int_equal(strat_entry_funds(&share, D("49999"), 1, 0, 0, &f, &why), -1);
}

static void test_limit_order_rounding_and_minimum(void **state)
{
	const char *why = NULL;
	dec8 p, v;

	(void)state;
	assert_int_equal(strat_limit_order(D("100000"), D("3161.5"), &p, &v, &why), 0);
	assert_dec(p, "3162");
	assert_dec(v, "31.62555344"); /* rounded down: never more than the funds */
	assert_int_equal(strat_limit_order(D("100000"), D("147250001"), &p, &v, &why), 0);
	assert_dec(p, "147251000");
	/* 5,000 KRW at 3,162: the volume rounded down makes it 4,999.99... : under the minimum. */
	assert_int_equal(strat_limit_order(D("5000"), D("3162"), &p, &v, &why), -1);
	assert_non_null(strstr(why, "minimum"));
	assert_int_equal(strat_limit_order(D("5000"), D("5000"), &p, &v, &why), 0);
	assert_dec(v, "1");
}

static void test_daily_loss_limit(void **state)
{
	(void)state;
	assert_int_equal(strat_loss_limit_hit(D("-10000"), D("10000")), 1);
	assert_int_equal(strat_loss_limit_hit(D("-10000.00000001"), D("10000")), 1);
	assert_int_equal(strat_loss_limit_hit(D("-9999.99999999"), D("10000")), 0);
	assert_int_equal(strat_loss_limit_hit(D("5000"), D("10000")), 0);
	assert_int_equal(strat_loss_limit_hit(D("-1000000"), 0), 0);
}

static void test_config_grammar(void **state)
{
	struct strat_entry e;
	char err[160];

	(void)state;
	assert_int_equal(strat_entry_parse("KRW-BTC", &e, err, sizeof(err)), 0);
	assert_string_equal(e.market, "KRW-BTC");
	assert_string_equal(e.strategy, "");
	assert_int_equal(strat_entry_parse("KRW-ETH:volatility_breakout:k=0.6,ma_days=5", &e, err,
					   sizeof(err)),
			 0);
	assert_string_equal(e.strategy, "volatility_breakout");
	assert_string_equal(strat_entry_param(&e, "k"), "0.6");
	assert_string_equal(strat_entry_param(&e, "ma_days"), "5");
	assert_null(strat_entry_param(&e, "stop_loss_pct"));
	assert_int_equal(strat_entry_parse("KRW-XRP:/opt/s.so", &e, err, sizeof(err)), 0);
	assert_string_equal(e.strategy, "/opt/s.so");
	assert_int_equal(strat_entry_parse("krw-btc", &e, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "market code"));
	assert_int_equal(strat_entry_parse("KRW-BTC:", &e, err, sizeof(err)), -1);
	assert_int_equal(strat_entry_parse("KRW-BTC:x:k", &e, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "key=value"));
	assert_int_equal(strat_time_of_day("09:00"), 540);
	assert_int_equal(strat_time_of_day("24:00"), 1440);
	assert_int_equal(strat_time_of_day("24:01"), -1);
	assert_int_equal(strat_time_of_day("9:00"), -1);
	assert_int_equal(strat_time_of_day("09:60"), -1);
}

static int setup(void **state)
{
	return tmp_db_setup(state, "strat");
}

static int count(sqlite3 *db, const char *sql)
{
	return tmp_db_count(db, sql);
}

/* One entry per strategy, market, day and kind: the second is refused whole. */
static void test_signal_key_is_unique(void **state)
{
	sqlite3 *db = *state;
	struct sdb s;
	int64_t a, b;

	assert_int_equal(sdb_open(&s, db), 0);
	a = sdb_signal_intent(&s, "vb", "KRW-BTC", "2026-01-05", "entry", "x", "bid", "price", 0, 0,
			      D("100000"));
	assert_true(a > 0);
	assert_int_equal(sdb_signal_intent(&s, "vb", "KRW-BTC", "2026-01-05", "entry", "again",
					   "bid", "price", 0, 0, D("100000")),
			 0);
	assert_int_equal(count(db, "SELECT count(*) FROM order_intents"), 1);
	assert_int_equal(count(db, "SELECT count(*) FROM signals"), 1);
	assert_int_equal(sqlite3_get_autocommit(db), 1);
	assert_int_equal(sdb_signal_exists(&s, "vb", "KRW-BTC", "2026-01-05", "entry"), 1);
	assert_int_equal(sdb_signal_exists(&s, "vb", "KRW-BTC", "2026-01-06", "entry"), 0);
	/* Another day, kind, market or strategy is another signal. */
	b = sdb_signal_intent(&s, "vb", "KRW-BTC", "2026-01-06", "entry", "", "bid", "price", 0, 0,
			      D("100000"));
	assert_true(b > a);
	assert_true(sdb_signal_intent(&s, "vb", "KRW-BTC", "2026-01-05", "exit", "", "ask",
				      "market", 0, D("0.5"), 0) > 0);
	assert_true(sdb_signal_intent(&s, "vb", "KRW-ETH", "2026-01-05", "entry", "", "bid",
				      "limit", D("3162"), D("31.62555344"), 0) > 0);
	assert_true(sdb_signal_intent(&s, "other", "KRW-BTC", "2026-01-05", "entry", "", "bid",
				      "price", 0, 0, D("5000")) > 0);
	assert_int_equal(count(db, "SELECT count(*) FROM order_intents WHERE state = 'pending'"),
			 5);
	/* Exact integers, NULL where the order type has none. */
	assert_int_equal(count(db, "SELECT count(*) FROM order_intents WHERE ord_type = 'limit' AND"
				   " price_e8 = 316200000000 AND volume_e8 = 3162555344 AND"
				   " funds_e8 IS NULL"),
			 1);
	/* Risk inputs: entries since a day's start count buys only. */
	assert_int_equal(sdb_entries_since(&s, 0), 4);
	sdb_close(&s);
}

static void test_risk_inputs_from_the_tables(void **state)
{
	sqlite3 *db = *state;
	struct sdb s;
	char reason[64];
	dec8 v, c, bal;

	assert_int_equal(sdb_open(&s, db), 0);
	assert_int_equal(sdb_paused(&s, reason, sizeof(reason)), 0);
	assert_int_equal(sdb_set_paused(&s, 1, "daily loss limit", "strategy"), 0);
	assert_int_equal(sdb_paused(&s, reason, sizeof(reason)), 1);
	assert_string_equal(reason, "daily loss limit");
	assert_int_equal(sdb_balance_krw(&s, &bal), 0);
	assert_int_equal(
		db_exec(db, "INSERT INTO balances VALUES('KRW', 123456789000000, 0, 0, 0);"
			    "INSERT INTO positions VALUES('KRW-BTC', 68965, 9995000000000,"
			    " 0, 5000000000, 0);"
			    "INSERT INTO positions VALUES('KRW-ETH', 1, 500000000000, 0, 0, 0);"),
		0);
	assert_int_equal(sdb_balance_krw(&s, &bal), 1);
	assert_dec(bal, "1234567.89");
	assert_int_equal(sdb_position(&s, "KRW-BTC", &v, &c), 0);
	assert_dec(v, "0.00068965");
	assert_dec(c, "99950");
	assert_int_equal(sdb_position(&s, "KRW-XRP", &v, &c), 0);
	assert_true(v == 0 && c == 0);
	assert_dec(sdb_positions_total(&s), "104950");
	/* The day's result: realised PnL (fees already in it), of that day only. */
	assert_int_equal(db_exec(db,
				 "PRAGMA foreign_keys=OFF;"
				 "INSERT INTO fills VALUES('t1', 'o', 'KRW-BTC', 'ask', 1, 1, 1,"
				 " 6000000000, -1200000000000, 0, '2026-01-05', 0);"
				 "INSERT INTO fills VALUES('t2', 'o', 'KRW-BTC', 'ask', 1, 1, 1,"
				 " 100, 700000000000, 0, '2026-01-04', 0);"),
			 0);
	assert_dec(sdb_day_result(&s, "2026-01-05"), "-12000");
	assert_dec(sdb_day_result(&s, "2026-01-04"), "7000");
	assert_dec(sdb_day_result(&s, "2026-01-06"), "0");
	sdb_close(&s);
}

/* The day's levels: yesterday's day candle, else its minutes; today's first minute's open,
 * else yesterday's close; the average of N closes only when N are stored. */
static void test_levels_from_candles(void **state)
{
	sqlite3 *db = *state;
	struct sdb s;
	struct strat_levels lv;
	const int64_t day = at("2026-01-05T00:00:00Z"), y = day - 86400000;
	char sql[512];

	assert_int_equal(sdb_open(&s, db), 0);
	assert_int_equal(sdb_levels(&s, "KRW-BTC", day, 0, &lv), -1);
	snprintf(
		sql, sizeof(sql),
		"INSERT INTO candles VALUES('KRW-BTC', 1, %lld, 100, 300, 50, 200, '1', '1', 0, 0);"
		"INSERT INTO candles VALUES('KRW-BTC', 1, %lld, 200, 900, 150, 400, '1', '1', 0, "
		"0);",
		(long long)y, (long long)(y + 60000));
	assert_int_equal(db_exec(db, sql), 0);
	/* Minutes give the range but no close to open today with. */
	assert_int_equal(sdb_levels(&s, "KRW-BTC", day, 0, &lv), -1);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO candles VALUES('KRW-BTC', 1440, %lld, 100, 1000, 40, 500, '1', '1', "
		 "0, 0);"
		 "INSERT INTO candles VALUES('KRW-BTC', 1440, %lld, 100, 1000, 40, 300, '1', '1', "
		 "0, 0);",
		 (long long)y, (long long)(y - 86400000));
	assert_int_equal(db_exec(db, sql), 0);
	assert_int_equal(sdb_levels(&s, "KRW-BTC", day, 2, &lv), 0);
	assert_true(lv.prev_high == 1000 && lv.prev_low == 40 && lv.today_open == 500);
	assert_int_equal(lv.open_final, 0);
	assert_true(lv.have_ma && lv.ma == 400);
	assert_int_equal(sdb_levels(&s, "KRW-BTC", day, 3, &lv), 0);
	assert_int_equal(lv.have_ma, 0);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO candles VALUES('KRW-BTC', 1, %lld, 510, 520, 505, 515, '1', '1', 0, "
		 "0);",
		 (long long)day);
	assert_int_equal(db_exec(db, sql), 0);
	assert_int_equal(sdb_levels(&s, "KRW-BTC", day, 0, &lv), 0);
	assert_true(lv.today_open == 510 && lv.open_final == 1);
	sdb_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_on_the_tick_grid),
		cmocka_unit_test(test_window_in_seoul_across_days),
		cmocka_unit_test(test_trading_day_starts_at_nine_kst),
		cmocka_unit_test(test_sizing_caps_and_minimum),
		cmocka_unit_test(test_limit_order_rounding_and_minimum),
		cmocka_unit_test(test_daily_loss_limit),
		cmocka_unit_test(test_config_grammar),
		cmocka_unit_test_setup_teardown(test_signal_key_is_unique, setup, tmp_db_teardown),
		cmocka_unit_test_setup_teardown(test_risk_inputs_from_the_tables, setup,
						tmp_db_teardown),
		cmocka_unit_test_setup_teardown(test_levels_from_candles, setup, tmp_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
