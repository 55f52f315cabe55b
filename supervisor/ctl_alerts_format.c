/* `tradectl alerts` as text: one line per sink (state, backlog, error), then the open alerts
 * and the recent ones, each with its state per sink. */
#include <stdio.h>
#include <time.h>

#include "supervisor/ctl.h"

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* One line of daemon text: control characters would break the table. */
static void printable(const char *src, char *dst, size_t len)
{
	size_t i = 0;

	for (; src[i] && i + 1 < len; i++)
		dst[i] = (unsigned char)src[i] < 0x20 ? ' ' : src[i];
	dst[i] = '\0';
}

static void alert_line(const json_t *a, FILE *out)
{
	char when[32] = "", text[160];
	time_t t = (time_t)(json_integer_value(json_object_get(a, "created_ms")) / 1000);
	struct tm tm;
	const char *sink;
	json_t *d;

	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &tm);
	printable(str(a, "text"), text, sizeof(text));
	fprintf(out, "  #%" JSON_INTEGER_FORMAT " %s %-8s %s (%s): %s\n",
		json_integer_value(json_object_get(a, "id")), when, str(a, "severity"),
		str(a, "kind"), str(a, "source"), text);
	if (json_is_integer(json_object_get(a, "folded_into"))) {
		fprintf(out, "      folded into #%" JSON_INTEGER_FORMAT " (storm)\n",
			json_integer_value(json_object_get(a, "folded_into")));
		return;
	}
	json_object_foreach((json_t *)json_object_get(a, "deliveries"), sink, d)
	{
		char err[120];

		printable(str(d, "error"), err, sizeof(err));
		fprintf(out, "      %-24s %-8s attempts %" JSON_INTEGER_FORMAT "%s%s\n", sink,
			str(d, "state"), json_integer_value(json_object_get(d, "attempts")),
			err[0] ? "  " : "", err);
	}
}

enum ctl_outcome ctl_render_alerts(const json_t *reply, FILE *out)
{
	const json_t *sinks = json_object_get(reply, "sinks");
	const json_t *open = json_object_get(reply, "open");
	const json_t *recent = json_object_get(reply, "recent");
	size_t i;
	json_t *s;

	fprintf(out, "%-24s %-8s %8s %8s %8s  %s\n", "SINK", "STATE", "PENDING", "SENT", "FAILED",
		"ERROR");
	json_array_foreach(sinks, i, s)
	{
		char err[160];

		printable(str(s, "error"), err, sizeof(err));
		fprintf(out,
			"%-24s %-8s %8" JSON_INTEGER_FORMAT " %8" JSON_INTEGER_FORMAT
			" %8" JSON_INTEGER_FORMAT "  %s\n",
			str(s, "sink"), str(s, "state"),
			json_integer_value(json_object_get(s, "pending")),
			json_integer_value(json_object_get(s, "sent")),
			json_integer_value(json_object_get(s, "failed")), err);
	}
	fprintf(out, "\nOpen (not delivered everywhere yet): %zu\n", json_array_size(open));
	json_array_foreach(open, i, s) alert_line(s, out);
	fprintf(out, "\nRecent:\n");
	json_array_foreach(recent, i, s) alert_line(s, out);
	return CTL_OK;
}
