/* Time zones read from the TZif files under /usr/share/zoneinfo, independent of the host's TZ:
 * offsets at an instant, and local civil time back to UTC with gaps and overlaps made explicit. */
#ifndef TD_TZONE_H
#define TD_TZONE_H

#include <stddef.h>
#include <stdint.h>

#define TZONE_DIR "/usr/share/zoneinfo"

struct tzone;

/* Loads the zone "Area/City" (or "UTC") from TZONE_DIR, or from dir. An unknown, unsafe
 * ("..", leading '/') or malformed zone gives NULL and a message in err: never UTC. */
struct tzone *tzone_load(const char *name, char *err, size_t errlen);
struct tzone *tzone_load_dir(const char *dir, const char *name, char *err, size_t errlen);
void tzone_free(struct tzone *z);
const char *tzone_name(const struct tzone *z);

/* Seconds east of UTC in effect at utc_s (seconds since the epoch). */
int tzone_offset(const struct tzone *z, int64_t utc_s);

/* The instants whose local civil time (as seconds since the epoch of a UTC clock showing it) is
 * local_s: returns 0 in a gap, 1 normally, 2 in an overlap (out[0] the earlier). */
int tzone_to_utc(const struct tzone *z, int64_t local_s, int64_t out[2]);

/* For a local_s inside a gap: the first instant after the gap (the transition itself). */
int64_t tzone_gap_end(const struct tzone *z, int64_t local_s);

#endif
