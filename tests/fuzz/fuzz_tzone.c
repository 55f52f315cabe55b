/* libFuzzer harness for the TZif reader: the input is written as a zone file and loaded, and a
 * zone it accepts answers offsets and local-to-UTC conversions without crashing. The files come
 * from the system, but a truncated or foreign one must be refused, not trusted. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/tzone.h"

static char dir[64] = "/tmp/fuzz-tzone-XXXXXX";

static void remove_dir(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/Fuzz", dir);
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char path[128], err[160];
	struct tzone *z;
	FILE *f;

	if (!ready) {
		if (!mkdtemp(dir))
			abort();
		atexit(remove_dir);
		ready = 1;
	}
	snprintf(path, sizeof(path), "%s/Fuzz", dir);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	z = tzone_load_dir(dir, "Fuzz", err, sizeof(err));
	if (z) {
		/* 1900, 2026 and 2100: before, inside and after the transition table. */
		static const int64_t at[] = {-2208988800LL, 1772928000LL, 4102444800LL};
		int64_t out[2];

		for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
			(void)tzone_offset(z, at[i]);
			if (tzone_to_utc(z, at[i], out) == 0)
				(void)tzone_gap_end(z, at[i]);
		}
		tzone_free(z);
	}
	return 0;
}
