/* The notifier's sinks as configured (the log, a webhook, one per Telegram chat), each with its
 * least severity; how an alert goes to the log or the webhook; what an HTTP answer means. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "workers/notifier.h"

#define WEBHOOK_MAX_BODY 65536

static struct sink *add_sink(struct notifier *n, enum sink_type type, const char *name,
			     int min_severity)
{
	struct sink *s = &n->sinks[n->nsinks++];

	memset(s, 0, sizeof(*s));
	s->n = n;
	s->type = type;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->min_severity = min_severity;
	return s;
}

int notifier_sinks_build(struct notifier *n)
{
	const struct config_notifier *c = n->cfg;
	char name[64];

	n->nsinks = 0;
	add_sink(n, SINK_LOG, "log", c->log_min_severity);
	if (c->webhook.url[0])
		add_sink(n, SINK_WEBHOOK, "webhook", c->webhook.min_severity);
	if (!n->token[0])
		return 0;
	for (size_t i = 0; i < c->telegram.chat_ids.n && n->nsinks < NOTIFIER_MAX_SINKS; i++) {
		const char *chat = c->telegram.chat_ids.v[i];
		struct sink *s;

		snprintf(name, sizeof(name), "telegram:%s", chat);
		s = add_sink(n, SINK_TELEGRAM, name, c->telegram.min_severity);
		snprintf(s->chat_id, sizeof(s->chat_id), "%s", chat);
		tg_rate_init(&s->rate, chat, c->telegram.chat_interval_ms,
			     (int)c->telegram.group_per_minute);
	}
	return 0;
}

static void log_sink(struct sink *s)
{
	const struct notifier_item *it = &s->cur;
	int level =
		notifier_severity(it->severity) == SEVERITY_INFO ? LOG_LVL_NOTICE : LOG_LVL_WARN;

	if (it->id == 0)
		log_msg(level, "alert %s [%s] from %s (%s, not stored yet): %s", it->uid,
			it->severity, it->source, it->kind, it->text);
	else if (it->count > 1)
		log_msg(level, "alert #%lld [%s] from %s (%s, %llu times): %s", (long long)it->id,
			it->severity, it->source, it->kind, (unsigned long long)it->count,
			it->text);
	else
		log_msg(level, "alert #%lld [%s] from %s (%s): %s", (long long)it->id, it->severity,
			it->source, it->kind, it->text);
	notifier_sink_done(s, SINK_SENT, 0, NULL);
}

enum sink_outcome sink_http_outcome(const struct http_response *r, long api_code, int64_t *wait_ms,
				    char *error, size_t len)
{
	long code = api_code ? api_code : r->status;

	*wait_ms = 0;
	if (r->err != HTTP_OK) {
		snprintf(error, len, "%s", http_err_name(r->err));
		return SINK_RETRY;
	}
	if (code >= 200 && code < 300)
		return SINK_SENT;
	snprintf(error, len, "HTTP %ld", code);
	if (code == 429 || code == 408 || code >= 500) {
		if (r->retry_after_s > 0)
			*wait_ms = r->retry_after_s * 1000;
		return SINK_RETRY;
	}
	if (code == 401 || code == 403 || code == 404 || code == 410)
		return SINK_DISABLE;
	return SINK_DROP;
}

static void webhook_done(const struct http_response *r, void *arg)
{
	struct sink *s = arg;
	char error[128];
	int64_t wait_ms;
	enum sink_outcome o;

	if (r->err == HTTP_ERR_CANCELLED)
		return;
	o = sink_http_outcome(r, 0, &wait_ms, error, sizeof(error));
	notifier_sink_done(s, o, wait_ms, o == SINK_SENT ? NULL : error);
}

static void webhook_sink(struct sink *s)
{
	struct notifier *n = s->n;
	struct notifier_item *it = &s->cur;
	static const char *const headers[] = {"Content-Type: application/json", NULL};
	char message[NOTIFIER_TEXT_MAX + 128];
	json_t *o;
	char *body;
	int rc;

	notifier_format_alert(n->locale, it->severity, it->kind, it->text, it->count, message,
			      sizeof(message));
	notifier_utf8_clean(message);
	notifier_utf8_clean(it->text);
	notifier_utf8_clean(it->kind);
	notifier_utf8_clean(it->source);
	notifier_utf8_clean(it->uid);
	o = json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:s}", "id", (json_int_t)it->id,
		      "uid", it->uid, "created_ms", (json_int_t)it->created_ms, "severity",
		      it->severity, "source", it->source, "kind", it->kind, "text", it->text,
		      "count", (json_int_t)it->count, "message", message);
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!body) {
		notifier_sink_done(s, SINK_RETRY, 0, "out of memory");
		return;
	}
	struct http_request req = {
		.method = "POST",
		.url = n->cfg->webhook.url,
		.headers = headers,
		.body = body,
		.body_len = strlen(body),
		.connect_timeout_ms = n->cfg->request_timeout_ms,
		.total_timeout_ms = n->cfg->request_timeout_ms,
		.max_body = WEBHOOK_MAX_BODY,
	};
	rc = http_request_start(n->http, &req, webhook_done, s, NULL);
	free(body);
	if (rc < 0)
		notifier_sink_done(s, SINK_RETRY, 0, "cannot start the request");
}

void sink_send(struct sink *s)
{
	char message[NOTIFIER_TEXT_MAX + 128];

	s->busy = 1;
	switch (s->type) {
	case SINK_LOG:
		log_sink(s);
		break;
	case SINK_WEBHOOK:
		webhook_sink(s);
		break;
	case SINK_TELEGRAM:
		notifier_format_alert(s->n->locale, s->cur.severity, s->cur.kind, s->cur.text,
				      s->cur.count, message, sizeof(message));
		notifier_utf8_clean(message);
		if (tg_send(s, message) < 0)
			notifier_sink_done(s, SINK_RETRY, 0, "cannot start the request");
		break;
	}
}
