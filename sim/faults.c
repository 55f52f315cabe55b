/* Fault rules injected at run time through /_sim/faults: latency, error statuses, bans,
 * malformed bodies, dropped connections and held requests, each scoped by path or group. */
#include "sim/sim_state.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *action_names[] = {
	[FA_LATENCY] = "latency",     [FA_STATUS] = "status", [FA_BAN] = "ban",
	[FA_MALFORMED] = "malformed", [FA_RESET] = "reset",   [FA_HANG] = "hang",
};

static const char *mode_names[] = {
	[MF_TRUNCATED] = "truncated",
	[MF_WRONG_TYPES] = "wrong_types",
	[MF_MISSING_FIELDS] = "missing_fields",
	[MF_NAN] = "nan",
	[MF_HUGE] = "huge",
	[MF_GARBAGE] = "garbage",
	[MF_EMPTY] = "empty",
};

const char *malformed_name(int mode)
{
	return mode >= 0 && mode <= MF_EMPTY ? mode_names[mode] : "?";
}

void faults_init(struct faults *f, uint64_t seed)
{
	memset(f, 0, sizeof(*f));
	f->next_id = 1;
	rng_seed(&f->rng, seed ^ 0xfa0171ULL);
}

void faults_clear(struct faults *f)
{
	f->nrules = 0;
	f->generation++;
}

static int lookup(const char *const *names, int n, const char *s)
{
	int i;

	for (i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], s) == 0)
			return i;
	return -1;
}

static int parse_rule(json_t *o, struct fault_rule *r, int64_t now_ms, char *err, size_t errlen)
{
	const char *s;
	json_t *v;
	int i;

	memset(r, 0, sizeof(*r));
	r->group = -1;
	r->rate = 1.0;
	r->count = -1;
	r->mb = 8;
	if (!json_is_object(o)) {
		snprintf(err, errlen, "a fault rule must be a JSON object");
		return -1;
	}
	s = json_string_value(json_object_get(o, "action"));
	if (!s || (i = lookup(action_names, FA_HANG + 1, s)) < 0) {
		snprintf(err, errlen,
			 "action must be one of latency, status, ban, malformed, reset, hang");
		return -1;
	}
	r->action = (enum fault_action)i;
	if ((s = json_string_value(json_object_get(o, "path_prefix"))))
		snprintf(r->path_prefix, sizeof(r->path_prefix), "%s", s);
	if ((s = json_string_value(json_object_get(o, "group"))) &&
	    (r->group = rl_group_parse(s)) < 0) {
		snprintf(err, errlen, "unknown group %s", s);
		return -1;
	}
	if ((v = json_object_get(o, "rate")) &&
	    (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1)) {
		snprintf(err, errlen, "rate must be a number in [0, 1]");
		return -1;
	}
	if (v)
		r->rate = json_number_value(v);
	if ((v = json_object_get(o, "count")) && json_is_integer(v) && json_integer_value(v) > 0)
		r->count = (int)json_integer_value(v);
	if ((v = json_object_get(o, "ms")) && json_is_integer(v) && json_integer_value(v) > 0)
		r->ms = json_integer_value(v);
	if ((v = json_object_get(o, "duration_ms")) && json_is_integer(v) &&
	    json_integer_value(v) > 0)
		r->expires_ms = now_ms + json_integer_value(v);
	if ((s = json_string_value(json_object_get(o, "phase"))) && strcmp(s, "after") == 0)
		r->after = 1;
	else if (s && strcmp(s, "before") != 0) {
		snprintf(err, errlen, "phase must be before or after");
		return -1;
	}
	switch (r->action) {
	case FA_STATUS:
		v = json_object_get(o, "status");
		if (json_is_integer(v)) {
			r->statuses[r->nstatuses++] = (int)json_integer_value(v);
		} else if (json_is_array(v)) {
			for (i = 0; i < (int)json_array_size(v) && r->nstatuses < 4; i++)
				if (json_is_integer(json_array_get(v, (size_t)i)))
					r->statuses[r->nstatuses++] = (int)json_integer_value(
						json_array_get(v, (size_t)i));
		}
		if ((v = json_object_get(o, "retry_after_s")) && json_is_integer(v))
			r->retry_after_s = (int)json_integer_value(v);
		if ((s = json_string_value(json_object_get(o, "retry_after_format"))) &&
		    strcmp(s, "date") == 0)
			r->retry_after_date = 1;
		if (!r->nstatuses) {
			r->statuses[0] = 500;
			r->nstatuses = 1;
		}
		for (i = 0; i < r->nstatuses; i++) {
			if (r->statuses[i] < 400 || r->statuses[i] > 599) {
				snprintf(err, errlen, "status must be 400..599");
				return -1;
			}
		}
		break;
	case FA_BAN:
		/* A ban is a window of time: it starts now. */
		if (r->ms <= 0)
			r->ms = 30000;
		if (!r->expires_ms)
			r->expires_ms = now_ms + r->ms;
		break;
	case FA_MALFORMED:
		s = json_string_value(json_object_get(o, "mode"));
		if (!s || (i = lookup(mode_names, MF_EMPTY + 1, s)) < 0) {
			snprintf(err, errlen,
				 "mode must be one of truncated, wrong_types, "
				 "missing_fields, nan, huge, garbage, empty");
			return -1;
		}
		r->mode = (enum malformed_mode)i;
		r->after = 1;
		if ((v = json_object_get(o, "mb")) && json_is_integer(v))
			r->mb = (int)json_integer_value(v);
		if (r->mb < 1 || r->mb > 1024) {
			snprintf(err, errlen, "mb must be 1..1024");
			return -1;
		}
		break;
	default:
		break;
	}
	return 0;
}

int faults_add_json(struct faults *f, json_t *body, int64_t now_ms, char *err, size_t errlen)
{
	json_t *rules = json_object_get(body, "rules");
	struct fault_rule tmp[FAULT_MAX_RULES];
	size_t i, n = json_is_array(rules) ? json_array_size(rules) : 1;

	if (rules && !json_is_array(rules)) {
		snprintf(err, errlen, "rules must be an array");
		return -1;
	}
	if (n == 0 || n + (size_t)f->nrules > FAULT_MAX_RULES) {
		snprintf(err, errlen, "between 1 and %d rules may be active", FAULT_MAX_RULES);
		return -1;
	}
	/* All or nothing: a bad rule in a list adds none of them. */
	for (i = 0; i < n; i++)
		if (parse_rule(rules ? json_array_get(rules, i) : body, &tmp[i], now_ms, err,
			       errlen) < 0)
			return -1;
	for (i = 0; i < n; i++) {
		tmp[i].id = f->next_id++;
		f->rules[f->nrules++] = tmp[i];
	}
	return (int)n;
}

json_t *faults_json(const struct faults *f)
{
	json_t *arr = json_array();
	int i, k;

	for (i = 0; i < f->nrules; i++) {
		const struct fault_rule *r = &f->rules[i];
		json_t *o = json_pack("{s:i,s:s,s:s,s:f,s:i,s:I,s:i}", "id", r->id, "action",
				      action_names[r->action], "phase",
				      r->after ? "after" : "before", "rate", r->rate, "count",
				      r->count, "ms", (json_int_t)r->ms, "fired", r->fired);

		if (r->path_prefix[0])
			json_object_set_new(o, "path_prefix", json_string(r->path_prefix));
		if (r->group >= 0)
			json_object_set_new(o, "group", json_string(rl_group_name(r->group)));
		if (r->action == FA_STATUS) {
			json_t *st = json_array();

			for (k = 0; k < r->nstatuses; k++)
				json_array_append_new(st, json_integer(r->statuses[k]));
			json_object_set_new(o, "status", st);
		}
		if (r->action == FA_MALFORMED) {
			json_object_set_new(o, "mode", json_string(mode_names[r->mode]));
			json_object_set_new(o, "mb", json_integer(r->mb));
		}
		json_array_append_new(arr, o);
	}
	return json_pack("{s:o}", "rules", arr);
}

static void remove_rule(struct faults *f, int i)
{
	memmove(&f->rules[i], &f->rules[i + 1], (size_t)(f->nrules - i - 1) * sizeof(f->rules[0]));
	f->nrules--;
}

void faults_plan(struct faults *f, const char *path, int group, int64_t now_ms,
		 struct fault_plan *plan)
{
	int i;

	memset(plan, 0, sizeof(*plan));
	plan->hang_ms = -1;
	for (i = 0; i < f->nrules; i++) {
		struct fault_rule *r = &f->rules[i];

		if (r->expires_ms && r->expires_ms <= now_ms) {
			remove_rule(f, i--);
			continue;
		}
		if ((r->path_prefix[0] && strncmp(path, r->path_prefix, strlen(r->path_prefix))) ||
		    (r->group >= 0 && r->group != group))
			continue;
		if (r->rate < 1.0 && rng_unit(&f->rng) >= r->rate)
			continue;
		switch (r->action) {
		case FA_LATENCY:
			plan->latency_ms += r->ms;
			break;
		case FA_HANG:
			if (plan->hang_ms >= 0)
				continue;
			plan->hang_ms = r->ms;
			plan->hang_after = r->after;
			break;
		case FA_STATUS:
			if (plan->status || plan->ban_ms || plan->reset)
				continue;
			plan->status = r->statuses[r->nstatuses > 1 ? (int)(rng_next(&f->rng) %
									    (uint64_t)r->nstatuses)
								    : 0];
			plan->status_after = r->after;
			plan->retry_after_s = r->retry_after_s;
			plan->retry_after_date = r->retry_after_date;
			break;
		case FA_BAN:
			if (plan->status || plan->ban_ms || plan->reset)
				continue;
			plan->ban_ms = r->expires_ms - now_ms;
			break;
		case FA_RESET:
			if (plan->status || plan->ban_ms || plan->reset)
				continue;
			plan->reset = r->after ? 2 : 1;
			break;
		case FA_MALFORMED:
			if (plan->malformed)
				continue;
			plan->malformed = (int)r->mode + 1;
			plan->mb = r->mb;
			break;
		}
		if (!plan->name[0])
			snprintf(plan->name, sizeof(plan->name), "%s", action_names[r->action]);
		r->fired++;
		if (r->count > 0 && --r->count == 0)
			remove_rule(f, i--);
	}
}

/* ---- body rewriting ---- */

static int is_decimal_string(const char *s)
{
	char *end;

	if (!*s)
		return 0;
	(void)strtod(s, &end);
	return *end == '\0';
}

static json_t *rewrite(json_t *v, enum malformed_mode mode)
{
	const char *key;
	json_t *item;
	size_t i;
	void *tmp;

	if (json_is_object(v)) {
		json_t *out = json_object();

		i = 0;
		json_object_foreach_safe(v, tmp, key, item)
		{
			/* missing_fields drops every other key, starting with the first. */
			if (mode == MF_MISSING_FIELDS && i++ % 2 == 0)
				continue;
			json_object_set_new(out, key, rewrite(item, mode));
		}
		return out;
	}
	if (json_is_array(v)) {
		json_t *out = json_array();

		for (i = 0; i < json_array_size(v); i++)
			json_array_append_new(out, rewrite(json_array_get(v, i), mode));
		return out;
	}
	if (mode == MF_WRONG_TYPES) {
		if (json_is_number(v)) {
			char buf[64];

			snprintf(buf, sizeof(buf), "%.17g", json_number_value(v));
			return json_string(buf);
		}
		if (json_is_string(v))
			return json_real(is_decimal_string(json_string_value(v))
						 ? strtod(json_string_value(v), NULL)
						 : 0.0);
	}
	if (mode == MF_NAN) {
		if (json_is_number(v))
			return json_string("__SIM_NAN__");
		if (json_is_string(v) && is_decimal_string(json_string_value(v)))
			return json_string("NaN");
	}
	return json_deep_copy(v);
}

/* Replaces every "__SIM_NAN__" (with its quotes) by a bare NaN, which JSON does not allow. */
static char *bare_nan(char *text)
{
	static const char pat[] = "\"__SIM_NAN__\"";
	char *p;

	while ((p = strstr(text, pat))) {
		memcpy(p, "NaN", 3);
		memmove(p + 3, p + sizeof(pat) - 1, strlen(p + sizeof(pat) - 1) + 1);
	}
	return text;
}

char *faults_malform(enum malformed_mode mode, const char *body, size_t len, size_t *outlen)
{
	static const char garbage[] = "<html><head><title>502 Bad Gateway</title></head><body>"
				      "\x01\x02\xff{[\"unterminated";
	char *out;
	json_t *j, *nj;

	*outlen = 0;
	switch (mode) {
	case MF_TRUNCATED:
		out = malloc(len / 2 + 1);
		if (!out)
			return NULL;
		memcpy(out, body, len / 2);
		*outlen = len / 2;
		return out;
	case MF_GARBAGE:
		*outlen = sizeof(garbage) - 1;
		return strdup(garbage);
	case MF_EMPTY:
	case MF_HUGE:
		return strdup("");
	default:
		break;
	}
	j = json_loadb(body, len, JSON_DECODE_ANY, NULL);
	if (!j) {
		out = malloc(len + 1);
		if (out) {
			memcpy(out, body, len);
			out[len] = '\0';
			*outlen = len;
		}
		return out;
	}
	nj = rewrite(j, mode);
	json_decref(j);
	out = json_dumps(nj, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
	json_decref(nj);
	if (out && mode == MF_NAN)
		bare_nan(out);
	if (out)
		*outlen = strlen(out);
	return out;
}
