/* Logging for every tradingd process: one line per event, tagged with the role.
 * Under journald (JOURNAL_STREAM set) lines carry <N> priority prefixes instead of timestamps. */
#ifndef TD_LOG_H
#define TD_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_CRIT = 2,
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

void log_init(const char *role);
void log_set_role(const char *role);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "debug", "info", "notice", "warn", "err", "crit"; -1 when unknown. */
int log_level_parse(const char *name);
/* "info" for LOG_LVL_INFO; "unknown" outside the levels. */
const char *log_level_name(int level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_errx(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
/* log_warn/log_err append strerror(errno), as OpenBSD's log_warn does. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Broken invariant or a malformed message from our own peer: log and exit(1). */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
