/* Maps each key path of a JSON text ("a.b[2].c") to the line and column where it appears.
 * jansson gives no positions after parsing, and config errors must name file:line:column. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

struct located_key {
	char *path;
	int line, column;
};

struct config_locator {
	struct located_key *keys;
	size_t count, cap;
};

struct scanner {
	const char *p;
	int line, column;
	struct config_locator *loc;
	int depth;
};

static void advance(struct scanner *s)
{
	if (*s->p == '\n') {
		s->line++;
		s->column = 1;
	} else if ((*s->p & 0xc0) != 0x80) {
		s->column++; /* columns count characters, not UTF-8 continuation bytes */
	}
	s->p++;
}

static void skip_space(struct scanner *s)
{
	while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')
		advance(s);
}

static int record(struct scanner *s, const char *path, int line, int column)
{
	struct config_locator *loc = s->loc;

	if (loc->count == loc->cap) {
		size_t cap = loc->cap ? loc->cap * 2 : 32;
		struct located_key *keys = realloc(loc->keys, cap * sizeof(*keys));

		if (!keys)
			return -1;
		loc->keys = keys;
		loc->cap = cap;
	}
	loc->keys[loc->count].path = strdup(path);
	if (!loc->keys[loc->count].path)
		return -1;
	loc->keys[loc->count].line = line;
	loc->keys[loc->count].column = column;
	loc->count++;
	return 0;
}

/* Reads a string token into out (escapes kept raw except \" and \\, enough for key names). */
static int scan_string(struct scanner *s, char *out, size_t outlen)
{
	size_t n = 0;

	if (*s->p != '"')
		return -1;
	advance(s);
	while (*s->p && *s->p != '"') {
		char c = *s->p;

		if (c == '\\' && s->p[1]) {
			advance(s);
			c = *s->p;
		}
		if (n + 1 < outlen)
			out[n++] = c;
		advance(s);
	}
	if (*s->p != '"')
		return -1;
	advance(s);
	out[n] = '\0';
	return 0;
}

static int scan_value(struct scanner *s, const char *path);

static int scan_object(struct scanner *s, const char *path)
{
	char key[256], child[1024];

	advance(s); /* '{' */
	for (;;) {
		int line, column;

		skip_space(s);
		if (*s->p == '}') {
			advance(s);
			return 0;
		}
		line = s->line;
		column = s->column;
		if (scan_string(s, key, sizeof(key)) < 0)
			return -1;
		snprintf(child, sizeof(child), "%s%s%s", path, *path ? "." : "", key);
		if (record(s, child, line, column) < 0)
			return -1;
		skip_space(s);
		if (*s->p != ':')
			return -1;
		advance(s);
		if (scan_value(s, child) < 0)
			return -1;
		skip_space(s);
		if (*s->p == ',')
			advance(s);
		else if (*s->p != '}')
			return -1;
	}
}

static int scan_array(struct scanner *s, const char *path)
{
	char child[1024];
	int index = 0;

	advance(s); /* '[' */
	for (;;) {
		skip_space(s);
		if (*s->p == ']') {
			advance(s);
			return 0;
		}
		snprintf(child, sizeof(child), "%s[%d]", path, index++);
		if (record(s, child, s->line, s->column) < 0 || scan_value(s, child) < 0)
			return -1;
		skip_space(s);
		if (*s->p == ',')
			advance(s);
		else if (*s->p != ']')
			return -1;
	}
}

static int scan_value(struct scanner *s, const char *path)
{
	char skipped[256];
	int rc;

	skip_space(s);
	if (*s->p == '{' || *s->p == '[') {
		if (++s->depth > 64)
			return -1;
		rc = *s->p == '{' ? scan_object(s, path) : scan_array(s, path);
		s->depth--;
		return rc;
	}
	if (*s->p == '"')
		return scan_string(s, skipped, sizeof(skipped));
	while (*s->p && !strchr(",]} \t\r\n", *s->p))
		advance(s);
	return 0;
}

struct config_locator *config_locate(const char *text, size_t len)
{
	struct config_locator *loc = calloc(1, sizeof(*loc));
	/* The scanner stops at a NUL: its own terminated copy, whatever the caller's buffer. */
	char *copy = strndup(text, len);
	struct scanner s = {.p = copy, .line = 1, .column = 1, .loc = loc};

	if (!loc || !copy) {
		free(copy);
		free(loc);
		return NULL;
	}
	/* A partial index is still useful: positions found before a scan error are kept. */
	(void)scan_value(&s, "");
	free(copy);
	return loc;
}

int config_locator_find(const struct config_locator *loc, const char *path, int *line, int *column)
{
	if (!loc)
		return -1;
	for (size_t i = 0; i < loc->count; i++) {
		if (strcmp(loc->keys[i].path, path) == 0) {
			*line = loc->keys[i].line;
			*column = loc->keys[i].column;
			return 0;
		}
	}
	return -1;
}

void config_locator_free(struct config_locator *loc)
{
	if (!loc)
		return;
	for (size_t i = 0; i < loc->count; i++)
		free(loc->keys[i].path);
	free(loc->keys);
	free(loc);
}
