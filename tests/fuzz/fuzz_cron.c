/* libFuzzer harness for cron expressions: cron_parse refuses or accepts any text, and an
 * accepted one gives cron_next a finite answer in a zone with DST (the run must always end). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Loaded once: a zone with gaps and overlaps exercises both policies. */
	static struct tzone *zone;
	struct cron_expr e;
	char err[128], *text;
	int64_t after, next;

	if (!zone && !(zone = tzone_load("America/New_York", err, sizeof(err))))
		abort();
	if (size > 256)
		return 0;
	/* A C string, as the parser gets one: up to the first NUL. */
	text = strndup((const char *)data, size);
	if (!text)
		return 0;
	if (cron_parse(&e, text, err, sizeof(err)) == 0) {
		/* 2026-03-08 (a spring-forward day) plus a byte of offset, in hours. */
		after = 1772928000LL + (size ? data[0] : 0) * 3600LL;
		next = cron_next(&e, zone, after, (enum cron_gap)(size & 1),
				 (enum cron_overlap)((size >> 1) & 1));
		if (next != -1 && next <= after)
			abort();
	} else if (!err[0]) {
		abort(); /* a refusal always says why */
	}
	free(text);
	return 0;
}
