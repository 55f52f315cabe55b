/* The notifier worker: delivers every alert of the outbox to each sink it is routed to, in
 * order, marking each row per sink, and takes commands from the configured Telegram chats.
 * Its files: notifier.h. What may be sent twice after a kill -9: docs/architecture.md. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "workers/notifier.h"

#define LOG_BURST 256 /* log lines written in one turn of the loop */
#define UNMARKED_RETRY_MS 1000

void notifier_scrub(const struct notifier *n, const char *text, char *out, size_t len)
{
	size_t tl = strlen(n->token), o = 0;

	for (size_t i = 0; text[i] && o + 1 < len;) {
		if (tl && strncmp(text + i, n->token, tl) == 0) {
			o += (size_t)snprintf(out + o, len - o, "<token>");
			if (o >= len)
				o = len - 1;
			i += tl;
		} else {
			out[o++] = text[i++];
		}
	}
	out[o] = '\0';
}

static void on_pump_timer(uv_timer_t *t)
{
	notifier_pump(t->data);
}

void notifier_schedule(struct notifier *n, int64_t at_mono)
{
	int64_t now = clock_mono_ms(), delay = at_mono > now ? at_mono - now : 0;
	uint64_t due = uv_timer_get_due_in(&n->pump_timer);

	if (n->closing)
		return;
	/* Keep the earlier of the two wake-ups. */
	if (uv_is_active((uv_handle_t *)&n->pump_timer) && due <= (uint64_t)delay)
		return;
	uv_timer_start(&n->pump_timer, on_pump_timer, (uint64_t)delay, 0);
}

static unsigned all_sinks(const struct notifier *n)
{
	return n->nsinks >= 32 ? ~0u : (1u << n->nsinks) - 1;
}

static void mem_remove(struct notifier *n, int i)
{
	memmove(&n->mem[i], &n->mem[i + 1], (size_t)(n->nmem - i - 1) * sizeof(n->mem[0]));
	n->nmem--;
	for (int s = 0; s < n->nsinks; s++) {
		struct sink *k = &n->sinks[s];

		if (!k->busy || k->cur.id != 0)
			continue;
		if (k->cur.mem == i)
			k->cur.mem = -1;
		else if (k->cur.mem > i)
			k->cur.mem--;
	}
}

/* A copy from memory is delivered everywhere: its uid is remembered until its row comes. */
static void mem_finish(struct notifier *n, int i)
{
	struct notifier_uid *u = &n->uids[n->uid_head];

	memcpy(u->uid, n->mem[i].item.uid, sizeof(u->uid));
	u->done = n->mem[i].done;
	n->uid_head = (n->uid_head + 1) % NOTIFIER_UID_RING;
	mem_remove(n, i);
}

void notifier_sink_done(struct sink *s, enum sink_outcome outcome, int64_t wait_ms,
			const char *error)
{
	struct notifier *n = s->n;
	struct notifier_item *it = &s->cur;
	int index = (int)(s - n->sinks);
	int64_t now = clock_mono_ms(), delay;
	char clean[300];

	s->busy = 0;
	notifier_scrub(n, error ? error : "", clean, sizeof(clean));
	switch (outcome) {
	case SINK_SENT:
	case SINK_DROP:
		if (outcome == SINK_SENT) {
			s->sent++;
		} else {
			s->dropped++;
			log_warnx("%s: alert #%lld refused for good, not retried: %s", s->name,
				  (long long)it->id, clean);
		}
		if (it->id) {
			if (nob_mark(n, s, it->id, outcome == SINK_SENT ? "sent" : "failed",
				     clean) < 0)
				s->unmarked = 1; /* cur stays: marked before anything else */
		} else if (it->mem >= 0 && it->mem < n->nmem) {
			n->mem[it->mem].done |= 1u << index;
			if ((n->mem[it->mem].done & all_sinks(n)) == all_sinks(n))
				mem_finish(n, it->mem);
		}
		break;
	case SINK_RETRY:
		s->retries++;
		it->attempts++;
		delay = notifier_backoff_ms(it->attempts, n->cfg->retry_initial_ms,
					    n->cfg->retry_max_ms);
		if (wait_ms > delay)
			delay = wait_ms;
		if (s->blocked_until < now + delay)
			s->blocked_until = now + delay;
		log_msg(it->attempts == 1 ? LOG_LVL_WARN : LOG_LVL_INFO,
			"%s: alert #%lld not delivered (%s): attempt %d, next in %lld ms", s->name,
			(long long)it->id, clean, it->attempts, (long long)delay);
		if (it->id)
			nob_note_retry(n, s, it->id, it->attempts, clock_now_ms() + delay, clean);
		break;
	case SINK_DISABLE:
		s->disabled = 1;
		snprintf(s->error, sizeof(s->error), "%.*s", (int)sizeof(s->error) - 1, clean);
		/* Once, and kept: the rows stay pending for this sink until it is fixed. */
		log_errx("%s: permanent error, sink stopped until the notifier restarts: %s",
			 s->name, clean);
		nob_sink_state(n, s->name, "failed", clean);
		break;
	}
	notifier_schedule(n, now);
}

/* The next alert for s: a copy from memory first (the database refused its row), then the
 * oldest pending row. 1 when s->cur was filled. */
static int next_item(struct notifier *n, struct sink *s)
{
	int index = (int)(s - n->sinks);

	for (int i = 0; i < n->nmem; i++) {
		struct notifier_mem *m = &n->mem[i];

		if (m->done & (1u << index))
			continue;
		if (!notifier_routed(m->item.severity, s->min_severity)) {
			m->done |= 1u << index;
			if ((m->done & all_sinks(n)) == all_sinks(n)) {
				mem_finish(n, i);
				i--;
			}
			continue;
		}
		s->cur = m->item;
		s->cur.mem = i;
		return 1;
	}
	return nob_head(n, s, &s->cur) == 1;
}

/* Moves s on as far as it may now; returns when it next wants to run (INT64_MAX: on news). */
static int64_t run_sink(struct notifier *n, struct sink *s)
{
	int64_t now = clock_mono_ms();

	for (int burst = 0; burst < LOG_BURST; burst++) {
		if (s->busy || s->disabled)
			return INT64_MAX;
		if (s->blocked_until > now)
			return s->blocked_until;
		if (s->type == SINK_TELEGRAM && tg_rate_next(&s->rate, now) > now)
			return tg_rate_next(&s->rate, now);
		if (s->unmarked) {
			if (nob_mark(n, s, s->cur.id, "sent", "") < 0)
				return now + UNMARKED_RETRY_MS;
			s->unmarked = 0;
		}
		if (!next_item(n, s))
			return INT64_MAX;
		sink_send(s);
	}
	return now;
}

void notifier_pump(struct notifier *n)
{
	int64_t next = INT64_MAX, storm;

	if (n->closing)
		return;
	if (n->db) {
		nob_ingest(n);
		nob_storms(n);
	}
	for (int i = 0; i < n->nsinks; i++) {
		int64_t t = run_sink(n, &n->sinks[i]);

		if (t < next)
			next = t;
	}
	storm = storm_next(&n->storm);
	if (storm != INT64_MAX) {
		int64_t t = clock_mono_ms() + (int64_t)clock_timer_ms(storm - clock_now_ms());

		if (t < next)
			next = t;
	}
	if (next != INT64_MAX)
		notifier_schedule(n, next);
}

static void alert_stored(void *arg, int64_t id)
{
	struct notifier *n = arg;

	(void)id;
	notifier_schedule(n, clock_mono_ms());
}

static void mem_add(struct notifier *n, const struct ipc_alert_text *h, const char *text,
		    size_t len)
{
	struct notifier_item *it;

	if (n->nmem == NOTIFIER_MEM_MAX) {
		log_errx("%d alerts wait in memory already: \"%.*s\" is delivered once its row "
			 "is stored",
			 NOTIFIER_MEM_MAX, (int)len, text);
		return;
	}
	it = &n->mem[n->nmem].item;
	memset(it, 0, sizeof(*it));
	snprintf(it->uid, sizeof(it->uid), "%.*s", (int)sizeof(h->uid) - 1, h->uid);
	snprintf(it->severity, sizeof(it->severity), "%.*s", (int)sizeof(h->severity) - 1,
		 h->severity);
	snprintf(it->source, sizeof(it->source), "%.*s", (int)sizeof(h->source) - 1, h->source);
	snprintf(it->kind, sizeof(it->kind), "%.*s", (int)sizeof(h->kind) - 1, h->kind);
	snprintf(it->text, sizeof(it->text), "%.*s", (int)len, text);
	it->created_ms = h->created_ms;
	it->count = 1;
	n->mem[n->nmem].done = 0;
	n->nmem++;
	log_notice("alert \"%s\" from %s arrived as text (its row is not stored yet)", it->kind,
		   it->source);
}

/* The notifier's own alert that the database refused: into its memory queue directly. */
static void own_alert_kept(void *arg, const char *source, const struct outbox_pending *p)
{
	struct notifier *n = arg;
	struct ipc_alert_text h;

	memset(&h, 0, sizeof(h));
	snprintf(h.uid, sizeof(h.uid), "%s", p->uid);
	h.created_ms = p->created_ms;
	snprintf(h.severity, sizeof(h.severity), "%s", p->severity);
	snprintf(h.source, sizeof(h.source), "%s", source);
	snprintf(h.kind, sizeof(h.kind), "%s", p->kind);
	mem_add(n, &h, p->text, strlen(p->text));
	notifier_schedule(n, clock_mono_ms());
}

void notifier_alert(struct notifier *n, const char *severity, const char *kind, const char *fmt,
		    ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_warnx("%s", text);
	if (n->db)
		outbox_post(&n->outbox, severity, kind, text);
}

/* The token comes on NOTIFIER_TOKEN_FD, opened by the supervisor; it is read once and the
 * descriptor closed. 0 (token or none configured), -1 when configured but unusable. */
static int read_token(struct notifier *n)
{
	char buf[NOTIFIER_TOKEN_MAX + 2];
	ssize_t len;
	size_t k;

	if (!n->cfg->telegram.token_file[0])
		return 0;
	if (fcntl(NOTIFIER_TOKEN_FD, F_GETFD) < 0) {
		log_errx("telegram: no token descriptor from the supervisor: Telegram off");
		return -1;
	}
	len = pread(NOTIFIER_TOKEN_FD, buf, sizeof(buf) - 1, 0);
	close(NOTIFIER_TOKEN_FD);
	if (len < 0) {
		log_err("telegram: reading the token file");
		return -1;
	}
	buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	k = strspn(buf, "0123456789:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-");
	if (len == 0 || (size_t)len >= sizeof(n->token) || k != (size_t)len || !strchr(buf, ':')) {
		log_errx("%s: not a bot token (digits:letters on one line): Telegram off",
			 n->cfg->telegram.token_file);
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	memcpy(n->token, buf, (size_t)len + 1);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static void on_rescan(uv_timer_t *t)
{
	notifier_pump(t->data);
}

static int notifier_init(struct worker *w)
{
	struct notifier *n = calloc(1, sizeof(*n));
	struct http_client_config hc = {.user_agent = "tradingd-notifier"};

	if (!n)
		return -1;
	w->state = n;
	n->w = w;
	n->cfg = &w->cfg.s.notifier;
	n->locale = w->cfg.s.locale;
	uv_timer_init(w->loop, &n->pump_timer);
	uv_timer_init(w->loop, &n->rescan_timer);
	uv_timer_init(w->loop, &n->poll_timer);
	n->pump_timer.data = n->rescan_timer.data = n->poll_timer.data = n;
	read_token(n);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	n->http = http_client_new(w->loop, &hc);
	if (!n->http)
		return -1;
	storm_init(&n->storm, n->cfg->storm_window_s * 1000);
	notifier_sinks_build(n);
	/* A notifier without its database still delivers what arrives as text. */
	if (nob_open(n) < 0)
		log_errx("the outbox cannot be read: only alerts sent as text are delivered");
	else
		outbox_init(&n->outbox, n->db, "notifier", alert_stored, n);
	outbox_on_kept(&n->outbox, own_alert_kept);
	for (int i = 0; i < n->nsinks; i++)
		nob_sink_state(n, n->sinks[i].name, "ok", "");
	nob_forget_removed_sinks(n);
	n->update_offset = nob_offset_get(n);
	/* Before READY: what waited in the outbox is classified and on its way. */
	notifier_pump(n);
	uv_timer_start(&n->rescan_timer, on_rescan, (uint64_t)n->cfg->rescan_interval_ms,
		       (uint64_t)n->cfg->rescan_interval_ms);
	tg_poll_start(n);
	log_info("%d sinks, %s", n->nsinks, n->token[0] ? "Telegram on" : "Telegram off");
	return 0;
}

static void notifier_on_msg(struct worker *w, const struct ipc_hdr *hdr, const void *payload)
{
	struct notifier *n = w->state;

	if (hdr->type == IPC_ALERT) {
		notifier_schedule(n, clock_mono_ms());
	} else if (hdr->type == IPC_ALERT_TEXT) {
		struct ipc_alert_text h;

		/* The payload need not be aligned for the struct's int64. */
		memcpy(&h, payload, sizeof(h));
		mem_add(n, &h, (const char *)payload + sizeof(h), hdr->len - sizeof(h));
		notifier_schedule(n, clock_mono_ms());
	} else if (hdr->type == IPC_PROCS) {
		notifier_procs(n, payload, hdr->len);
	} else {
		log_warnx("unexpected %s", ipc_type_name(hdr->type));
	}
}

static void notifier_on_config(struct worker *w)
{
	struct notifier *n = w->state;

	n->cfg = &w->cfg.s.notifier;
	n->locale = w->cfg.s.locale;
	n->storm.window_ms = n->cfg->storm_window_s * 1000;
	for (int i = 0; i < n->nsinks; i++)
		if (n->sinks[i].type == SINK_LOG)
			n->sinks[i].min_severity = n->cfg->log_min_severity;
		else if (n->sinks[i].type == SINK_WEBHOOK)
			n->sinks[i].min_severity = n->cfg->webhook.min_severity;
		else
			n->sinks[i].min_severity = n->cfg->telegram.min_severity;
	/* Sinks, chats and the token are built at the start: the supervisor restarts this
	 * worker when they change (reload_rules[] in supervisor/supervisor.c). */
	log_notice("severities, locale, storm window, retries and timeouts applied");
}

static void notifier_status(struct worker *w, json_t *out)
{
	struct notifier *n = w->state;
	json_t *sinks = json_array();

	if (!n)
		return;
	for (int i = 0; i < n->nsinks; i++) {
		const struct sink *s = &n->sinks[i];

		json_array_append_new(sinks, json_pack("{s:s, s:s, s:I, s:I, s:I, s:s}", "name",
						       s->name, "state",
						       s->disabled ? "failed"
						       : s->busy   ? "sending"
								   : "ok",
						       "sent", (json_int_t)s->sent, "retries",
						       (json_int_t)s->retries, "dropped",
						       (json_int_t)s->dropped, "error", s->error));
	}
	json_object_set_new(out, "sinks", sinks);
	json_object_set_new(out, "alerts_ingested", json_integer((json_int_t)n->rows_ingested));
	json_object_set_new(out, "alerts_folded", json_integer((json_int_t)n->folded));
	json_object_set_new(out, "alerts_in_memory", json_integer(n->nmem));
	json_object_set_new(out, "commands", json_integer((json_int_t)n->commands));
	json_object_set_new(out, "foreign_chats_ignored",
			    json_integer((json_int_t)n->ignored_chats));
}

static void timer_closed(uv_handle_t *h)
{
	struct notifier *n = h->data;

	/* The last of the three frees the state: libuv runs close callbacks in no given order. */
	if (--n->open_timers > 0)
		return;
	nob_close(n);
	explicit_bzero(n->token, sizeof(n->token));
	free(n);
}

/* The HTTP client first (its cancelled callbacks still see the state), then the timers. */
static void http_closed(void *arg)
{
	struct notifier *n = arg;

	if (n->http)
		curl_global_cleanup();
	n->http = NULL;
	n->open_timers = 3;
	uv_close((uv_handle_t *)&n->pump_timer, timer_closed);
	uv_close((uv_handle_t *)&n->rescan_timer, timer_closed);
	uv_close((uv_handle_t *)&n->poll_timer, timer_closed);
}

static void notifier_stop(struct worker *w)
{
	struct notifier *n = w->state;

	if (!n)
		return;
	w->state = NULL;
	n->closing = 1;
	uv_timer_stop(&n->pump_timer);
	uv_timer_stop(&n->rescan_timer);
	uv_timer_stop(&n->poll_timer);
	if (n->http)
		http_client_close(n->http, http_closed, n);
	else
		http_closed(n);
}

const struct worker_ops notifier_ops = {
	.init = notifier_init,
	.on_msg = notifier_on_msg,
	.on_config = notifier_on_config,
	.status = notifier_status,
	.stop = notifier_stop,
};
