/* TZif (RFC 8536, version 2+) reader and POSIX TZ footer rules, without setenv/tzset/mktime:
 * glibc's mktime is unreliable in overlaps and turns an unknown TZ silently into UTC. */
#include "common/tzone.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"

#define TZ_MAX_FILE (1 << 20)
#define TZ_MAX_NAME 200
/* Real offsets stay within -12..+14 h; anything past 26 h is a corrupt file. */
#define TZ_MAX_OFF (26 * 3600)
/* Every answer of tzone_to_utc lies within this many seconds of local_s. */
#define TZ_SPAN (TZ_MAX_OFF + 3600)

/* One footer rule: Jn (1..365, no Feb 29), n (0..365) or Mm.w.d, at secs local time. */
struct tz_rule {
	char kind; /* 'J', 'D' or 'M' */
	int month, week, wday, yday;
	int32_t secs;
};

struct tz_posix {
	int std_off, dst_off; /* seconds east of UTC */
	int has_dst;
	struct tz_rule start, end;
};

struct tzone {
	char name[TZ_MAX_NAME + 1];
	uint32_t ntrans, ntypes;
	int64_t *trans;	   /* transition instants, ascending */
	uint8_t *trans_ty; /* the type in effect from each transition */
	int32_t *type_off; /* utoff of each type */
	int has_footer;
	struct tz_posix footer;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m)
{
	static const unsigned char len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return len[m - 1] + (m == 2 && is_leap(y));
}

/* ---- POSIX TZ string (the footer) ---- */

static int posix_name(const char **p)
{
	const char *s = *p;
	size_t n = 0;

	if (*s == '<') {
		s++;
		while (*s && *s != '>') {
			if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
			      (*s >= '0' && *s <= '9') || *s == '+' || *s == '-'))
				return -1;
			s++, n++;
		}
		if (*s != '>' || n < 3)
			return -1;
		*p = s + 1;
		return 0;
	}
	while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
		s++, n++;
	if (n < 3)
		return -1;
	*p = s;
	return 0;
}

static int posix_num(const char **p, int max, int *out)
{
	int v = 0, n = 0;

	while (**p >= '0' && **p <= '9') {
		v = v * 10 + (**p - '0');
		if (v > max)
			return -1;
		(*p)++, n++;
	}
	if (n == 0)
		return -1;
	*out = v;
	return 0;
}

/* [+-]hh[:mm[:ss]] with hours up to max_h; the sign is kept as written. */
static int posix_hms(const char **p, int max_h, int32_t *out)
{
	int sign = 1, h, m = 0, s = 0;

	if (**p == '+' || **p == '-')
		sign = *(*p)++ == '-' ? -1 : 1;
	if (posix_num(p, max_h, &h) < 0)
		return -1;
	if (**p == ':') {
		(*p)++;
		if (posix_num(p, 59, &m) < 0)
			return -1;
		if (**p == ':') {
			(*p)++;
			if (posix_num(p, 59, &s) < 0)
				return -1;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	return 0;
}

static int posix_rule(const char **p, struct tz_rule *r)
{
	r->secs = 2 * 3600;
	if (**p == 'M') {
		(*p)++;
		if (posix_num(p, 12, &r->month) < 0 || r->month < 1 || *(*p)++ != '.' ||
		    posix_num(p, 5, &r->week) < 0 || r->week < 1 || *(*p)++ != '.' ||
		    posix_num(p, 6, &r->wday) < 0)
			return -1;
		r->kind = 'M';
	} else if (**p == 'J') {
		(*p)++;
		if (posix_num(p, 365, &r->yday) < 0 || r->yday < 1)
			return -1;
		r->kind = 'J';
	} else {
		if (posix_num(p, 365, &r->yday) < 0)
			return -1;
		r->kind = 'D';
	}
	if (**p == '/') {
		(*p)++;
		/* RFC 8536 extends the hours to -167..167. */
		if (posix_hms(p, 167, &r->secs) < 0)
			return -1;
	}
	return 0;
}

static int posix_parse(const char *s, struct tz_posix *out)
{
	int32_t off;

	memset(out, 0, sizeof(*out));
	if (posix_name(&s) < 0 || posix_hms(&s, 24, &off) < 0)
		return -1;
	out->std_off = -off; /* POSIX counts west of Greenwich */
	if (*s == '\0')
		return 0;
	if (posix_name(&s) < 0)
		return -1;
	out->has_dst = 1;
	out->dst_off = out->std_off + 3600;
	if (*s != ',' && *s != '\0') {
		if (posix_hms(&s, 24, &off) < 0)
			return -1;
		out->dst_off = -off;
	}
	if (*s == '\0') {
		/* No rules: POSIX leaves them to the implementation; glibc takes the US ones. */
		s = ",M3.2.0,M11.1.0";
	}
	if (*s++ != ',' || posix_rule(&s, &out->start) < 0 || *s++ != ',' ||
	    posix_rule(&s, &out->end) < 0 || *s != '\0')
		return -1;
	return 0;
}

/* Local seconds (as on a UTC clock) at which rule r fires in year y. */
static int64_t rule_local(const struct tz_rule *r, int64_t y)
{
	int64_t jan1 = clock_days_from_civil(y, 1, 1), day;

	if (r->kind == 'J') {
		day = jan1 + r->yday - 1 + (is_leap(y) && r->yday >= 60);
	} else if (r->kind == 'D') {
		day = jan1 + r->yday;
	} else {
		int64_t first = clock_days_from_civil(y, (unsigned)r->month, 1);
		int dow1 = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
		int64_t d = 1 + (r->wday - dow1 + 7) % 7 + 7 * (r->week - 1);

		while (d > month_days(y, (unsigned)r->month))
			d -= 7;
		day = first + d - 1;
	}
	return day * 86400 + r->secs;
}

static int posix_offset(const struct tz_posix *p, int64_t utc)
{
	int64_t y, start, end;
	unsigned m, d;

	if (!p->has_dst)
		return p->std_off;
	clock_civil_from_days(floor_div(utc + p->std_off, 86400), &y, &m, &d);
	/* The start rule is read on standard time, the end rule on daylight time. */
	start = rule_local(&p->start, y) - p->std_off;
	end = rule_local(&p->end, y) - p->dst_off;
	if (start < end)
		return utc >= start && utc < end ? p->dst_off : p->std_off;
	return utc >= end && utc < start ? p->std_off : p->dst_off;
}

/* ---- the TZif file ---- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

static int tzif_header(const unsigned char *p, size_t len, struct tzif_counts *c)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return -1;
	c->isut = be32(p + 20);
	c->isstd = be32(p + 24);
	c->leap = be32(p + 28);
	c->time = be32(p + 32);
	c->type = be32(p + 36);
	c->chars = be32(p + 40);
	if (c->time > 100000 || c->type > 256 || c->chars > 100000 || c->leap > 100000 ||
	    c->isut > 256 || c->isstd > 256)
		return -1;
	return 0;
}

static int tzif_parse(struct tzone *z, const unsigned char *buf, size_t len, char *err,
		      size_t errlen)
{
	struct tzif_counts c;
	size_t v1, v2;
	const unsigned char *p;

	if (tzif_header(buf, len, &c) < 0) {
		set_err(err, errlen, "time zone %s: not a TZif file", z->name);
		return -1;
	}
	if (buf[4] < '2') {
		set_err(err, errlen, "time zone %s: TZif version 1 (no 64-bit data)", z->name);
		return -1;
	}
	v1 = 44 + (size_t)c.time * 5 + (size_t)c.type * 6 + c.chars + (size_t)c.leap * 8 + c.isstd +
	     c.isut;
	if (v1 > len || tzif_header(buf + v1, len - v1, &c) < 0) {
		set_err(err, errlen, "time zone %s: truncated TZif file", z->name);
		return -1;
	}
	p = buf + v1 + 44;
	v2 = (size_t)c.time * 9 + (size_t)c.type * 6 + c.chars + (size_t)c.leap * 12 + c.isstd +
	     c.isut;
	if (v1 + 44 + v2 > len || c.type == 0) {
		set_err(err, errlen, "time zone %s: truncated TZif file", z->name);
		return -1;
	}
	if (c.leap != 0) {
		set_err(err, errlen, "time zone %s: leap-second zones are not supported", z->name);
		return -1;
	}
	z->ntrans = c.time;
	z->ntypes = c.type;
	z->trans = calloc(c.time + 1, sizeof(*z->trans));
	z->trans_ty = calloc(c.time + 1, 1);
	z->type_off = calloc(c.type, sizeof(*z->type_off));
	if (!z->trans || !z->trans_ty || !z->type_off) {
		set_err(err, errlen, "time zone %s: out of memory", z->name);
		return -1;
	}
	for (uint32_t i = 0; i < c.time; i++) {
		z->trans[i] = be64(p + 8 * i);
		if (i > 0 && z->trans[i] <= z->trans[i - 1]) {
			set_err(err, errlen, "time zone %s: transitions out of order", z->name);
			return -1;
		}
	}
	p += 8 * (size_t)c.time;
	for (uint32_t i = 0; i < c.time; i++) {
		if (p[i] >= c.type) {
			set_err(err, errlen, "time zone %s: bad type index", z->name);
			return -1;
		}
		z->trans_ty[i] = p[i];
	}
	p += c.time;
	for (uint32_t i = 0; i < c.type; i++, p += 6) {
		int32_t off = (int32_t)be32(p);

		if (off < -TZ_MAX_OFF || off > TZ_MAX_OFF || p[5] >= c.chars) {
			set_err(err, errlen, "time zone %s: bad local time type", z->name);
			return -1;
		}
		z->type_off[i] = off;
	}
	p += c.chars + c.isstd + c.isut;

	/* The footer: "\n<POSIX TZ>\n", possibly empty (no rule beyond the table). */
	size_t rest = len - (size_t)(p - buf);
	const unsigned char *nl = rest > 1 ? memchr(p + 1, '\n', rest - 1) : NULL;
	char tz[128];

	if (rest < 2 || p[0] != '\n' || !nl || (size_t)(nl - p - 1) >= sizeof(tz)) {
		set_err(err, errlen, "time zone %s: missing TZ footer", z->name);
		return -1;
	}
	memcpy(tz, p + 1, (size_t)(nl - p - 1));
	tz[nl - p - 1] = '\0';
	if (tz[0] != '\0') {
		if (posix_parse(tz, &z->footer) < 0) {
			set_err(err, errlen, "time zone %s: cannot parse TZ footer \"%s\"", z->name,
				tz);
			return -1;
		}
		z->has_footer = 1;
	}
	return 0;
}

static int name_is_safe(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > TZ_MAX_NAME || name[0] == '/' || name[len - 1] == '/')
		return 0;
	for (const char *s = name; *s; s++) {
		char ch = *s;

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '/' || ch == '_' || ch == '-' ||
		      ch == '+' || ch == '.'))
			return 0;
		/* No component may be "." or "..": the name stays inside the directory. */
		if (ch == '.' && (s == name || s[-1] == '/') &&
		    (s[1] == '/' || s[1] == '\0' || (s[1] == '.' && (s[2] == '/' || s[2] == '\0'))))
			return 0;
		if (ch == '/' && s[1] == '/')
			return 0;
	}
	return 1;
}

static unsigned char *read_small_file(const char *path, size_t *len, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	unsigned char *buf = NULL;
	size_t got = 0;

	if (fd < 0) {
		snprintf(why, whylen, "%s", errno == ENOENT ? "no such zone" : strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > TZ_MAX_FILE) {
		snprintf(why, whylen, "not a zone file");
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(why, whylen, "read failed");
			free(buf);
			buf = NULL;
			goto out;
		}
		got += (size_t)n;
	}
	*len = got;
out:
	close(fd);
	return buf;
}

struct tzone *tzone_load_dir(const char *dir, const char *name, char *err, size_t errlen)
{
	char path[4096], why[128];
	unsigned char *buf;
	size_t len = 0;
	struct tzone *z;

	if (!name || !name_is_safe(name)) {
		set_err(err, errlen, "time zone \"%s\": not a valid zone name", name ? name : "");
		return NULL;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		set_err(err, errlen, "time zone %s: path too long", name);
		return NULL;
	}
	buf = read_small_file(path, &len, why, sizeof(why));
	if (!buf) {
		set_err(err, errlen, "time zone %s: %s (%s)", name, why, path);
		return NULL;
	}
	z = calloc(1, sizeof(*z));
	if (!z) {
		free(buf);
		set_err(err, errlen, "time zone %s: out of memory", name);
		return NULL;
	}
	snprintf(z->name, sizeof(z->name), "%s", name);
	if (tzif_parse(z, buf, len, err, errlen) < 0) {
		free(buf);
		tzone_free(z);
		return NULL;
	}
	free(buf);
	return z;
}

struct tzone *tzone_load(const char *name, char *err, size_t errlen)
{
	return tzone_load_dir(TZONE_DIR, name, err, errlen);
}

void tzone_free(struct tzone *z)
{
	if (!z)
		return;
	free(z->trans);
	free(z->trans_ty);
	free(z->type_off);
	free(z);
}

const char *tzone_name(const struct tzone *z)
{
	return z->name;
}

int tzone_offset(const struct tzone *z, int64_t utc_s)
{
	uint32_t lo = 0, hi = z->ntrans;

	if (z->ntrans == 0 || utc_s >= z->trans[z->ntrans - 1]) {
		if (z->has_footer)
			return posix_offset(&z->footer, utc_s);
		if (z->ntrans == 0)
			return z->type_off[0];
		return z->type_off[z->trans_ty[z->ntrans - 1]];
	}
	if (utc_s < z->trans[0])
		return z->type_off[0]; /* RFC 8536: type 0 before the first transition */
	/* The last transition at or before utc_s: trans[lo] <= utc_s < trans[hi]. */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (z->trans[mid] <= utc_s)
			lo = mid;
		else
			hi = mid;
	}
	return z->type_off[z->trans_ty[lo]];
}

int tzone_to_utc(const struct tzone *z, int64_t local_s, int64_t out[2])
{
	int cand[8] = {0}, ncand = 0;
	int64_t found[8];
	int nfound = 0;

	/* Every offset that can apply near local_s: those at the window's ends, and those
	 * reached from them; at most one transition falls inside the window in real zones. */
	int seed[3] = {tzone_offset(z, local_s - TZ_SPAN), tzone_offset(z, local_s),
		       tzone_offset(z, local_s + TZ_SPAN)};
	for (int i = 0; i < 3; i++) {
		int o[2] = {seed[i], tzone_offset(z, local_s - seed[i])};

		for (int k = 0; k < 2; k++) {
			int dup = 0;

			for (int j = 0; j < ncand; j++)
				dup |= cand[j] == o[k];
			if (!dup && ncand < 8)
				cand[ncand++] = o[k];
		}
	}
	for (int i = 0; i < ncand; i++) {
		int64_t u = local_s - cand[i];

		if (tzone_offset(z, u) == cand[i])
			found[nfound++] = u;
	}
	/* Ascending; duplicates cannot occur since the candidate offsets are distinct. */
	for (int i = 1; i < nfound; i++)
		for (int j = i; j > 0 && found[j] < found[j - 1]; j--) {
			int64_t t = found[j];

			found[j] = found[j - 1];
			found[j - 1] = t;
		}
	for (int i = 0; i < nfound && i < 2; i++)
		out[i] = found[i];
	return nfound < 2 ? nfound : 2;
}

int64_t tzone_gap_end(const struct tzone *z, int64_t local_s)
{
	/* Keep lo + offset(lo) <= local_s < hi + offset(hi); the boundary found is a
	 * transition that jumps over local_s, since a gap's local time is never shown. */
	int64_t lo = local_s - TZ_SPAN, hi = local_s + TZ_SPAN;

	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;

		if (mid + tzone_offset(z, mid) <= local_s)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}
