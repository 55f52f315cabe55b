/* libFuzzer harness for the config loader: any text, valid JSON or not, gives 0 or errors with
 * their file:line:col, and config_free releases everything (the locator included). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* static: struct config is large (a 4 KB path and the errors) */
	static struct config cfg;
	char buf[1024];

	if (size > (1 << 20)) /* what config_load reads at most */
		return 0;
	memset(&cfg, 0, sizeof(cfg));
	/* The last bit picks the origin: a worker's share is checked for keys and types only. */
	if (config_load_text(&cfg, "fuzz.json", (const char *)data, size,
			     size && (data[size - 1] & 1) ? CONFIG_KEYS_ONLY : CONFIG_FULL) == 0) {
		char *text = config_text_redacted(&cfg);

		free(text);
		text = config_text_for_role(&cfg, ROLE_STRATEGY);
		free(text);
	}
	config_format_errors(&cfg, buf, sizeof(buf));
	config_free(&cfg);
	return 0;
}
