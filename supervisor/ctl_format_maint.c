/* tradectl's text for backup, cleanup, backups, restore and config: one line per step, backup
 * or version; control characters from the daemon are shown as '?'. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

static void printable(char *dst, size_t len, const char *src)
{
	size_t i = 0;

	if (len == 0)
		return;
	for (; src && src[i] && i + 1 < len; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	dst[i] = '\0';
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static void utc(json_int_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm);
}

static void print_steps(const json_t *reply, FILE *out)
{
	const json_t *r;
	size_t i;
	char msg[1024];

	json_array_foreach(json_object_get(reply, "results"), i, r)
	{
		printable(msg, sizeof(msg), str(r, "message"));
		fprintf(out, "%-14s %-9s %s\n", str(r, "action"), str(r, "result"), msg);
	}
}

static void print_backups(const json_t *reply, FILE *out)
{
	const json_t *b;
	size_t i;
	char when[32], file[1024], error[512];

	fprintf(out, "%-5s %-21s %12s %-8s %s\n", "ID", "CREATED", "BYTES", "VERIFIED", "FILE");
	json_array_foreach(json_object_get(reply, "backups"), i, b)
	{
		utc(json_integer_value(json_object_get(b, "created_ms")), when, sizeof(when));
		printable(file, sizeof(file), str(b, "file"));
		printable(error, sizeof(error), str(b, "error"));
		fprintf(out, "%-5lld %-21s %12lld %-8s %s%s%s%s\n",
			(long long)json_integer_value(json_object_get(b, "id")), when,
			(long long)json_integer_value(json_object_get(b, "size")),
			json_is_true(json_object_get(b, "verified")) ? "yes" : "FAILED", file,
			error[0] ? " (" : "", error, error[0] ? ")" : "");
	}
}

static void print_config(const json_t *reply, FILE *out)
{
	const json_t *v;
	size_t i;
	char when[32], text[512];

	if (json_object_get(reply, "versions")) {
		fprintf(out, "%-7s %-21s %-6s %-16s %s\n", "VERSION", "APPLIED", "UID", "HASH",
			"REASON");
		json_array_foreach(json_object_get(reply, "versions"), i, v)
		{
			utc(json_integer_value(json_object_get(v, "applied_ms")), when,
			    sizeof(when));
			printable(text, sizeof(text), str(v, "reason"));
			fprintf(out, "%-7lld %-21s %-6lld %-16s %s%s\n",
				(long long)json_integer_value(json_object_get(v, "version")), when,
				(long long)json_integer_value(json_object_get(v, "uid")),
				str(v, "hash"), text,
				json_is_true(json_object_get(v, "in_force")) ? " (in force)" : "");
		}
	} else if (json_object_get(reply, "diff")) {
		json_array_foreach(json_object_get(reply, "diff"), i, v)
		{
			printable(text, sizeof(text), json_string_value(v));
			fprintf(out, "%s\n", text);
		}
		if (json_array_size(json_object_get(reply, "diff")) == 0)
			fprintf(out, "no difference\n");
	} else if (json_object_get(reply, "text")) {
		/* The JSON text itself, lines and all: it is ours, redacted. */
		fprintf(out, "%s\n", str(reply, "text"));
	} else {
		printable(text, sizeof(text), str(reply, "result"));
		fprintf(out, "%s (now version %lld)\n", text,
			(long long)json_integer_value(json_object_get(reply, "version")));
	}
}

enum ctl_outcome ctl_render_maint(const struct ctl_options *opt, json_t *reply, FILE *out,
				  FILE *err)
{
	int ok = json_is_true(json_object_get(reply, "ok"));
	char msg[1024];

	/* As the other commands print theirs; a refusal's error also goes to err. */
	if (opt->json) {
		json_dumpf(reply, out, JSON_PRESERVE_ORDER);
		fputc('\n', out);
		if (!ok) {
			printable(msg, sizeof(msg), str(reply, "error"));
			fprintf(err, "tradectl: %s\n", msg[0] ? msg : "refused, without a reason");
		}
		return ok ? CTL_OK : CTL_REFUSED;
	}
	switch (opt->command->command) {
	case CTL_CMD_BACKUP:
	case CTL_CMD_CLEANUP:
		print_steps(reply, out);
		break;
	case CTL_CMD_BACKUPS:
		if (ok)
			print_backups(reply, out);
		break;
	case CTL_CMD_RESTORE:
		if (ok) {
			printable(msg, sizeof(msg), str(reply, "result"));
			fprintf(out, "%s\n", msg);
			printable(msg, sizeof(msg), str(reply, "aside"));
			fprintf(out, "the previous database is kept as %s\n", msg);
		}
		break;
	case CTL_CMD_CONFIG:
		if (ok)
			print_config(reply, out);
		break;
	default:
		break;
	}
	if (!ok) {
		printable(msg, sizeof(msg), str(reply, "error"));
		fprintf(err, "tradectl: %s\n", msg[0] ? msg : "refused, without a reason");
		return CTL_REFUSED;
	}
	return CTL_OK;
}
