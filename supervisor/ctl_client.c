/* tradectl's one round trip over the control socket: connect, one request line, one reply line.
 * Blocking socket and poll() with a deadline; every failure becomes one line saying what to do. */
#include "ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"

static const char *connect_hint(int err)
{
	switch (err) {
	case ENOENT:
		return "is tradingd running? see -s/-c";
	case ECONNREFUSED:
		return "tradingd is not running, or left a stale socket; start it, or see -s/-c";
	case EACCES:
	case EPERM:
		return "run as root, as the daemon's user or as a member of its control_group";
	case EAGAIN:
	case ETIMEDOUT:
		return "tradingd is not accepting connections: overloaded or hung? see its log";
	default:
		return "check the socket path; see -s/-c";
	}
}

static void format_duration(int ms, char *buf, size_t len)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%d s", ms / 1000);
	else
		snprintf(buf, len, "%d ms", ms);
}

static int connect_socket(const char *path, int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000};
	int fd, saved;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen,
			 "cannot connect to %s: the path is longer than %zu bytes (use a shorter "
			 "run_dir or control.socket)",
			 path, sizeof(sa.sun_path) - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
		return -1;
	}
	/* Bounds both a connect to a full listen queue and the send of the request. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		saved = errno;
		snprintf(err, errlen, "cannot connect to %s: %s (%s)", path, strerror(saved),
			 connect_hint(saved));
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends the whole line. Returns 0; 1 when the daemon already closed (its reply may be waiting,
 * as for a client it rejects); -1 on a timeout or another error, with err set. */
static int send_line(int fd, const char *line, size_t len, const char *path, char *err,
		     size_t errlen)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);

		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET)
			return 1;
		if (errno == EAGAIN)
			snprintf(err, errlen,
				 "%s does not take the request (tradingd overloaded or hung? see "
				 "its log)",
				 path);
		else
			snprintf(err, errlen, "cannot send to %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The bytes read so far: a notice can arrive with the reply behind it in the same read. */
struct reader {
	int fd;
	char *buf;
	size_t cap, len;
	size_t scanned; /* no "\n" before this offset */
	int eof;
};

/* Reads up to the first "\n", or to the close, by deadline. On CTL_OK *line_len is the length
 * of the line at r->buf, NUL-terminated in place of its "\n"; what follows stays for the next
 * line (see drop_line). waited_ms is the whole wait, for the message when it is over. */
static enum ctl_outcome read_line(struct reader *r, int64_t deadline, int waited_ms,
				  size_t max_bytes, const char *path, size_t *line_len, char *err,
				  size_t errlen)
{
	char dur[32];

	for (;;) {
		struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
		int64_t left = deadline - clock_mono_ms();
		char *nl = memchr(r->buf + r->scanned, '\n', r->len - r->scanned);
		ssize_t n;
		int rc;

		if (nl) {
			*nl = '\0';
			*line_len = (size_t)(nl - r->buf);
			return CTL_OK;
		}
		r->scanned = r->len;
		if (r->eof) {
			/* A reply cut short of its "\n" is still judged by the parser. */
			if (r->len > 0) {
				r->buf[r->len] = '\0';
				*line_len = r->len;
				return CTL_OK;
			}
			snprintf(err, errlen,
				 "%s closed the connection without a reply (see the tradingd log)",
				 path);
			return CTL_NO_REPLY;
		}
		if (left < 0)
			left = 0;
		rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			snprintf(err, errlen, "cannot wait for the reply from %s: %s", path,
				 strerror(errno));
			return CTL_NO_REPLY;
		}
		if (rc == 0) {
			format_duration(waited_ms, dur, sizeof(dur));
			snprintf(err, errlen,
				 "no reply from %s within %s (tradingd busy or hung? see its log)",
				 path, dur);
			return CTL_NO_REPLY;
		}
		if (r->len + 1 >= r->cap) {
			size_t ncap = r->cap * 2 > max_bytes + 1 ? max_bytes + 1 : r->cap * 2;
			char *nbuf;

			if (ncap <= r->cap) {
				snprintf(err, errlen,
					 "the reply from %s is larger than %zu bytes (is this a "
					 "tradingd socket?)",
					 path, max_bytes);
				return CTL_BAD_REPLY;
			}
			nbuf = realloc(r->buf, ncap);
			if (!nbuf) {
				snprintf(err, errlen, "out of memory");
				return CTL_NO_REPLY;
			}
			r->buf = nbuf;
			r->cap = ncap;
		}
		n = read(r->fd, r->buf + r->len, r->cap - 1 - r->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0 && errno != ECONNRESET) {
			snprintf(err, errlen, "cannot read the reply from %s: %s", path,
				 strerror(errno));
			return CTL_NO_REPLY;
		}
		if (n <= 0)
			r->eof = 1;
		else
			r->len += (size_t)n;
	}
}

/* Forgets the line read_line returned, keeping what came after it. */
static void drop_line(struct reader *r, size_t line_len)
{
	size_t used = line_len + 1 < r->len ? line_len + 1 : r->len;

	memmove(r->buf, r->buf + used, r->len - used);
	r->len -= used;
	r->scanned = 0;
}

enum ctl_outcome ctl_roundtrip(const char *path, const char *request, int timeout_ms,
			       size_t max_bytes, char **reply, size_t *reply_len, char *err,
			       size_t errlen)
{
	size_t reqlen = strlen(request);
	char *line = malloc(reqlen + 2);
	struct reader r = {.fd = -1, .cap = 4096};
	enum ctl_outcome outcome;
	int64_t wait_ms;
	size_t len = 0;
	int rc;

	*reply = NULL;
	*reply_len = 0;
	r.buf = malloc(r.cap);
	if (!line || !r.buf) {
		free(line);
		free(r.buf);
		snprintf(err, errlen, "out of memory");
		return CTL_NO_REPLY;
	}
	memcpy(line, request, reqlen);
	line[reqlen] = '\n';
	line[reqlen + 1] = '\0';
	r.fd = connect_socket(path, timeout_ms, err, errlen);
	if (r.fd < 0) {
		free(line);
		free(r.buf);
		return CTL_CONNECT_FAILED;
	}
	rc = send_line(r.fd, line, reqlen + 1, path, err, errlen);
	free(line);
	if (rc < 0) {
		outcome = CTL_NO_REPLY;
		goto out;
	}
	outcome = read_line(&r, clock_mono_ms() + timeout_ms, timeout_ms, max_bytes, path, &len,
			    err, errlen);
	/* A command that waits for the processes says first how long that may take. */
	if (outcome == CTL_OK && (wait_ms = ctl_pending_wait_ms(r.buf, len)) != -1) {
		if (wait_ms < 0) {
			snprintf(err, errlen,
				 "malformed reply from %s: a pending notice without a valid "
				 "wait_ms (is this a tradingd socket?)",
				 path);
			outcome = CTL_BAD_REPLY;
			goto out;
		}
		drop_line(&r, len);
		outcome =
			read_line(&r, clock_mono_ms() + wait_ms + timeout_ms,
				  (int)(wait_ms + timeout_ms), max_bytes, path, &len, err, errlen);
	}
	if (outcome == CTL_OK) {
		*reply = r.buf;
		*reply_len = len;
		r.buf = NULL;
	}
out:
	free(r.buf);
	close(r.fd);
	return outcome;
}
