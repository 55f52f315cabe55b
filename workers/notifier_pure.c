/* The notifier's decisions that need no I/O: severity routing, storm coalescing, Telegram's
 * rate limits, and the wording of messages. Unit-tested in tests/unit/test_notifier_pure.c. */
#include "workers/notifier_pure.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int notifier_severity(const char *word)
{
	if (word && strcmp(word, "info") == 0)
		return SEVERITY_INFO;
	if (word && strcmp(word, "critical") == 0)
		return SEVERITY_CRITICAL;
	return SEVERITY_WARNING;
}

int notifier_routed(const char *severity, int min_severity)
{
	return notifier_severity(severity) >= min_severity;
}

void storm_init(struct storm *s, int64_t window_ms)
{
	memset(s, 0, sizeof(*s));
	s->window_ms = window_ms;
}

enum storm_verdict storm_admit(struct storm *s, const char *kind, int severity, int64_t id,
			       int64_t now)
{
	struct storm_kind *free_slot = NULL;

	if (s->window_ms <= 0)
		return STORM_LEAD;
	for (int i = 0; i < STORM_KINDS; i++) {
		struct storm_kind *k = &s->k[i];

		if (k->window_end == 0) {
			if (!free_slot)
				free_slot = k;
			continue;
		}
		if (strncmp(k->kind, kind, STORM_KIND_LEN - 1) != 0)
			continue;
		if (now < k->window_end) {
			k->folded++;
			k->last_folded_id = id;
			if (severity > k->worst)
				k->worst = severity;
			return STORM_FOLD;
		}
		/* An ended window still waiting for storm_due: this one leads a new window only
		 * after the summary, so it is folded into the summary too. */
		if (k->folded) {
			k->folded++;
			k->last_folded_id = id;
			return STORM_FOLD;
		}
		free_slot = k;
		break;
	}
	/* With every slot busy the alert goes out alone: storms of 64 kinds at once are not
	 * worth losing an alert over. */
	if (free_slot) {
		memset(free_slot, 0, sizeof(*free_slot));
		snprintf(free_slot->kind, sizeof(free_slot->kind), "%s", kind);
		free_slot->window_end = now + s->window_ms;
		free_slot->lead_id = id;
		free_slot->worst = severity;
	}
	return STORM_LEAD;
}

int storm_due(struct storm *s, int64_t now, struct storm_kind *out)
{
	for (int i = 0; i < STORM_KINDS; i++) {
		struct storm_kind *k = &s->k[i];

		if (k->window_end == 0 || now < k->window_end)
			continue;
		if (k->folded) {
			*out = *k;
			memset(k, 0, sizeof(*k));
			return 1;
		}
		memset(k, 0, sizeof(*k));
	}
	return 0;
}

int64_t storm_next(const struct storm *s)
{
	int64_t next = INT64_MAX;

	for (int i = 0; i < STORM_KINDS; i++)
		if (s->k[i].window_end && s->k[i].window_end < next)
			next = s->k[i].window_end;
	return next;
}

void tg_rate_init(struct tg_rate *r, const char *chat_id, int64_t interval_ms, int per_minute)
{
	memset(r, 0, sizeof(*r));
	r->group = chat_id[0] == '-';
	r->interval_ms = interval_ms;
	r->per_minute = per_minute < 1		      ? 1
			: per_minute > RATE_GROUP_MAX ? RATE_GROUP_MAX
						      : per_minute;
	r->last = INT64_MIN / 2;
}

int64_t tg_rate_next(const struct tg_rate *r, int64_t now)
{
	int64_t next = r->last + r->interval_ms;

	/* The ring holds the last per_minute sends: the oldest must be a minute old. */
	if (r->group && r->n == r->per_minute) {
		int64_t oldest = r->sent[r->head];

		if (oldest + 60000 > next)
			next = oldest + 60000;
	}
	return next > now ? next : now;
}

void tg_rate_sent(struct tg_rate *r, int64_t now)
{
	r->last = now;
	if (!r->group)
		return;
	if (r->n < r->per_minute) {
		r->sent[(r->head + r->n) % r->per_minute] = now;
		r->n++;
	} else {
		r->sent[r->head] = now;
		r->head = (r->head + 1) % r->per_minute;
	}
}

int64_t notifier_backoff_ms(int attempts, int64_t initial_ms, int64_t max_ms)
{
	int64_t d = initial_ms;

	for (int i = 1; i < attempts && d < max_ms; i++)
		d *= 2;
	return d < max_ms ? d : max_ms;
}

/* digits of an unsigned value grouped by three with commas. */
static void group3(uint64_t v, char *buf, size_t len)
{
	char raw[32], out[48];
	int n = snprintf(raw, sizeof(raw), "%" PRIu64, v), o = 0;

	for (int i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = raw[i];
	}
	out[o] = '\0';
	snprintf(buf, len, "%s", out);
}

void notifier_format_krw(dec8 v, int locale, char *buf, size_t len)
{
	/* Magnitude in unsigned arithmetic: -INT64_MIN does not fit an int64. */
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	uint64_t won = mag / (uint64_t)DEC8_ONE;
	char digits[48];

	if (mag % (uint64_t)DEC8_ONE >= (uint64_t)DEC8_ONE / 2)
		won++;
	group3(won, digits, sizeof(digits));
	snprintf(buf, len, "%s%s%s", v < 0 && won ? "-" : "", digits,
		 locale == LOCALE_KO ? "원" : " KRW");
}

void notifier_format_volume(dec8 v, char *buf, size_t len)
{
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	char whole[48], frac[16];
	uint64_t f = mag % (uint64_t)DEC8_ONE;
	int places = DEC8_PLACES;

	group3(mag / (uint64_t)DEC8_ONE, whole, sizeof(whole));
	while (places > 0 && f % 10 == 0 && f) {
		f /= 10;
		places--;
	}
	if (f)
		snprintf(frac, sizeof(frac), ".%0*" PRIu64, places, f);
	else
		frac[0] = '\0';
	snprintf(buf, len, "%s%s%s", v < 0 ? "-" : "", whole, frac);
}

/* Length of the valid UTF-8 sequence at s, 0 when there is none (overlong forms, surrogates
 * and code points past U+10FFFF are invalid too). */
static int utf8_len(const unsigned char *s)
{
	int n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xE0) == 0xC0)
		n = 2, cp = s[0] & 0x1F;
	else if ((s[0] & 0xF0) == 0xE0)
		n = 3, cp = s[0] & 0x0F;
	else if ((s[0] & 0xF8) == 0xF0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

void notifier_utf8_clean(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		int n = utf8_len(p);

		if (n == 0) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

static const char *const severity_words[2][3] = {
	[LOCALE_EN] = {"INFO", "WARNING", "CRITICAL"},
	[LOCALE_KO] = {"정보", "경고", "심각"},
};

static const char *const phrases[2][PH_COUNT] = {
	[LOCALE_EN] =
		{
			[PH_HELP] = "Commands: /status, /positions, /pnl, /pause, /resume, /help",
			[PH_PAUSED] = "Trading paused.",
			[PH_RESUMED] = "Trading resumed.",
			[PH_ALREADY_PAUSED] = "Trading was already paused.",
			[PH_NOT_PAUSED] = "Trading was not paused.",
			[PH_STATUS] =
				"Mode %s, trading %s, %d open positions, %d alerts undelivered",
			[PH_NO_POSITIONS] = "No open positions.",
			[PH_POSITIONS] = "Open positions:",
			[PH_PNL] = "%s: realised %s, fees %s, %d fills",
			[PH_STORM] = "(%llu more in %lld s)",
			[PH_TRADING_RUNNING] = "running",
			[PH_TRADING_PAUSED] = "paused",
			[PH_FAILED] = "Could not do that: the database refused it.",
		},
	[LOCALE_KO] =
		{
			[PH_HELP] = "명령: /status, /positions, /pnl, /pause, /resume, /help",
			[PH_PAUSED] = "거래를 일시 중지했습니다.",
			[PH_RESUMED] = "거래를 재개했습니다.",
			[PH_ALREADY_PAUSED] = "이미 일시 중지 상태입니다.",
			[PH_NOT_PAUSED] = "일시 중지 상태가 아닙니다.",
			[PH_STATUS] = "모드 %s, 거래 %s, 보유 포지션 %d개, 미전송 알림 %d건",
			[PH_NO_POSITIONS] = "보유 포지션이 없습니다.",
			[PH_POSITIONS] = "보유 포지션:",
			[PH_PNL] = "%s: 실현 손익 %s, 수수료 %s, 체결 %d건",
			[PH_STORM] = "(%llu건 더, %lld초 동안)",
			[PH_TRADING_RUNNING] = "진행 중",
			[PH_TRADING_PAUSED] = "일시 중지",
			[PH_FAILED] = "처리하지 못했습니다: 데이터베이스가 거부했습니다.",
		},
};

const char *notifier_phrase(int locale, enum notifier_phrase p)
{
	return phrases[locale == LOCALE_KO ? LOCALE_KO : LOCALE_EN][p];
}

void notifier_format_alert(int locale, const char *severity, const char *kind, const char *text,
			   uint64_t count, char *buf, size_t len)
{
	int l = locale == LOCALE_KO ? LOCALE_KO : LOCALE_EN;
	const char *word = severity_words[l][notifier_severity(severity)];

	if (count > 1)
		snprintf(buf, len, "[%s] %s ×%llu\n%s", word, kind, (unsigned long long)count,
			 text);
	else
		snprintf(buf, len, "[%s] %s\n%s", word, kind, text);
}
