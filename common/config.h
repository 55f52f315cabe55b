/* The daemon's one JSON config file: loaded whole, validated against a schema table, completed
 * with defaults. Errors name file:line:column and the key; nothing is applied unless all is valid. */
#ifndef TD_CONFIG_H
#define TD_CONFIG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum config_type {
	CFG_OBJECT,
	CFG_STRING,
	CFG_INT,
	CFG_NUMBER,
	CFG_BOOL,
	CFG_ENUM,	  /* string, one of choices "a|b|c" */
	CFG_STRING_ARRAY, /* array of strings */
	CFG_URL_LIST,	  /* a string or a non-empty array of strings */
	CFG_TIMESTAMP,	  /* ISO-8601 string with a zone */
};

struct config_key {
	const char *path; /* "supervisor.stop_timeout_ms"; "*" matches any one object key */
	enum config_type type;
	const char *defval; /* JSON text, NULL for no default (optional key or an object) */
	double min, max;    /* for CFG_INT and CFG_NUMBER, and lengths of strings and arrays */
	const char *choices;
	const char *doc;
};

/* The schema, terminated by an entry with path NULL (config_schema.c). */
extern const struct config_key config_schema[];

#define CONFIG_MAX_ERRORS 32

struct config_error {
	int line, column;
	char key[128];
	char message[256];
};

struct config {
	char path[4096];
	json_t *root; /* validated, defaults filled in */
	char *text;   /* the file as read, for config versions */
	int nerrors;
	struct config_error errors[CONFIG_MAX_ERRORS];
};

/* Loads and validates FILE. Returns 0 when valid; -1 with cfg->errors filled otherwise (cfg
 * must still be freed). */
int config_load(struct config *cfg, const char *file);
/* Same, from text in memory; name is used in messages. */
int config_load_text(struct config *cfg, const char *name, const char *text);
void config_free(struct config *cfg);
/* Prints every error as "file:line:col: key: message" to stream. */
void config_print_errors(const struct config *cfg, FILE *stream);

/* Typed getters of validated keys (defaults included). They abort on a schema mismatch, which
 * is a programming error: the schema guarantees the type. */
const char *config_str(const struct config *cfg, const char *path);
int64_t config_int(const struct config *cfg, const char *path);
double config_num(const struct config *cfg, const char *path);
int config_bool(const struct config *cfg, const char *path);
json_t *config_get(const struct config *cfg, const char *path);

/* Position index of a JSON text: where each key path starts (config_locate.c). */
struct config_locator;
struct config_locator *config_locate(const char *text);
int config_locator_find(const struct config_locator *loc, const char *path, int *line, int *column);
void config_locator_free(struct config_locator *loc);

#endif
