/* The one place every tradingd process reads time from.
 * Real time by default; a test clock (start instant, rate) makes a day pass in seconds. */
#ifndef TD_CLOCK_H
#define TD_CLOCK_H

#include <stdint.h>

/* Environment variable through which a parent hands its test clock to its children. */
#define CLOCK_ENV "TRADINGD_CLOCK"

/* Wall-clock and monotonic time of the host, in ms: for logs and for measuring real delays. */
int64_t clock_real_ms(void);
int64_t clock_mono_ms(void);
/* Monotonic time in microseconds: one clock that two processes on the host can compare. */
int64_t clock_mono_us(void);

/* Run on a test clock: "now" is start_ms at real instant anchor_real_ms (0: now), and advances
 * rate times faster than real time. Returns -1 when rate is not in (0, 100000]. */
int clock_set_test(int64_t start_ms, double rate, int64_t anchor_real_ms);
void clock_set_real(void);
/* Test-only: the test clock of this process jumps by ms (a wall-clock step). -1 when real. */
int clock_step_test(int64_t ms);
int clock_is_test(void);
double clock_rate(void);

/* The daemon's current time in ms since the epoch (UTC). */
int64_t clock_now_ms(void);

/* Real milliseconds to wait for clock_ms of daemon time to pass (at least 1 when clock_ms > 0). */
uint64_t clock_timer_ms(int64_t clock_ms);

/* Export the clock into CLOCK_ENV for children, and adopt a parent's from it.
 * clock_import_env returns 0 when absent, 1 when adopted, -1 when malformed. */
void clock_export_env(void);
int clock_import_env(void);

/* Parses "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)"; also a space for 'T'. Without a zone the
 * time is UTC only if assume_utc is set, else it is an error. Returns 0 or -1. */
int clock_parse_iso8601(const char *text, int assume_utc, int64_t *out_ms);

/* Formats ms since the epoch as "YYYY-MM-DDTHH:MM:SS" at offset_min minutes east of UTC. */
void clock_format(int64_t ms, int offset_min, char *buf, unsigned len);

/* Days since 1970-01-01 for a proleptic Gregorian date, and its inverse. */
int64_t clock_days_from_civil(int64_t y, unsigned m, unsigned d);
void clock_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
