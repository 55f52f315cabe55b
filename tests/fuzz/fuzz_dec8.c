/* libFuzzer harness for dec8_parse: any text is refused or read exactly, and what it reads
 * prints back (dec8_format) as a text that parses to the same value. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/dec8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, buf[DEC8_BUF], grouped[DEC8_GROUPED_BUF];
	dec8 v, back;

	if (size > 64)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (dec8_parse(text, &v) == 0) {
		dec8_format(v, buf);
		if (dec8_parse(buf, &back) != 0 || back != v)
			abort();
		dec8_format_grouped(v, grouped);
		(void)dec8_krw_tick(v);
	}
	free(text);
	return 0;
}
