/* Exact money: a decimal with 8 places in an int64 (1 KRW = 100000000 units), the precision
 * Upbit gives every price, volume and fee. Stored as INTEGER units in SQLite (columns named
 * *_e8), printed as Upbit's decimal strings; products and quotients round only where the
 * caller says how. Range: about ±92 billion. */
#ifndef TD_DEC8_H
#define TD_DEC8_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef int64_t dec8;

#define DEC8_ONE INT64_C(100000000)
#define DEC8_PLACES 8
/* Enough for "-92233720368.54775808" and its NUL. */
#define DEC8_BUF 24

enum dec8_round {
	DEC8_DOWN,	/* toward zero: a volume one can afford, a fee not overcharged */
	DEC8_UP,	/* away from zero */
	DEC8_HALF_EVEN, /* to nearest, ties to even */
};

/* "123", "-0.5", "1e-3" is refused: digits, one optional point, up to 8 places (more only if
 * the extra digits are zeros). 0, or -1 for anything else or out of range. */
int dec8_parse(const char *s, dec8 *out);
/* A JSON string as dec8_parse reads it, or a JSON number (an integer; or a real, rounded to 8
 * places). -1 when absent, of another type or out of
 * range. */
int dec8_from_json(const json_t *v, dec8 *out);
/* Upbit's form: trailing zeros trimmed, no point for a whole number ("5000", "0.00048"). */
void dec8_format(dec8 v, char buf[DEC8_BUF]);
/* dec8_format with the whole part grouped by three ("1,234,567.5"): amounts in texts people
 * read (alerts), never in what a program parses. */
#define DEC8_GROUPED_BUF 32
void dec8_format_grouped(dec8 v, char buf[DEC8_GROUPED_BUF]);
/* a * b, a / b (b != 0) and a * num / den (den != 0) with the rounding asked for; 0, or -1 on
 * overflow or a zero divisor. */
int dec8_mul(dec8 a, dec8 b, enum dec8_round mode, dec8 *out);
int dec8_div(dec8 a, dec8 b, enum dec8_round mode, dec8 *out);
int dec8_muldiv(dec8 a, int64_t num, int64_t den, enum dec8_round mode, dec8 *out);
/* Upbit's KRW price unit for a price (the table in force since 2025-07-31). */
dec8 dec8_krw_tick(dec8 price);
/* price on the grid of tick: DEC8_DOWN floors, DEC8_UP ceils, DEC8_HALF_EVEN is nearest. */
dec8 dec8_to_tick(dec8 price, dec8 tick, enum dec8_round mode);
/* price on the KRW grid, the tick chosen for the rounded price (a price just under a band's
 * edge rounds up onto the coarser grid correctly). */
dec8 dec8_krw_round(dec8 price, enum dec8_round mode);

#endif
