/* tradectl orders, trades and pnl: read-only queries of the trading tables in the supervisor's
 * connection, amounts printed as exact decimals from their integer units. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/dec8.h"
#include "supervisor/control.h"

#define REPORT_MAX_ROWS 1000
#define DAY_MS 86400000LL

enum report_sql { SQL_ORDERS, SQL_ORDERS_OPEN, SQL_TRADES, SQL_PNL, SQL_COUNT };

static const char *const report_sql[SQL_COUNT] = {
	[SQL_ORDERS] =
		"SELECT i.id, i.market, i.side, i.ord_type, i.price_e8, i.volume_e8, "
		"i.funds_e8, i.state, i.reason, i.attempts, i.created_ms, o.uuid, o.state, "
		"o.executed_volume_e8, o.paid_fee_e8 FROM order_intents i LEFT JOIN orders o "
		"ON o.intent_id = i.id WHERE i.created_ms >= ? ORDER BY i.id DESC LIMIT ?",
	[SQL_ORDERS_OPEN] =
		"SELECT i.id, i.market, i.side, i.ord_type, i.price_e8, i.volume_e8, "
		"i.funds_e8, i.state, i.reason, i.attempts, i.created_ms, o.uuid, "
		"o.state, o.executed_volume_e8, o.paid_fee_e8 FROM order_intents i "
		"LEFT JOIN orders o ON o.intent_id = i.id WHERE i.state IN ('pending', "
		"'sending', 'unknown', 'open') AND i.created_ms >= ? ORDER BY i.id DESC "
		"LIMIT ?",
	[SQL_TRADES] =
		"SELECT trade_uuid, order_uuid, market, side, price_e8, volume_e8, funds_e8, "
		"fee_e8, realized_e8, trade_ms FROM fills WHERE trade_ms >= ? ORDER BY "
		"trade_ms DESC LIMIT ?",
	[SQL_PNL] = "SELECT day, sum(realized_e8), sum(fee_e8), count(*), sum(CASE side WHEN 'bid' "
		    "THEN funds_e8 ELSE 0 END), sum(CASE side WHEN 'ask' THEN funds_e8 ELSE 0 END) "
		    "FROM fills WHERE trade_ms >= ? GROUP BY day ORDER BY day DESC LIMIT ?",
};

static json_t *dec_json(sqlite3_stmt *q, int col)
{
	char buf[DEC8_BUF];

	if (sqlite3_column_type(q, col) == SQLITE_NULL)
		return json_null();
	dec8_format(sqlite3_column_int64(q, col), buf);
	return json_string(buf);
}

static json_t *text_json(sqlite3_stmt *q, int col)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	return t ? json_string((const char *)t) : json_null();
}

/* A report's columns, in the order of its SELECT: the JSON name and how the value is read. */
enum col_kind { COL_TEXT, COL_INT, COL_DEC };
struct report_col {
	const char *name;
	enum col_kind kind;
};

static const struct report_col order_cols[] = {
	{"intent", COL_INT},	   {"market", COL_TEXT},	 {"side", COL_TEXT},
	{"ord_type", COL_TEXT},	   {"price", COL_DEC},		 {"volume", COL_DEC},
	{"funds", COL_DEC},	   {"state", COL_TEXT},		 {"reason", COL_TEXT},
	{"attempts", COL_INT},	   {"created_ms", COL_INT},	 {"order_uuid", COL_TEXT},
	{"order_state", COL_TEXT}, {"executed_volume", COL_DEC}, {"paid_fee", COL_DEC},
	{NULL, COL_TEXT},
};

static const struct report_col trade_cols[] = {
	{"trade_uuid", COL_TEXT}, {"order_uuid", COL_TEXT}, {"market", COL_TEXT},
	{"side", COL_TEXT},	  {"price", COL_DEC},	    {"volume", COL_DEC},
	{"funds", COL_DEC},	  {"fee", COL_DEC},	    {"realized", COL_DEC},
	{"trade_ms", COL_INT},	  {NULL, COL_TEXT},
};

static const struct report_col pnl_cols[] = {
	{"day", COL_TEXT},   {"realized", COL_DEC}, {"fees", COL_DEC}, {"fills", COL_INT},
	{"bought", COL_DEC}, {"sold", COL_DEC},	    {NULL, COL_TEXT},
};

static json_t *report_row(sqlite3_stmt *q, const struct report_col *cols)
{
	json_t *o = json_object();

	for (int i = 0; cols[i].name; i++) {
		json_t *v;

		switch (cols[i].kind) {
		case COL_INT:
			v = json_integer(sqlite3_column_int64(q, i));
			break;
		case COL_DEC:
			v = dec_json(q, i);
			break;
		default:
			v = text_json(q, i);
			break;
		}
		json_object_set_new(o, cols[i].name, v);
	}
	return o;
}

/* --open and --days N (or --days=N), as tradectl sends them; checked again here, since any
 * client may send anything. */
static int parse_args(json_t *args, int *open, int64_t *days, const char **bad)
{
	size_t n = json_array_size(args);

	*open = 0;
	*days = 7;
	for (size_t i = 0; i < n; i++) {
		const char *a = json_string_value(json_array_get(args, i)), *v = NULL;
		char *end;
		long d;

		if (!a) {
			*bad = "(not a string)";
			return -1;
		}
		if (strcmp(a, "--open") == 0) {
			*open = 1;
			continue;
		}
		if (strcmp(a, "--days") == 0 && i + 1 < n)
			v = json_string_value(json_array_get(args, ++i));
		else if (strncmp(a, "--days=", 7) == 0)
			v = a + 7;
		if (!v) {
			*bad = a;
			return -1;
		}
		d = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || d < 1 || d > 3650) {
			*bad = v;
			return -1;
		}
		*days = d;
	}
	return 0;
}

json_t *control_trading_report(struct supervisor *sup, const char *cmd, json_t *args)
{
	enum report_sql which;
	const struct report_col *cols;
	const char *bad = "", *key;
	sqlite3_stmt *q;
	json_t *rows, *reply;
	int64_t days, since;
	int open, rc;

	if (parse_args(args, &open, &days, &bad) < 0)
		return control_fail("bad argument: %s (want --open, --days N with N in 1..3650)",
				    bad);
	if (strcmp(cmd, "orders") == 0) {
		which = open ? SQL_ORDERS_OPEN : SQL_ORDERS;
		cols = order_cols;
		key = "orders";
	} else if (strcmp(cmd, "trades") == 0) {
		which = SQL_TRADES;
		cols = trade_cols;
		key = "trades";
	} else {
		which = SQL_PNL;
		cols = pnl_cols;
		key = "days";
	}
	if (!sup->db || sqlite3_prepare_v2(sup->db, report_sql[which], -1, &q, NULL) != SQLITE_OK)
		return control_fail("cannot read the database: %s",
				    sup->db ? sqlite3_errmsg(sup->db) : "not open");
	/* Whole days back from the start of today (UTC, the day of an Upbit candle). */
	since = (clock_now_ms() / DAY_MS - (days - 1)) * DAY_MS;
	sqlite3_bind_int64(q, 1, which == SQL_ORDERS_OPEN ? 0 : since);
	sqlite3_bind_int(q, 2, REPORT_MAX_ROWS);
	rows = json_array();
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		json_array_append_new(rows, report_row(q, cols));
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		json_decref(rows);
		return control_fail("cannot read the database: %s", sqlite3_errmsg(sup->db));
	}
	reply = json_pack("{s:b, s:o, s:I}", "ok", 1, key, rows, "period_days", (json_int_t)days);
	return reply;
}
