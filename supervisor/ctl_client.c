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

/* Reads up to the first "\n", or to the close. Returns the outcome; on CTL_OK buf holds the
 * line, NUL-terminated. */
static enum ctl_outcome read_line(int fd, int timeout_ms, size_t max_bytes, const char *path,
				  char **out, size_t *out_len, char *err, size_t errlen)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	char dur[32];

	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return CTL_NO_REPLY;
	}
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - clock_mono_ms();
		char *nl;
		ssize_t n;
		int r;

		if (left < 0)
			left = 0;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "cannot wait for the reply from %s: %s", path,
				 strerror(errno));
			break;
		}
		if (r == 0) {
			format_duration(timeout_ms, dur, sizeof(dur));
			snprintf(err, errlen,
				 "no reply from %s within %s (tradingd busy or hung? see its log)",
				 path, dur);
			break;
		}
		if (len + 1 >= cap) {
			size_t ncap = cap * 2 > max_bytes + 1 ? max_bytes + 1 : cap * 2;
			char *nbuf;

			if (ncap <= cap) {
				snprintf(err, errlen,
					 "the reply from %s is larger than %zu bytes (is this a "
					 "tradingd socket?)",
					 path, max_bytes);
				free(buf);
				return CTL_BAD_REPLY;
			}
			nbuf = realloc(buf, ncap);
			if (!nbuf) {
				snprintf(err, errlen, "out of memory");
				break;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0 && errno != ECONNRESET) {
			snprintf(err, errlen, "cannot read the reply from %s: %s", path,
				 strerror(errno));
			break;
		}
		if (n <= 0) {
			/* A reply cut short of its "\n" is still judged by the parser. */
			if (len > 0) {
				buf[len] = '\0';
				*out = buf;
				*out_len = len;
				return CTL_OK;
			}
			snprintf(err, errlen,
				 "%s closed the connection without a reply (see the tradingd log)",
				 path);
			break;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl) {
			*nl = '\0';
			*out = buf;
			*out_len = (size_t)(nl - buf);
			return CTL_OK;
		}
	}
	free(buf);
	return CTL_NO_REPLY;
}

enum ctl_outcome ctl_roundtrip(const char *path, const char *request, int timeout_ms,
			       size_t max_bytes, char **reply, size_t *reply_len, char *err,
			       size_t errlen)
{
	size_t reqlen = strlen(request);
	char *line = malloc(reqlen + 2);
	enum ctl_outcome outcome;
	int fd, r;

	*reply = NULL;
	*reply_len = 0;
	if (!line) {
		snprintf(err, errlen, "out of memory");
		return CTL_NO_REPLY;
	}
	memcpy(line, request, reqlen);
	line[reqlen] = '\n';
	line[reqlen + 1] = '\0';
	fd = connect_socket(path, timeout_ms, err, errlen);
	if (fd < 0) {
		free(line);
		return CTL_CONNECT_FAILED;
	}
	r = send_line(fd, line, reqlen + 1, path, err, errlen);
	free(line);
	if (r < 0) {
		close(fd);
		return CTL_NO_REPLY;
	}
	outcome = read_line(fd, timeout_ms, max_bytes, path, reply, reply_len, err, errlen);
	close(fd);
	return outcome;
}
