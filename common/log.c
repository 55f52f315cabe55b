/* Logging for every tradingd process: one line per event, tagged with the role.
 * Under journald (JOURNAL_STREAM set) lines carry <N> priority prefixes instead of timestamps. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

static char log_role[32] = "tradingd";
static enum log_level log_level = LOG_LVL_INFO;
static int log_journal;

static const char *const level_names[] = {
	[LOG_LVL_CRIT] = "crit",     [LOG_LVL_ERR] = "err",   [LOG_LVL_WARN] = "warn",
	[LOG_LVL_NOTICE] = "notice", [LOG_LVL_INFO] = "info", [LOG_LVL_DEBUG] = "debug",
};

void log_init(const char *role)
{
	log_set_role(role);
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_set_role(const char *role)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

const char *log_level_name(int level)
{
	return level >= LOG_LVL_CRIT && level <= LOG_LVL_DEBUG ? level_names[level] : "unknown";
}

int log_level_parse(const char *name)
{
	for (int i = LOG_LVL_CRIT; i <= LOG_LVL_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

static void log_emit(enum log_level level, const char *fmt, va_list ap, const char *suffix)
{
	char msg[2048];
	char line[2200];

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_journal) {
		snprintf(line, sizeof(line), "<%d>%s: %s%s%s\n", (int)level, log_role, msg,
			 suffix ? ": " : "", suffix ? suffix : "");
	} else {
		char stamp[40];
		int64_t ms = clock_real_ms();
		time_t secs = (time_t)(ms / 1000);
		struct tm tm;

		gmtime_r(&secs, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(line, sizeof(line), "%s.%03dZ %s[%s]: %s%s%s\n", stamp, (int)(ms % 1000),
			 log_role, level_names[level], msg, suffix ? ": " : "",
			 suffix ? suffix : "");
	}
	/* One write per line so that lines of concurrent processes never interleave. */
	fputs(line, stderr);
	fflush(stderr);
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	log_emit(level, fmt, ap, NULL);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(level, fmt, ap, NULL);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	const char *why = strerror(errno);

	va_start(ap, fmt);
	log_emit(LOG_LVL_WARN, fmt, ap, why);
	va_end(ap);
}

void log_err(const char *fmt, ...)
{
	va_list ap;
	const char *why = strerror(errno);

	va_start(ap, fmt);
	log_emit(LOG_LVL_ERR, fmt, ap, why);
	va_end(ap);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	const char *why = strerror(errno);

	va_start(ap, fmt);
	log_emit(LOG_LVL_CRIT, fmt, ap, why);
	va_end(ap);
	exit(1);
}
