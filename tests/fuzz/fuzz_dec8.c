/* libFuzzer harness for exact money: any text is refused or read exactly by dec8_parse, what it
 * reads prints back (dec8_format) as a text that parses to the same value, and the same text as
 * a JSON value (a string, an integer, a real) goes through dec8_from_json without harm. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/dec8.h"

static void check_round_trip(dec8 v)
{
	char buf[DEC8_BUF], grouped[DEC8_GROUPED_BUF];
	dec8 back;

	dec8_format(v, buf);
	if (dec8_parse(buf, &back) != 0 || back != v)
		abort();
	dec8_format_grouped(v, grouped);
	(void)dec8_krw_tick(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j;
	char *text;
	dec8 v;

	if (size > 64)
		return 0;
	/* A C string, as the parser gets one: up to the first NUL. */
	text = strndup((const char *)data, size);
	if (!text)
		return 0;
	if (dec8_parse(text, &v) == 0)
		check_round_trip(v);
	j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (j && dec8_from_json(j, &v) == 0)
		check_round_trip(v);
	json_decref(j);
	free(text);
	return 0;
}
