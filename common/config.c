/* The daemon's one JSON config file: loaded whole, validated against a schema table, completed
 * with defaults. Errors name file:line:column and the key; nothing is applied unless all is valid. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "job_spec.h"
#include "log.h"
#include "strategy_conf.h"
#include "tzone.h"

#define CONFIG_MAX_FILE_BYTES (1 << 20)

struct validation {
	struct config *cfg;
	const char *text;
	size_t len;
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
		v->loc = config_locate(v->text, v->len);
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

/* 1 when path matches pattern, whose "*" segments match any one key. */
static int path_match(const char *pattern, const char *path)
{
	while (*pattern && *path) {
		if (pattern[0] == '*' && (pattern[1] == '.' || pattern[1] == '\0')) {
			path += strcspn(path, ".");
			pattern++;
			continue;
		}
		if (*pattern++ != *path++)
			return 0;
	}
	return *pattern == '\0' && *path == '\0';
}

static const struct config_key *schema_find(const char *path)
{
	for (const struct config_key *k = config_schema; k->path; k++)
		if (strcmp(k->path, path) == 0)
			return k;
	for (const struct config_key *k = config_schema; k->path; k++)
		if (strchr(k->path, '*') && path_match(k->path, path))
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

/* "IPV4:PORT" or "[IPV6]:PORT" with a port of 1..65535: what a listener can bind. */
static int hostport_ok(const char *text)
{
	const char *colon = strrchr(text, ':');
	char host[64], *end;
	unsigned char addr[16];
	size_t hlen;
	long port;

	if (!colon || colon == text)
		return 0;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end || errno || port < 1 || port > 65535)
		return 0;
	hlen = (size_t)(colon - text);
	if (text[0] == '[') {
		if (hlen < 3 || text[hlen - 1] != ']' || hlen - 2 >= sizeof(host))
			return 0;
		memcpy(host, text + 1, hlen - 2);
		host[hlen - 2] = '\0';
		return inet_pton(AF_INET6, host, addr) == 1;
	}
	if (hlen >= sizeof(host))
		return 0;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	return inet_pton(AF_INET, host, addr) == 1;
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
	case CFG_HOSTPORT:
		if (!json_is_string(value))
			add_error(v, path, "expected a string, got %s", json_type_name(value));
		else if (!hostport_ok(json_string_value(value)))
			add_error(v, path,
				  "\"%.64s\" is not IPV4:PORT or [IPV6]:PORT with a port of 1 to "
				  "65535",
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

static json_t *get_path(json_t *root, const char *path)
{
	char buf[256], *seg, *save = NULL;
	json_t *node = root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (seg = strtok_r(buf, ".", &save); seg && node; seg = strtok_r(NULL, ".", &save))
		node = json_object_get(node, seg);
	return node;
}

/* A default of "a.*.key": set in every object under "a" that lacks it. */
static void fill_wildcard_default(struct config *cfg, const struct config_key *k)
{
	char parent[128];
	const char *star = strstr(k->path, ".*.");
	const char *key;
	json_t *obj, *each;

	if (!star || !k->defval)
		return;
	snprintf(parent, sizeof(parent), "%.*s", (int)(star - k->path), k->path);
	obj = get_path(cfg->root, parent);
	json_object_foreach(obj, key, each)
	{
		json_t *def;

		if (!json_is_object(each) || json_object_get(each, star + 3))
			continue;
		def = json_loads(k->defval, JSON_DECODE_ANY, NULL);
		if (!def)
			fatalx("config schema: bad default for %s", k->path);
		json_object_set_new(each, star + 3, def);
	}
}

static void fill_defaults(struct config *cfg)
{
	for (const struct config_key *k = config_schema; k->path; k++) {
		if (strchr(k->path, '*')) {
			fill_wildcard_default(cfg, k);
			continue;
		}
		if (k->type == CFG_OBJECT) {
			if (!get_path(cfg->root, k->path))
				set_path(cfg->root, k->path, json_object());
			continue;
		}
		if (k->defval && !get_path(cfg->root, k->path)) {
			json_t *def = json_loads(k->defval, JSON_DECODE_ANY, NULL);

			if (!def)
				fatalx("config schema: bad default for %s", k->path);
			set_path(cfg->root, k->path, def);
		}
	}
}

/* An empty exchange.base_url means the simulator in sim mode and Upbit otherwise: resolved
 * here, once, so that a worker needs neither the mode's rule nor the sim section. */
static void resolve_base_url(struct config *cfg)
{
	json_t *v = get_path(cfg->root, "exchange.base_url");
	char url[128];

	if (json_is_array(v) ? json_array_size(v) > 0 : json_string_length(v) > 0)
		return;
	if (strcmp(json_string_value(get_path(cfg->root, "mode")), "sim") == 0)
		snprintf(url, sizeof(url), "http://%s",
			 json_string_value(get_path(cfg->root, "sim.listen")));
	else
		snprintf(url, sizeof(url), "https://api.upbit.com");
	set_path(cfg->root, "exchange.base_url", json_string(url));
}

static int choice_index(const char *choices, const char *value)
{
	size_t n = strlen(value);
	int index = 0;

	for (const char *p = choices; p; index++) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, value, n) == 0)
			return index;
		p = bar ? bar + 1 : NULL;
	}
	return -1;
}

static int bind_list(struct config_list *list, json_t *value)
{
	size_t i;
	json_t *item;

	list->n = json_is_string(value) ? 1 : json_array_size(value);
	list->v = calloc(list->n ? list->n : 1, sizeof(*list->v));
	if (!list->v)
		return -1;
	if (json_is_string(value)) {
		list->v[0] = json_string_value(value);
		return 0;
	}
	json_array_foreach(value, i, item) list->v[i] = json_string_value(item);
	return 0;
}

/* Fills cfg->s from the validated tree: every schema row names its field. */
static int bind_settings(struct config *cfg)
{
	char *base = (char *)&cfg->s;

	for (const struct config_key *k = config_schema; k->path; k++) {
		json_t *value = get_path(cfg->root, k->path);
		void *field = base + k->field;

		if (k->field == 0 || !value)
			continue;
		switch (k->type) {
		case CFG_OBJECT:
			break;
		case CFG_STRING:
		case CFG_HOSTPORT:
			*(const char **)field = json_string_value(value);
			break;
		case CFG_ENUM:
			*(int *)field = choice_index(k->choices, json_string_value(value));
			break;
		case CFG_INT:
			*(int64_t *)field = json_integer_value(value);
			break;
		case CFG_NUMBER:
			*(double *)field = json_number_value(value);
			break;
		case CFG_BOOL:
			*(int *)field = json_is_true(value);
			break;
		case CFG_TIMESTAMP:
			if (clock_parse_iso8601(json_string_value(value), 0, (int64_t *)field) < 0)
				return -1;
			break;
		case CFG_STRING_ARRAY:
		case CFG_URL_LIST:
			if (bind_list((struct config_list *)field, value) < 0)
				return -1;
			break;
		}
	}
	cfg->s.clock.test = get_path(cfg->root, "clock.start") != NULL;
	cfg->s.bound = 1;
	return 0;
}

/* ACCESS_KEY:SECRET_KEY:KRW_BALANCE[:HOLDINGS]; the entry is never quoted: it holds a secret. */
static void check_accounts(struct validation *v)
{
	const struct config_list *a = &v->cfg->s.sim.accounts;
	char path[64];

	for (size_t i = 0; i < a->n; i++) {
		const char *p = a->v[i], *c1 = strchr(p, ':'),
			   *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		const char *krw = c2 ? c2 + 1 : NULL;
		size_t digits = krw ? strspn(krw, "0123456789") : 0;

		snprintf(path, sizeof(path), "sim.accounts[%zu]", i);
		if (!c1 || c1 == p || !c2 || c2 == c1 + 1 || digits == 0 ||
		    (krw[digits] != '\0' && krw[digits] != ':'))
			add_error(v, path,
				  "expected ACCESS_KEY:SECRET_KEY:KRW_BALANCE (the entry is not "
				  "shown: it holds a secret)");
	}
}

static int followed(const struct config_list *l, const char *market)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], market) == 0)
			return 1;
	return 0;
}

/* Market entries, the window's times and its zone: the worker would refuse them at start. */
static void check_strategy(struct validation *v)
{
	const struct config_list *m = &v->cfg->s.strategy.markets;
	struct strat_entry e;
	char path[64], err[160];
	struct tzone *z;

	for (size_t i = 0; i < m->n; i++) {
		snprintf(path, sizeof(path), "strategy.markets[%zu]", i);
		if (strat_entry_parse(m->v[i], &e, err, sizeof(err)) < 0) {
			add_error(v, path, "%s", err);
			continue;
		}
		if (!followed(&v->cfg->s.market_data.markets, e.market))
			add_error(v, path,
				  "%s is not in market_data.markets: it would have no prices",
				  e.market);
		for (size_t j = 0; j < i; j++)
			if (strat_entry_parse(m->v[j], &(struct strat_entry){0}, err,
					      sizeof(err)) == 0 &&
			    strncmp(m->v[j], e.market, strlen(e.market)) == 0 &&
			    (m->v[j][strlen(e.market)] == '\0' || m->v[j][strlen(e.market)] == ':'))
				add_error(v, path, "%s is listed twice", e.market);
	}
	if (strat_time_of_day(v->cfg->s.strategy.window_open) < 0)
		add_error(v, "strategy.window_open", "expected HH:MM (00:00 to 24:00)");
	if (strat_time_of_day(v->cfg->s.strategy.window_close) < 0)
		add_error(v, "strategy.window_close", "expected HH:MM (00:00 to 24:00)");
	z = tzone_load(v->cfg->s.strategy.timezone, err, sizeof(err));
	if (!z)
		add_error(v, "strategy.timezone", "%s", err);
	tzone_free(z);
}

/* The account must exist and must not be root: the whole tree drops to it. */
static void check_user(struct validation *v)
{
	const char *user = v->cfg->s.user;
	struct passwd *pw;

	if (user[0] == '\0') {
		add_error(v, "user", "must name an unprivileged account (e.g. \"tradingd\")");
		return;
	}
	errno = 0;
	pw = getpwnam(user);
	if (!pw)
		add_error(v, "user", "no such user \"%.32s\"%s", user,
			  strcmp(user, "tradingd") == 0 ? " (make install creates it)" : "");
	else if (pw->pw_uid == 0)
		add_error(v, "user", "\"%.32s\" is root (uid 0): name an unprivileged account",
			  user);
}

static void check_group(struct validation *v)
{
	const char *group = v->cfg->s.control_group;

	if (group[0] && !getgrnam(group))
		add_error(v, "control_group", "no such group \"%.32s\"", group);
	group = v->cfg->s.monitor_group;
	if (group[0] && !getgrnam(group))
		add_error(v, "monitor_group", "no such group \"%.32s\"", group);
}

static void job_error(void *arg, const char *key, const char *msg)
{
	add_error(arg, key, "%s", msg);
}

/* Every job names its schedule, worker and action; then the table is parsed and checked. */
static void check_jobs(struct validation *v)
{
	static const char *const required[] = {"schedule", "worker", "action"};
	json_t *defs = get_path(v->cfg->root, "jobs.defs");
	const char *name;
	json_t *obj;
	char key[160];
	int missing = 0;

	json_object_foreach(defs, name, obj)
	{
		for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
			if (json_object_get(obj, required[i]))
				continue;
			snprintf(key, sizeof(key), "jobs.defs.%s.%s", name, required[i]);
			add_error(v, key, "required");
			missing = 1;
		}
	}
	if (missing)
		return;
	v->cfg->s.jobs.table = calloc(1, sizeof(struct job_table));
	if (!v->cfg->s.jobs.table) {
		add_error(v, "jobs", "out of memory");
		return;
	}
	if (job_table_load(v->cfg->s.jobs.table, defs, job_error, v) < 0) {
		free(v->cfg->s.jobs.table);
		v->cfg->s.jobs.table = NULL;
	}
}

/* 1 when every URL's host is 127.x.x.x, [::1] or localhost: a local exchange for tests. */
static int all_loopback(const struct config_list *urls)
{
	for (size_t i = 0; i < urls->n; i++) {
		const char *h = strstr(urls->v[i], "://");

		h = h ? h + 3 : urls->v[i];
		if (strncmp(h, "127.", 4) != 0 && strncmp(h, "[::1]", 5) != 0 &&
		    strncmp(h, "localhost", 9) != 0)
			return 0;
		if (strncmp(h, "localhost", 9) == 0 && h[9] != ':' && h[9] != '/' && h[9] != '\0')
			return 0;
	}
	return urls->n > 0;
}

/* Rules that tie keys together; each is reported at the key a reader would change. */
static int http_url(const char *url)
{
	return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

/* Telegram chat ids are numbers (a group's negative) or a channel's @name. */
static void check_notifier(struct validation *v)
{
	const struct config_notifier *n = &v->cfg->s.notifier;
	char path[64];

	if (n->telegram.token_file[0] && n->telegram.chat_ids.n == 0)
		add_error(v, "notifier.telegram.chat_ids",
			  "a bot token needs at least one chat id");
	if (!http_url(n->telegram.base_url))
		add_error(v, "notifier.telegram.base_url", "must start with http:// or https://");
	if (n->webhook.url[0] && !http_url(n->webhook.url))
		add_error(v, "notifier.webhook.url", "must start with http:// or https://");
	for (size_t i = 0; i < n->telegram.chat_ids.n; i++) {
		const char *id = n->telegram.chat_ids.v[i];
		size_t digits = strspn(id + (id[0] == '-'), "0123456789");
		int ok = (id[0] == '@' && strlen(id) > 1) ||
			 (digits > 0 && digits < 20 && id[(id[0] == '-') + digits] == '\0');

		snprintf(path, sizeof(path), "notifier.telegram.chat_ids[%zu]", i);
		if (!ok)
			add_error(v, path, "\"%.40s\" is no chat id (digits, -digits or @name)",
				  id);
	}
}

static void validate_relations(struct validation *v)
{
	const struct config_settings *s = &v->cfg->s;

	if (s->clock.test && s->mode == MODE_LIVE && !all_loopback(&s->exchange.base_url))
		add_error(v, "clock",
			  "a test clock is refused in live mode unless every exchange.base_url "
			  "is a loopback address (a local exchange for tests)");
	if (get_path(v->cfg->file, "clock.origin") && !s->clock.test)
		add_error(v, "clock.origin", "clock.origin needs clock.start");
	if (get_path(v->cfg->file, "clock.rate") && !s->clock.test)
		add_error(v, "clock.start", "clock.rate needs clock.start");
	if (s->supervisor.heartbeat_timeout_ms <= s->supervisor.heartbeat_interval_ms)
		add_error(v, "supervisor.heartbeat_timeout_ms",
			  "must be larger than supervisor.heartbeat_interval_ms");
	if (s->supervisor.backoff_max_ms < s->supervisor.backoff_initial_ms)
		add_error(v, "supervisor.backoff_max_ms",
			  "must be at least supervisor.backoff_initial_ms");
	if (s->mode == MODE_LIVE && s->exchange.keys_file[0] == '\0')
		add_error(v, "exchange.keys_file", "live mode needs a keys file");
	check_accounts(v);
	check_strategy(v);
	check_user(v);
	check_group(v);
	check_notifier(v);
	check_jobs(v);
}

static void set_error(struct config *cfg, int line, int column, const char *key, const char *msg)
{
	struct config_error *e = &cfg->errors[cfg->nerrors++];

	e->line = line;
	e->column = column;
	snprintf(e->key, sizeof(e->key), "%s", key);
	snprintf(e->message, sizeof(e->message), "%s", msg);
}

/* A NUL byte would end the text early for jansson: say where it is instead. */
static int find_nul(const char *text, size_t len, int *line, int *column)
{
	const char *nul = memchr(text, '\0', len);

	if (!nul)
		return 0;
	*line = 1;
	*column = 1;
	for (const char *p = text; p < nul; p++) {
		if (*p == '\n') {
			(*line)++;
			*column = 1;
		} else {
			(*column)++;
		}
	}
	return 1;
}

int config_load_text(struct config *cfg, const char *name, const char *text, size_t len,
		     enum config_origin origin)
{
	json_error_t jerr;
	struct validation v = {.cfg = cfg, .text = text, .len = len};
	int rc = -1, line, column;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", name);
	if (find_nul(text, len, &line, &column)) {
		set_error(cfg, line, column, "(syntax)", "a NUL byte: the file is not JSON text");
		return -1;
	}
	cfg->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!cfg->root) {
		set_error(cfg, jerr.line > 0 ? jerr.line : 1, jerr.column > 0 ? jerr.column : 1,
			  "(syntax)", jerr.text);
		return -1;
	}
	if (!json_is_object(cfg->root)) {
		add_error(&v, "", "the file must hold one JSON object");
		goto out;
	}
	validate_object(&v, "", cfg->root);
	if (cfg->nerrors)
		goto out;
	cfg->file = json_deep_copy(cfg->root);
	if (!cfg->file)
		goto out;
	fill_defaults(cfg);
	resolve_base_url(cfg);
	if (bind_settings(cfg) < 0) {
		add_error(&v, "", "out of memory");
		goto out;
	}
	/* A worker's share lacks the sections it does not use; the whole was checked already. */
	if (origin == CONFIG_FULL)
		validate_relations(&v);
	rc = cfg->nerrors ? -1 : 0;
out:
	config_locator_free(v.loc);
	return rc;
}

static int file_error(struct config *cfg, const char *file, const char *fmt, const char *arg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", file);
	cfg->nerrors = 1;
	snprintf(cfg->errors[0].key, sizeof(cfg->errors[0].key), "(file)");
	snprintf(cfg->errors[0].message, sizeof(cfg->errors[0].message), fmt, arg);
	return -1;
}

int config_load(struct config *cfg, const char *file, enum config_origin origin)
{
	FILE *f = fopen(file, "r");
	struct stat st;
	char *text;
	size_t n;
	int rc;

	if (!f)
		return file_error(cfg, file, "cannot open: %s", strerror(errno));
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		return file_error(cfg, file, "%s", "is a directory, not a config file");
	}
	text = malloc(CONFIG_MAX_FILE_BYTES + 1);
	if (!text) {
		fclose(f);
		return file_error(cfg, file, "%s", "out of memory");
	}
	n = fread(text, 1, CONFIG_MAX_FILE_BYTES + 1, f);
	if (ferror(f)) {
		int err = errno;

		fclose(f);
		free(text);
		return file_error(cfg, file, "cannot read: %s", strerror(err));
	}
	fclose(f);
	if (n > CONFIG_MAX_FILE_BYTES) {
		free(text);
		return file_error(cfg, file, "larger than %s bytes", "1048576");
	}
	rc = config_load_text(cfg, file, text, n, origin);
	free(text);
	return rc;
}

void config_free(struct config *cfg)
{
	char *base = (char *)&cfg->s;

	for (const struct config_key *k = config_schema; k->path; k++)
		if (k->field && (k->type == CFG_STRING_ARRAY || k->type == CFG_URL_LIST))
			free(((struct config_list *)(base + k->field))->v);
	if (cfg->s.jobs.table) {
		job_table_free(cfg->s.jobs.table);
		free(cfg->s.jobs.table);
	}
	memset(&cfg->s, 0, sizeof(cfg->s));
	json_decref(cfg->root);
	json_decref(cfg->file);
	cfg->root = NULL;
	cfg->file = NULL;
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

void config_format_errors(const struct config *cfg, char *buf, size_t len)
{
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (int i = 0; i < cfg->nerrors && used + 1 < len; i++) {
		const struct config_error *e = &cfg->errors[i];
		int n = e->line > 0 ? snprintf(buf + used, len - used, "%s%s:%d:%d: %s: %s",
					       i ? "; " : "", cfg->path, e->line, e->column, e->key,
					       e->message)
				    : snprintf(buf + used, len - used, "%s%s: %s: %s",
					       i ? "; " : "", cfg->path, e->key, e->message);

		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* Drops (or, with placeholder, replaces) every secret key in tree. */
static void strip_secrets(json_t *tree, const char *placeholder)
{
	for (const struct config_key *k = config_schema; k->path; k++) {
		const char *dot = strrchr(k->path, '.');
		json_t *parent;
		char parent_path[128];

		if (!(k->flags & CFG_SECRET) || !get_path(tree, k->path))
			continue;
		snprintf(parent_path, sizeof(parent_path), "%.*s", dot ? (int)(dot - k->path) : 0,
			 k->path);
		parent = dot ? get_path(tree, parent_path) : tree;
		if (placeholder)
			json_object_set_new(parent, dot ? dot + 1 : k->path,
					    json_string(placeholder));
		else
			json_object_del(parent, dot ? dot + 1 : k->path);
	}
}

char *config_text_for_role(const struct config *cfg, enum role role)
{
	static const char *const common_sections[] = {"supervisor", "clock"};
	const struct role_info *info = role_info(role);
	json_t *out = json_object(), *value;
	const char *key;
	char *text = NULL;

	if (!out || !info)
		goto out;
	json_object_foreach(cfg->root, key, value)
	{
		int wanted = !json_is_object(value) || role_receives_section(role, key);

		for (size_t i = 0; i < sizeof(common_sections) / sizeof(common_sections[0]); i++)
			wanted |= strcmp(key, common_sections[i]) == 0;
		if (wanted && json_object_set_new(out, key, json_deep_copy(value)) < 0)
			goto out;
	}
	if (!info->secret_holder)
		strip_secrets(out, NULL);
	text = json_dumps(out, JSON_COMPACT);
out:
	json_decref(out);
	return text;
}

char *config_text_redacted(const struct config *cfg)
{
	json_t *copy = json_deep_copy(cfg->file);
	char *text;

	if (!copy)
		return NULL;
	strip_secrets(copy, "(secret)");
	text = json_dumps(copy, JSON_SORT_KEYS | JSON_INDENT(2));
	json_decref(copy);
	return text;
}

int config_section_changed(const struct config *a, const struct config *b, const char *key)
{
	return !json_equal(json_object_get(a->root, key), json_object_get(b->root, key));
}

const char *config_mode_name(int mode)
{
	static const char *const names[] = {
		[MODE_SIM] = "sim", [MODE_PAPER] = "paper", [MODE_LIVE] = "live"};

	return (unsigned)mode < sizeof(names) / sizeof(names[0]) ? names[mode] : "unknown";
}

int config_log_level(const struct config *cfg)
{
	return LOG_LVL_CRIT + cfg->s.log_level;
}
