/* The notifier's state, shared by its files: notifier.c (the worker: IPC, timers, the pump),
 * notifier_outbox.c (SQLite), notifier_sinks.c (log and webhook; results), notifier_telegram.c
 * (sendMessage, getUpdates), notifier_commands.c (what a chat may ask). */
#ifndef TD_NOTIFIER_H
#define TD_NOTIFIER_H

#include <sqlite3.h>
#include <stdint.h>
#include <uv.h>

#include "common/outbox.h"
#include "ipc/ipc.h"
#include "workers/notifier_pure.h"
#include "workers/upbit/http_uv.h"
#include "workers/worker.h"

#define NOTIFIER_MAX_SINKS 18  /* log, webhook and up to 16 chats */
#define NOTIFIER_TEXT_MAX 3584 /* a status report fits; with its header, below Telegram's 4096 */
#define NOTIFIER_MEM_MAX 32    /* alerts received as text (IPC_ALERT_TEXT) not yet delivered */
#define NOTIFIER_UID_RING 64   /* ... and those delivered, until their row is stored */
#define NOTIFIER_TOKEN_MAX 256

/* One notification on its way to one sink. */
struct notifier_item {
	int64_t id; /* outbox row; 0 for an alert known from IPC_ALERT_TEXT only */
	int mem;    /* index in the memory queue when id == 0 */
	char uid[IPC_ALERT_UID_LEN];
	char severity[16], kind[48], source[32];
	char text[NOTIFIER_TEXT_MAX];
	int64_t created_ms;
	int attempts;
	uint64_t count; /* > 1 for a storm summary */
};

enum sink_type { SINK_LOG, SINK_WEBHOOK, SINK_TELEGRAM };

/* What one attempt came to. */
enum sink_outcome {
	SINK_SENT,
	SINK_RETRY,   /* worth again later (network, 5xx, 429) */
	SINK_DROP,    /* this message is refused for good; the next ones may pass */
	SINK_DISABLE, /* the sink itself is broken (bad token, chat not found, bad URL) */
};

struct notifier;

struct sink {
	struct notifier *n;
	enum sink_type type;
	char name[64]; /* "log", "webhook", "telegram:CHAT" */
	char chat_id[32];
	int min_severity;
	int busy; /* a request in flight for cur */
	int disabled;
	char error[256];
	int64_t blocked_until; /* monotonic: backoff, retry_after */
	struct tg_rate rate;
	struct notifier_item cur;
	int unmarked; /* cur was sent but its row not yet marked (the database refused) */
	uint64_t sent, retries, dropped;
};

struct notifier_mem {
	struct notifier_item item;
	unsigned done; /* bit per sink index */
};

struct notifier_uid {
	char uid[IPC_ALERT_UID_LEN];
	unsigned done;
};

enum notifier_stmt {
	NS_NEW_ROWS,
	NS_ADD_DELIVERY,
	NS_FOLD,
	NS_ROW_DONE,
	NS_HEAD,
	NS_MARK,
	NS_RETRY,
	NS_ROW,
	NS_ORPHAN_FOLDS,
	NS_SINK_STATE,
	NS_OFFSET_GET,
	NS_OFFSET_SET,
	NS_PENDING_SINKS,
	NS_SINK_DROP,
	NS_ROWS_SETTLED,
	NS_COUNT,
};

struct notifier {
	struct worker *w;
	const struct config_notifier *cfg;
	int locale;
	sqlite3 *db;
	sqlite3_stmt *st[NS_COUNT];
	struct outbox outbox; /* the notifier's own alerts (409 Conflict) */
	struct http_client *http;
	int closing;
	char token[NOTIFIER_TOKEN_MAX]; /* "" without Telegram; never logged */
	struct sink sinks[NOTIFIER_MAX_SINKS];
	int nsinks;
	struct storm storm;
	int64_t ingested; /* highest row classified */
	struct notifier_mem mem[NOTIFIER_MEM_MAX];
	int nmem;
	struct notifier_uid uids[NOTIFIER_UID_RING];
	int uid_head;
	uv_timer_t pump_timer, rescan_timer, poll_timer;
	int open_timers; /* while stopping */
	/* getUpdates */
	int polling, poll_disabled, conflict_alerted;
	int64_t update_offset;
	int poll_failures;
	uint64_t commands, ignored_chats, rows_ingested, folded;
	/* /status replies waiting for the supervisor's process table (IPC_PROCS). */
	struct {
		uint64_t id;
		char chat_id[32];
		char text[512];
	} asks[8];
	uint64_t ask_seq;
};

/* notifier.c */
void notifier_pump(struct notifier *n);
void notifier_schedule(struct notifier *n, int64_t at_mono);
/* A row or memory alert finished with a sink, however it ended. */
void notifier_sink_done(struct sink *s, enum sink_outcome outcome, int64_t wait_ms,
			const char *error);
/* text with the token replaced, for the log. */
void notifier_scrub(const struct notifier *n, const char *text, char *out, size_t len);
/* An alert of the notifier's own: stored in the outbox, then delivered like any. */
void notifier_alert(struct notifier *n, const char *severity, const char *kind, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));

/* notifier_outbox.c */
int nob_open(struct notifier *n);
void nob_close(struct notifier *n);
/* Classifies new rows (storm, routing) into deliveries; writes due storm summaries. */
int nob_ingest(struct notifier *n);
void nob_storms(struct notifier *n);
/* The oldest row still pending for s: 1 with *it filled, 0 when none, -1 on error. */
int nob_head(struct notifier *n, struct sink *s, struct notifier_item *it);
/* The sink is done with row id: state "sent", "failed" (or a retry noted). 0 or -1. */
int nob_mark(struct notifier *n, struct sink *s, int64_t id, const char *state, const char *error);
void nob_note_retry(struct notifier *n, struct sink *s, int64_t id, int attempts, int64_t next_ms,
		    const char *error);
void nob_sink_state(struct notifier *n, const char *sink, const char *state, const char *error);
int64_t nob_offset_get(struct notifier *n);
void nob_offset_set(struct notifier *n, int64_t offset);
/* At start: pending deliveries of a sink the config no longer has (a chat or the webhook
 * removed by a reload) are failed, so that their rows count as delivered and wait no more. */
void nob_forget_removed_sinks(struct notifier *n);

/* notifier_sinks.c */
int notifier_sinks_build(struct notifier *n);
/* Starts delivering it to s (s->cur); the result comes through notifier_sink_done. */
void sink_send(struct sink *s);
/* The HTTP answer of a webhook or Telegram request as an outcome. */
enum sink_outcome sink_http_outcome(const struct http_response *r, long api_code, int64_t *wait_ms,
				    char *error, size_t len);

/* notifier_telegram.c */
int tg_send(struct sink *s, const char *text);
/* The text of a reply, straight to a chat (not through the outbox: it is no alert). */
void tg_reply(struct notifier *n, const char *chat_id, const char *text);
void tg_poll_start(struct notifier *n);

/* notifier_commands.c: the reply to one command text from a configured chat, in out; "" when
 * it follows later (/status waits for the supervisor's process table). */
void notifier_command(struct notifier *n, const char *chat_id, const char *text, char *out,
		      size_t len);
/* The supervisor's answer (IPC_PROCS): completes the /status it belongs to. */
void notifier_procs(struct notifier *n, const void *payload, uint32_t len);

#endif
