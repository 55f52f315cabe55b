/* The daemon's one JSON config file: loaded whole, validated against a schema table, completed
 * with defaults. Errors name file:line:column and the key; nothing is applied unless all is valid. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define CONFIG_MAX_FILE_BYTES (1 << 20)

struct validation {
	struct config *cfg;
	const char *text;
	struct config_locator *loc; /* built on the first error: a valid file never needs it */
};

static void add_error(struct validation *v, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add_error(struct validation *v, const char *key, const char *fmt, ...)
{
	struct config *cfg = v->cfg;
	struct config_error *e;
	va_list ap;

	if (cfg->nerrors >= CONFIG_MAX_ERRORS)
		return;
	e = &cfg->errors[cfg->nerrors++];
	e->line = 0;
	e->column = 0;
	snprintf(e->key, sizeof(e->key), "%s", key);
	/* A key that is absent is reported at its parent, the closest place the reader can see. */
	char probe[128];
	snprintf(probe, sizeof(probe), "%s", key);
	if (!v->loc)
		v->loc = config_locate(v->text);
	while (config_locator_find(v->loc, probe, &e->line, &e->column) < 0) {
		char *dot = strrchr(probe, '.');

		if (!dot) {
			e->line = 1;
			e->column = 1;
			break;
		}
		*dot = '\0';
	}
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

static const struct config_key *schema_find(const char *path)
{
	for (const struct config_key *k = config_schema; k->path; k++)
		if (strcmp(k->path, path) == 0)
			return k;
	return NULL;
}

static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

static int choice_ok(const char *choices, const char *value)
{
	size_t n = strlen(value);
	const char *p = choices;

	while (p && *p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, value, n) == 0)
			return 1;
		p = bar ? bar + 1 : NULL;
	}
	return 0;
}

static void check_string(struct validation *v, const struct config_key *k, const char *path,
			 const json_t *value)
{
	size_t len = json_string_length(value);

	if ((double)len < k->min || (double)len > k->max)
		add_error(v, path, "length %zu is out of range [%g, %g]", len, k->min, k->max);
}

static void validate_node(struct validation *v, const char *path, json_t *value);

static void validate_object(struct validation *v, const char *path, json_t *obj)
{
	const char *key;
	json_t *child;
	char child_path[256];

	json_object_foreach(obj, key, child)
	{
		snprintf(child_path, sizeof(child_path), "%s%s%s", path, *path ? "." : "", key);
		validate_node(v, child_path, child);
	}
}

static void validate_node(struct validation *v, const char *path, json_t *value)
{
	const struct config_key *k = schema_find(path);
	int64_t ts;

	if (!k) {
		add_error(v, path, "unknown key");
		return;
	}
	switch (k->type) {
	case CFG_OBJECT:
		if (!json_is_object(value))
			add_error(v, path, "expected an object, got %s", json_type_name(value));
		else
			validate_object(v, path, value);
		break;
	case CFG_STRING:
		if (!json_is_string(value))
			add_error(v, path, "expected a string, got %s", json_type_name(value));
		else
			check_string(v, k, path, value);
		break;
	case CFG_ENUM:
		if (!json_is_string(value))
			add_error(v, path, "expected one of %s, got %s", k->choices,
				  json_type_name(value));
		else if (!choice_ok(k->choices, json_string_value(value)))
			add_error(v, path, "\"%s\" is not one of %s", json_string_value(value),
				  k->choices);
		break;
	case CFG_TIMESTAMP:
		if (!json_is_string(value))
			add_error(v, path, "expected an ISO-8601 string, got %s",
				  json_type_name(value));
		else if (clock_parse_iso8601(json_string_value(value), 0, &ts) < 0)
			add_error(v, path,
				  "\"%s\" is not an ISO-8601 time with a zone "
				  "(e.g. 2026-01-05T08:59:00+09:00)",
				  json_string_value(value));
		break;
	case CFG_INT:
		if (!json_is_integer(value))
			add_error(v, path, "expected an integer, got %s", json_type_name(value));
		else if ((double)json_integer_value(value) < k->min ||
			 (double)json_integer_value(value) > k->max)
			add_error(v, path, "%lld is out of range [%.0f, %.0f]",
				  (long long)json_integer_value(value), k->min, k->max);
		break;
	case CFG_NUMBER:
		if (!json_is_number(value))
			add_error(v, path, "expected a number, got %s", json_type_name(value));
		else if (json_number_value(value) < k->min || json_number_value(value) > k->max)
			add_error(v, path, "%g is out of range [%g, %g]", json_number_value(value),
				  k->min, k->max);
		break;
	case CFG_BOOL:
		if (!json_is_boolean(value))
			add_error(v, path, "expected true or false, got %s", json_type_name(value));
		break;
	case CFG_URL_LIST:
		if (json_is_string(value))
			break;
		__attribute__((fallthrough)); /* otherwise an array of strings */
	case CFG_STRING_ARRAY: {
		size_t i;
		json_t *item;
		char item_path[280];

		if (!json_is_array(value)) {
			add_error(v, path, "expected an array of strings, got %s",
				  json_type_name(value));
			break;
		}
		if ((double)json_array_size(value) < k->min ||
		    (double)json_array_size(value) > k->max)
			add_error(v, path, "%zu entries is out of range [%g, %g]",
				  json_array_size(value), k->min, k->max);
		json_array_foreach(value, i, item)
		{
			snprintf(item_path, sizeof(item_path), "%s[%zu]", path, i);
			if (!json_is_string(item) || json_string_length(item) == 0)
				add_error(v, item_path, "expected a non-empty string, got %s",
					  json_is_string(item) ? "\"\"" : json_type_name(item));
		}
		break;
	}
	}
}

/* Sets path in root to value, creating the objects on the way. Takes value's reference. */
static int set_path(json_t *root, const char *path, json_t *value)
{
	char buf[256], *seg, *save = NULL;
	json_t *node = root;

	snprintf(buf, sizeof(buf), "%s", path);
	seg = strtok_r(buf, ".", &save);
	while (seg) {
		char *next = strtok_r(NULL, ".", &save);

		if (!next)
			return json_object_set_new(node, seg, value);
		json_t *child = json_object_get(node, seg);
		if (!child) {
			child = json_object();
			if (json_object_set_new(node, seg, child) < 0)
				break;
		}
		node = child;
		seg = next;
	}
	json_decref(value);
	return -1;
}

json_t *config_get(const struct config *cfg, const char *path)
{
	char buf[256], *seg, *save = NULL;
	json_t *node = cfg->root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (seg = strtok_r(buf, ".", &save); seg && node; seg = strtok_r(NULL, ".", &save))
		node = json_object_get(node, seg);
	return node;
}

static void fill_defaults(struct config *cfg)
{
	for (const struct config_key *k = config_schema; k->path; k++) {
		if (k->type == CFG_OBJECT) {
			if (!config_get(cfg, k->path))
				set_path(cfg->root, k->path, json_object());
			continue;
		}
		if (k->defval && !config_get(cfg, k->path)) {
			json_t *def = json_loads(k->defval, JSON_DECODE_ANY, NULL);

			if (!def)
				fatalx("config schema: bad default for %s", k->path);
			set_path(cfg->root, k->path, def);
		}
	}
}

/* Rules that tie keys together; each is reported at the key a reader would change. */
static void validate_relations(struct validation *v)
{
	struct config *cfg = v->cfg;

	if (config_get(cfg, "clock.start") && strcmp(config_str(cfg, "mode"), "live") == 0)
		add_error(v, "clock", "a test clock is refused in live mode");
	if (config_get(cfg, "clock.rate") && !config_get(cfg, "clock.start"))
		add_error(v, "clock.start", "clock.rate needs clock.start");
	if (config_int(cfg, "supervisor.heartbeat_timeout_ms") <=
	    config_int(cfg, "supervisor.heartbeat_interval_ms"))
		add_error(v, "supervisor.heartbeat_timeout_ms",
			  "must be larger than supervisor.heartbeat_interval_ms");
	if (config_int(cfg, "supervisor.backoff_max_ms") <
	    config_int(cfg, "supervisor.backoff_initial_ms"))
		add_error(v, "supervisor.backoff_max_ms",
			  "must be at least supervisor.backoff_initial_ms");
	if (strcmp(config_str(cfg, "mode"), "live") == 0 &&
	    config_str(cfg, "exchange.keys_file")[0] == '\0')
		add_error(v, "exchange.keys_file", "live mode needs a keys file");
}

int config_load_text(struct config *cfg, const char *name, const char *text)
{
	json_error_t jerr;
	struct validation v = {.cfg = cfg, .text = text};
	int rc = -1;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", name);
	cfg->text = strdup(text);
	if (!cfg->text)
		return -1;
	cfg->root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!cfg->root) {
		struct config_error *e = &cfg->errors[cfg->nerrors++];

		e->line = jerr.line > 0 ? jerr.line : 1;
		e->column = jerr.column > 0 ? jerr.column : 1;
		snprintf(e->key, sizeof(e->key), "(syntax)");
		snprintf(e->message, sizeof(e->message), "%s", jerr.text);
		return -1;
	}
	if (!json_is_object(cfg->root)) {
		add_error(&v, "", "the file must hold one JSON object");
		goto out;
	}
	validate_object(&v, "", cfg->root);
	if (cfg->nerrors)
		goto out;
	fill_defaults(cfg);
	validate_relations(&v);
	rc = cfg->nerrors ? -1 : 0;
out:
	config_locator_free(v.loc);
	return rc;
}

int config_load(struct config *cfg, const char *file)
{
	FILE *f = fopen(file, "r");
	char *text;
	size_t n;
	int rc;

	if (!f) {
		memset(cfg, 0, sizeof(*cfg));
		snprintf(cfg->path, sizeof(cfg->path), "%s", file);
		cfg->nerrors = 1;
		cfg->errors[0].line = 0;
		snprintf(cfg->errors[0].key, sizeof(cfg->errors[0].key), "(file)");
		snprintf(cfg->errors[0].message, sizeof(cfg->errors[0].message), "cannot open: %s",
			 strerror(errno));
		return -1;
	}
	text = malloc(CONFIG_MAX_FILE_BYTES + 1);
	if (!text) {
		fclose(f);
		return -1;
	}
	n = fread(text, 1, CONFIG_MAX_FILE_BYTES + 1, f);
	fclose(f);
	if (n > CONFIG_MAX_FILE_BYTES) {
		free(text);
		memset(cfg, 0, sizeof(*cfg));
		snprintf(cfg->path, sizeof(cfg->path), "%s", file);
		cfg->nerrors = 1;
		snprintf(cfg->errors[0].key, sizeof(cfg->errors[0].key), "(file)");
		snprintf(cfg->errors[0].message, sizeof(cfg->errors[0].message),
			 "larger than %d bytes", CONFIG_MAX_FILE_BYTES);
		return -1;
	}
	text[n] = '\0';
	rc = config_load_text(cfg, file, text);
	free(text);
	return rc;
}

void config_free(struct config *cfg)
{
	json_decref(cfg->root);
	free(cfg->text);
	cfg->root = NULL;
	cfg->text = NULL;
}

void config_print_errors(const struct config *cfg, FILE *stream)
{
	for (int i = 0; i < cfg->nerrors; i++) {
		const struct config_error *e = &cfg->errors[i];

		if (e->line > 0)
			fprintf(stream, "%s:%d:%d: %s: %s\n", cfg->path, e->line, e->column, e->key,
				e->message);
		else
			fprintf(stream, "%s: %s: %s\n", cfg->path, e->key, e->message);
	}
}

static json_t *must_get(const struct config *cfg, const char *path)
{
	json_t *v = config_get(cfg, path);

	if (!v)
		fatalx("config: %s read but absent (schema default missing)", path);
	return v;
}

const char *config_str(const struct config *cfg, const char *path)
{
	json_t *v = must_get(cfg, path);

	if (!json_is_string(v))
		fatalx("config: %s is not a string", path);
	return json_string_value(v);
}

int64_t config_int(const struct config *cfg, const char *path)
{
	json_t *v = must_get(cfg, path);

	if (!json_is_integer(v))
		fatalx("config: %s is not an integer", path);
	return json_integer_value(v);
}

double config_num(const struct config *cfg, const char *path)
{
	json_t *v = must_get(cfg, path);

	if (!json_is_number(v))
		fatalx("config: %s is not a number", path);
	return json_number_value(v);
}

int config_bool(const struct config *cfg, const char *path)
{
	json_t *v = must_get(cfg, path);

	if (!json_is_boolean(v))
		fatalx("config: %s is not a boolean", path);
	return json_is_true(v);
}
