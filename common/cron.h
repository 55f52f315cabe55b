/* Cron expressions (5 or 6 fields, names, steps, @macros; Vixie dom/dow rule) and their exact
 * next fire time in a named zone, with an explicit policy for DST gaps and overlaps. */
#ifndef TD_CRON_H
#define TD_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "common/tzone.h"

/* cron_next gives up (returns -1) when nothing fires within this many years. */
#define CRON_HORIZON_YEARS 9

/* A local time that does not exist (spring forward): skipped, or run at the gap's end. */
enum cron_gap { CRON_GAP_SKIP, CRON_GAP_RUN_LATE };
/* A local time that occurs twice (fall back): at its first instant only, or at both. */
enum cron_overlap { CRON_OVERLAP_ONCE, CRON_OVERLAP_BOTH };

#define CRON_DOM_STAR 1 /* the day-of-month field began with '*' */
#define CRON_DOW_STAR 2 /* the day-of-week field began with '*' */

/* One bit per allowed value; dow bit 0 is Sunday (7 is folded into it). */
struct cron_expr {
	uint64_t sec, min;
	uint32_t hour, dom; /* dom: bits 1..31 */
	uint16_t mon;	    /* bits 1..12 */
	uint8_t dow;	    /* bits 0..6 */
	uint8_t flags;
};

/* Parses "min hour dom mon dow", "sec min hour dom mon dow" or an @macro (@hourly, @daily,
 * @midnight, @weekly, @monthly, @yearly, @annually). Returns 0, or -1 with a message such as
 * "field 2 (hour): 25 is out of range 0-23". */
int cron_parse(struct cron_expr *e, const char *text, char *err, size_t errlen);

/* The first fire instant strictly after after_utc_s (UTC seconds) for the local times of zone
 * z, or -1 when there is none within CRON_HORIZON_YEARS (e.g. "0 0 30 2 *"). Always ends. */
int64_t cron_next(const struct cron_expr *e, const struct tzone *z, int64_t after_utc_s,
		  enum cron_gap gap, enum cron_overlap overlap);

#endif
