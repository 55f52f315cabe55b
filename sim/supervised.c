/* The simulator run by tradingd: the worker IPC protocol (ipc/ipc.h) on the fd of --ipc-fd,
 * without a libuv loop: READY once HTTP listens, PONG for each PING, SHUTDOWN and EOF stop it. */
#include "sim/sim_state.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/roles.h"
#include "ipc/ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Every frame the supervisor may send us (PING, SHUTDOWN) fits with room to spare, and a header
 * is checked as soon as it is complete, so a full buffer always holds a frame to consume. */
#define SUPERVISED_RBUF 256

struct sim_supervised {
	int fd;
	unsigned char buf[SUPERVISED_RBUF];
	size_t len;
};

/* The one place a header is built. peer and pid are filled as ipc/ipc_peer.c fills them, so
 * that the supervisor sees the same frames from us as from a worker. */
static struct ipc_hdr frame_header(uint32_t type, uint32_t len)
{
	return (struct ipc_hdr){
		.type = type, .len = len, .peer = ROLE_SIM, .pid = (uint32_t)getpid()};
}

/* The socket stays blocking for writes: our frames are 24 bytes, at most one per PING, and the
 * supervisor reads its sockets all the time. Were it not to, waiting here is better than a
 * queue or a partial frame, and the HTTP threads keep serving meanwhile. */
static int send_frame(struct sim_supervised *sv, uint32_t type, const void *payload, uint32_t len)
{
	unsigned char frame[sizeof(struct ipc_hdr) + sizeof(uint64_t)];
	struct ipc_hdr hdr = frame_header(type, len);
	size_t size = sizeof(hdr) + len, off = 0;

	if (ipc_check_size(type, len) < 0 || size > sizeof(frame))
		fatalx("ipc: cannot send %s of %u bytes: a bug", ipc_type_name(type), len);
	memcpy(frame, &hdr, sizeof(hdr));
	if (len)
		memcpy(frame + sizeof(hdr), payload, len);
	while (off < size) {
		ssize_t n = send(sv->fd, frame + off, size - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* The supervisor is gone; the next read sees the end of the socket. */
			log_warn("ipc: cannot send %s", ipc_type_name(type));
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

struct sim_supervised *supervised_open(int fd, char *err, size_t errlen)
{
	struct sim_supervised *sv;
	int type = 0;
	socklen_t tlen = sizeof(type);

	/* Die with the supervisor, as its workers do (worker_runtime.c). This used to be the job
	 * of a `tradingd -x exec` trampoline; here is cleaner: --ipc-fd is what says we are
	 * supervised, so standalone runs are untouched; each start saves an exec; and the
	 * trampoline's only edge, PDEATHSIG before exec, buys nothing now that end of file on the
	 * socket tells us too. getppid covers a parent that died before the prctl (under a
	 * subreaper it would not be 1, but the socket's EOF still is). */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0) {
		snprintf(err, errlen, "prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
		return NULL;
	}
	if (getppid() == 1) {
		snprintf(err, errlen, "the supervisor exited before the simulator started");
		return NULL;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_STREAM) {
		snprintf(err, errlen, "--ipc-fd %d: not an open stream socket", fd);
		return NULL;
	}
	/* Nothing else of the supervisor's may leak into us (fds 3.. but ours). */
	if (fd > 3)
		close_range(3, (unsigned)fd - 1, 0);
	close_range((unsigned)fd + 1, ~0U, 0);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	sv = calloc(1, sizeof(*sv));
	if (!sv) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sv->fd = fd;
	return sv;
}

void supervised_close(struct sim_supervised *sv)
{
	if (!sv)
		return;
	close(sv->fd);
	free(sv);
}

int supervised_ready(struct sim_supervised *sv)
{
	struct ipc_ready ready = {.version = IPC_VERSION, .role = (uint32_t)ROLE_SIM};

	return send_frame(sv, IPC_READY, &ready, sizeof(ready));
}

/* Handles every complete frame in the buffer. 1: go on; 0: SHUTDOWN. A frame that is not
 * PING or SHUTDOWN is a bug in the supervisor: we do not guess, we exit. */
static int handle_frames(struct sim_supervised *sv)
{
	size_t off = 0;
	int go_on = 1;

	while (go_on && sv->len - off >= sizeof(struct ipc_hdr)) {
		struct ipc_hdr hdr;

		memcpy(&hdr, sv->buf + off, sizeof(hdr));
		if (ipc_check_size(hdr.type, hdr.len) < 0)
			fatalx("ipc: malformed frame from the supervisor (type %u %s, %u bytes)",
			       hdr.type, ipc_type_name(hdr.type), hdr.len);
		if (hdr.peer != IPC_ID_SUPERVISOR || hdr.pid != (uint32_t)getppid())
			fatalx("ipc: a frame claims sender %u pid %u, not the supervisor (pid %d)",
			       hdr.peer, hdr.pid, (int)getppid());
		if (hdr.type != IPC_PING && hdr.type != IPC_SHUTDOWN)
			fatalx("ipc: %s from the supervisor, which it must not send to the "
			       "simulator: protocol violation",
			       ipc_type_name(hdr.type));
		if (sv->len - off < sizeof(hdr) + hdr.len)
			break;
		if (hdr.type == IPC_PING) {
			send_frame(sv, IPC_PONG, sv->buf + off + sizeof(hdr), hdr.len);
		} else {
			log_info("shutdown requested by the supervisor");
			go_on = 0;
		}
		off += sizeof(hdr) + hdr.len;
	}
	memmove(sv->buf, sv->buf + off, sv->len - off);
	sv->len -= off;
	return go_on;
}

/* One read. 1: go on; 0: stop (SHUTDOWN, or the supervisor went away). */
static int read_frames(struct sim_supervised *sv)
{
	ssize_t n = recv(sv->fd, sv->buf + sv->len, sizeof(sv->buf) - sv->len, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 1;
	if (n <= 0) {
		log_notice("supervisor went away (%s): exiting",
			   n == 0 ? "end of file" : strerror(errno));
		return 0;
	}
	sv->len += (size_t)n;
	return handle_frames(sv);
}

int supervised_wait(struct sim_supervised *sv, int timeout_ms)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = {.fd = sv->fd, .events = POLLIN};
		int64_t left = deadline - clock_mono_ms();
		int n;

		n = poll(&pfd, 1, left > 0 ? (int)left : 0);
		if (n < 0 && errno == EINTR)
			return 1; /* a signal: let the main loop look at its flags */
		if (n < 0)
			fatal("ipc: poll");
		if (n == 0)
			return 1;
		if (!read_frames(sv))
			return 0;
	}
}
