/* The notifier's decisions that need no I/O: severity routing, storm coalescing, Telegram's
 * rate limits, and the wording of messages (English or Korean, KRW as people read it). */
#ifndef TD_NOTIFIER_PURE_H
#define TD_NOTIFIER_PURE_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/dec8.h"

/* SEVERITY_* of "info", "warning" or "critical"; anything else counts as warning (an alert
 * with a misspelt severity is still worth sending). */
int notifier_severity(const char *word);
/* 1 when an alert of severity (word) goes to a sink whose least severity is min. */
int notifier_routed(const char *severity, int min_severity);

/* Storm control: the first alert of a kind passes (a lead); repeats within the window are
 * folded into it, counted, and summarised once the window is over. */
#define STORM_KINDS 64
#define STORM_KIND_LEN 48
struct storm_kind {
	char kind[STORM_KIND_LEN];
	int64_t window_end;	/* daemon time; 0: free slot */
	int64_t lead_id;	/* the row that was sent */
	uint64_t folded;	/* repeats since */
	int64_t last_folded_id; /* the newest repeat */
	int worst;		/* SEVERITY_* of the worst repeat */
};
struct storm {
	int64_t window_ms;
	struct storm_kind k[STORM_KINDS];
};
enum storm_verdict { STORM_LEAD, STORM_FOLD };
void storm_init(struct storm *s, int64_t window_ms);
enum storm_verdict storm_admit(struct storm *s, const char *kind, int severity, int64_t id,
			       int64_t now);
/* A kind whose window ended with repeats: copied to *out and its slot freed. 1 when one was
 * found, 0 when none is due. Windows without repeats are freed silently. */
int storm_due(struct storm *s, int64_t now, struct storm_kind *out);
/* The earliest window end, or INT64_MAX when nothing waits. */
int64_t storm_next(const struct storm *s);

/* Telegram's limits for one chat: interval_ms between messages; for a group (an id starting
 * with '-') also at most per_minute in any 60 s. Times are monotonic ms. */
#define RATE_GROUP_MAX 1000
struct tg_rate {
	int group;
	int64_t interval_ms, last;
	int per_minute;
	int64_t sent[RATE_GROUP_MAX]; /* ring of the group's last sends */
	int head, n;
};
void tg_rate_init(struct tg_rate *r, const char *chat_id, int64_t interval_ms, int per_minute);
/* The earliest time a message may be sent (<= now: at once). */
int64_t tg_rate_next(const struct tg_rate *r, int64_t now);
void tg_rate_sent(struct tg_rate *r, int64_t now);
/* Delay before retry number attempts (1, 2, ...): initial doubled each time, capped. */
int64_t notifier_backoff_ms(int attempts, int64_t initial_ms, int64_t max_ms);

/* KRW as people read it: whole won, thousands grouped, rounded half away from zero:
 * "1,234,567 KRW" (LOCALE_EN) or "1,234,567원" (LOCALE_KO). */
void notifier_format_krw(dec8 v, int locale, char *buf, size_t len);
/* A volume without trailing zeros, grouped the same way: "1,234.5". */
void notifier_format_volume(dec8 v, char *buf, size_t len);
/* One alert as a message: "[CRITICAL] crash_loop\ntext", the count appended when > 1. */
void notifier_format_alert(int locale, const char *severity, const char *kind, const char *text,
			   uint64_t count, char *buf, size_t len);
/* Replaces in place each byte that is not part of valid UTF-8 with '?': a JSON body (Telegram,
 * the webhook) must be UTF-8, and one bad alert must not block a sink forever. */
void notifier_utf8_clean(char *s);

/* The notifier's own sentences, by locale. */
enum notifier_phrase {
	PH_HELP,
	PH_PAUSED,
	PH_RESUMED,
	PH_ALREADY_PAUSED,
	PH_NOT_PAUSED,
	PH_STATUS, /* mode, trading state, positions, undelivered alerts */
	PH_NO_POSITIONS,
	PH_POSITIONS, /* title */
	PH_PNL,	      /* day, realised, fees, fills */
	PH_STORM,     /* count, window s, kind */
	PH_TRADING_RUNNING,
	PH_TRADING_PAUSED,
	PH_FAILED,
	PH_COUNT,
};
const char *notifier_phrase(int locale, enum notifier_phrase p);

#endif
