/* The Telegram Bot API: sendMessage for alerts and replies, and long-polling getUpdates for the
 * commands of the configured chats. The token is in every URL: no URL is ever logged. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "workers/notifier.h"

#define TG_MAX_BODY (1u << 20)
#define TG_MESSAGE_MAX 4096 /* Telegram's limit of one message, in characters */
#define POLL_RETRY_MAX_MS 30000

static const char *const json_headers[] = {"Content-Type: application/json", NULL};

static void method_url(const struct notifier *n, const char *method, char *url, size_t len)
{
	const char *base = n->cfg->telegram.base_url;
	size_t b = strlen(base);

	while (b > 0 && base[b - 1] == '/')
		b--;
	snprintf(url, len, "%.*s/bot%s/%s", (int)b, base, n->token, method);
}

/* The Bot API's answer: {"ok":..., "error_code":..., "description":..., "parameters":
 * {"retry_after": s}}. api_code is 0 when ok (or unreadable). */
struct tg_answer {
	json_t *root;
	int ok;
	long api_code;
	long retry_after_s;
	char description[160];
};

static void tg_parse(const struct http_response *r, struct tg_answer *a)
{
	json_error_t jerr;
	json_t *params;

	memset(a, 0, sizeof(*a));
	a->retry_after_s = -1;
	if (r->err != HTTP_OK || !r->body_len)
		return;
	a->root = json_loadb(r->body, r->body_len, 0, &jerr);
	if (!json_is_object(a->root))
		return;
	a->ok = json_is_true(json_object_get(a->root, "ok"));
	if (!a->ok)
		a->api_code = (long)json_integer_value(json_object_get(a->root, "error_code"));
	snprintf(a->description, sizeof(a->description), "%s",
		 json_string_value(json_object_get(a->root, "description"))
			 ? json_string_value(json_object_get(a->root, "description"))
			 : "");
	params = json_object_get(a->root, "parameters");
	if (json_is_integer(json_object_get(params, "retry_after")))
		a->retry_after_s = (long)json_integer_value(json_object_get(params, "retry_after"));
}

static int bad_token(long code)
{
	/* The Bot API answers 401 to a revoked token and 404 to a malformed one. */
	return code == 401 || code == 404;
}

static void tg_send_done(const struct http_response *r, void *arg)
{
	struct sink *s = arg;
	struct notifier *n = s->n;
	struct tg_answer a;
	char error[256];
	int64_t wait_ms;
	enum sink_outcome o;

	if (r->err == HTTP_ERR_CANCELLED)
		return;
	tg_parse(r, &a);
	o = sink_http_outcome(r, a.ok ? 200 : a.api_code, &wait_ms, error, sizeof(error));
	if (o != SINK_SENT && a.description[0])
		snprintf(error + strlen(error), sizeof(error) - strlen(error), ": %s",
			 a.description);
	if (o == SINK_RETRY && a.retry_after_s > 0) {
		/* The limit is the bot's: every chat waits. */
		wait_ms = a.retry_after_s * 1000;
		for (int i = 0; i < n->nsinks; i++)
			if (n->sinks[i].type == SINK_TELEGRAM &&
			    n->sinks[i].blocked_until < clock_mono_ms() + wait_ms)
				n->sinks[i].blocked_until = clock_mono_ms() + wait_ms;
		log_notice("telegram: 429 Too Many Requests: waiting %ld s as asked",
			   a.retry_after_s);
	}
	if (o == SINK_DROP &&
	    (strstr(a.description, "chat not found") || strstr(a.description, "chat_id is empty")))
		o = SINK_DISABLE;
	if (o == SINK_DISABLE &&
	    bad_token(r->err == HTTP_OK ? (a.api_code ? a.api_code : r->status) : 0)) {
		for (int i = 0; i < n->nsinks; i++)
			if (n->sinks[i].type == SINK_TELEGRAM && &n->sinks[i] != s &&
			    !n->sinks[i].disabled) {
				n->sinks[i].disabled = 1;
				snprintf(n->sinks[i].error, sizeof(n->sinks[i].error),
					 "bot token refused: %s", error);
				nob_sink_state(n, n->sinks[i].name, "failed", n->sinks[i].error);
			}
		n->poll_disabled = 1;
	}
	json_decref(a.root);
	notifier_sink_done(s, o, wait_ms, o == SINK_SENT ? NULL : error);
}

static int post_message(struct notifier *n, const char *chat_id, const char *text,
			http_done_cb done, void *arg)
{
	char url[1024];
	json_t *o;
	char *body;
	int rc;

	char clean[TG_MESSAGE_MAX + 1];
	size_t len;

	/* Telegram takes UTF-8 and at most 4096 characters: cut before a continuation byte. */
	snprintf(clean, sizeof(clean), "%s", text);
	len = strlen(clean);
	while (len > 0 && ((unsigned char)clean[len - 1] & 0xC0) == 0x80 && len == TG_MESSAGE_MAX)
		clean[--len] = '\0';
	notifier_utf8_clean(clean);
	method_url(n, "sendMessage", url, sizeof(url));
	o = json_pack("{s:s, s:s, s:b}", "chat_id", chat_id, "text", clean,
		      "disable_web_page_preview", 1);
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!body)
		return -1;
	struct http_request req = {
		.method = "POST",
		.url = url,
		.headers = json_headers,
		.body = body,
		.body_len = strlen(body),
		.connect_timeout_ms = n->cfg->request_timeout_ms,
		.total_timeout_ms = n->cfg->request_timeout_ms,
		.max_body = TG_MAX_BODY,
	};
	rc = http_request_start(n->http, &req, done, arg, NULL);
	explicit_bzero(url, sizeof(url));
	free(body);
	return rc < 0 ? -1 : 0;
}

int tg_send(struct sink *s, const char *text)
{
	tg_rate_sent(&s->rate, clock_mono_ms());
	return post_message(s->n, s->chat_id, text, tg_send_done, s);
}

static void reply_done(const struct http_response *r, void *arg)
{
	struct notifier *n = arg;

	if (r->err == HTTP_ERR_CANCELLED)
		return;
	if (r->err != HTTP_OK || r->status != 200)
		log_warnx("telegram: a command reply was not sent: %s, HTTP %ld",
			  http_err_name(r->err), r->status);
	(void)n;
}

void tg_reply(struct notifier *n, const char *chat_id, const char *text)
{
	if (post_message(n, chat_id, text, reply_done, n) < 0)
		log_warnx("telegram: cannot send a command reply");
}

static int chat_configured(const struct notifier *n, const char *chat)
{
	const struct config_list *ids = &n->cfg->telegram.chat_ids;

	for (size_t i = 0; i < ids->n; i++)
		if (strcmp(ids->v[i], chat) == 0)
			return 1;
	return 0;
}

/* A printable, short form of what a foreign chat sent, for the log. */
static void log_form(const char *text, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; text[i] && o + 1 < len && i < 40; i++)
		out[o++] = (text[i] >= 0x20 && text[i] < 0x7f) ? text[i] : '?';
	out[o] = '\0';
}

static void handle_update(struct notifier *n, json_t *u)
{
	json_t *msg = json_object_get(u, "message");
	json_t *chat = json_object_get(json_object_get(msg, "chat"), "id");
	const char *text = json_string_value(json_object_get(msg, "text"));
	char chat_id[32], reply[2048], shown[48];

	if (!json_is_integer(chat) || !text)
		return;
	snprintf(chat_id, sizeof(chat_id), "%" JSON_INTEGER_FORMAT, json_integer_value(chat));
	if (!chat_configured(n, chat_id)) {
		n->ignored_chats++;
		log_form(text, shown, sizeof(shown));
		log_warnx(
			"telegram: \"%s\" from chat %s ignored: not in notifier.telegram.chat_ids",
			shown, chat_id);
		return;
	}
	n->commands++;
	notifier_command(n, chat_id, text, reply, sizeof(reply));
	if (reply[0])
		tg_reply(n, chat_id, reply);
}

static void on_poll_timer(uv_timer_t *t)
{
	tg_poll_start(t->data);
}

static void poll_later(struct notifier *n)
{
	int64_t d = notifier_backoff_ms(++n->poll_failures, n->cfg->retry_initial_ms,
					POLL_RETRY_MAX_MS);

	uv_timer_start(&n->poll_timer, on_poll_timer, (uint64_t)d, 0);
}

static void poll_done(const struct http_response *r, void *arg)
{
	struct notifier *n = arg;
	struct tg_answer a;
	json_t *result, *u;
	size_t i;
	long code;

	n->polling = 0;
	if (r->err == HTTP_ERR_CANCELLED || n->closing)
		return;
	tg_parse(r, &a);
	code = a.ok ? 200 : a.api_code ? a.api_code : r->status;
	if (r->err != HTTP_OK) {
		poll_later(n);
	} else if (code == 409) {
		/* Telegram lets one getUpdates poller per token: another daemon holds it. */
		if (!n->conflict_alerted) {
			n->conflict_alerted = 1;
			notifier_alert(n, OUTBOX_CRITICAL, "telegram_conflict",
				       "Telegram getUpdates answered 409 Conflict: another process "
				       "polls with this bot token (a second tradingd?)");
		}
		poll_later(n);
	} else if (bad_token(code)) {
		log_errx("telegram: getUpdates: the bot token is refused (HTTP %ld): commands off",
			 code);
		nob_sink_state(n, "telegram-updates", "failed", "bot token refused");
		n->poll_disabled = 1;
	} else if (code != 200 || !json_is_array(result = json_object_get(a.root, "result"))) {
		log_warnx("telegram: getUpdates: HTTP %ld %s", code, a.description);
		poll_later(n);
	} else {
		int64_t offset = n->update_offset;

		n->poll_failures = 0;
		json_array_foreach(result, i, u)
		{
			json_int_t id = json_integer_value(json_object_get(u, "update_id"));

			if (id + 1 > offset)
				offset = id + 1;
			/* Each update once: the offset is stored before the command acts. */
			if (id >= n->update_offset) {
				n->update_offset = id + 1;
				nob_offset_set(n, n->update_offset);
				handle_update(n, u);
			}
		}
		n->update_offset = offset;
		tg_poll_start(n);
	}
	json_decref(a.root);
}

void tg_poll_start(struct notifier *n)
{
	char url[1200];
	int64_t t = n->cfg->telegram.poll_timeout_s;
	int rc;

	if (n->polling || n->poll_disabled || n->closing || !n->token[0] ||
	    !n->cfg->telegram.commands)
		return;
	method_url(n, "getUpdates", url, sizeof(url));
	snprintf(url + strlen(url), sizeof(url) - strlen(url),
		 "?offset=%lld&timeout=%lld&allowed_updates=%%5B%%22message%%22%%5D",
		 (long long)n->update_offset, (long long)t);
	struct http_request req = {
		.method = "GET",
		.url = url,
		.connect_timeout_ms = n->cfg->request_timeout_ms,
		.total_timeout_ms = (long)(t * 1000 + n->cfg->request_timeout_ms),
		.max_body = TG_MAX_BODY,
	};
	rc = http_request_start(n->http, &req, poll_done, n, NULL);
	explicit_bzero(url, sizeof(url));
	if (rc < 0)
		poll_later(n);
	else
		n->polling = 1;
}
