/* The control socket's replies quote a bad argument to CONTROL_QUOTE_BYTES, cut at a UTF-8
 * character, so that a huge argument never echoes back; and its errors stay valid JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/control.h"

static void expect_quote(const char *arg, const char *want)
{
	char out[CONTROL_QUOTE_BYTES + 4];

	control_quote(arg, out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_quote(void **state)
{
	char huge[10241];

	(void)state;
	expect_quote("", "");
	expect_quote("strategy", "strategy");
	expect_quote("0123456789012345678901234567890123456789",
		     "0123456789012345678901234567890123456789");
	expect_quote("01234567890123456789012345678901234567890",
		     "0123456789012345678901234567890123456789...");
	memset(huge, 'x', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	expect_quote(huge, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...");
	/* "\xc3\xa9" is one character: 20 of them fill 40 bytes; after "a", 19 fit. */
	expect_quote("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
		     "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		     "\xc3\xa9\xc3\xa9",
		     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
		     "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		     "\xc3\xa9...");
	expect_quote(
		"a\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
		"\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9",
		"a\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
		"\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...");
	/* A 4-byte character across the cut. */
	expect_quote("012345678901234567890123456789012345678\xf0\x9f\x98\x80",
		     "012345678901234567890123456789012345678...");
}

static void test_fail_is_short_valid_json(void **state)
{
	char huge[70000];
	json_t *reply;
	char *text;

	(void)state;
	memset(huge, 'y', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	/* An "\xc3\xa9" across the cut at 40 bytes is left out whole: the reply stays UTF-8,
	 * which json_pack insists on. */
	huge[39] = '\xc3';
	huge[40] = '\xa9';
	reply = control_fail("no such process: %s", huge);
	assert_non_null(reply);
	text = json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(text, "{\"ok\":false,\"error\":\"no such process: "
				  "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy...\"}");
	free(text);
	json_decref(reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_fail_is_short_valid_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
