/* The smallest supervised process for the restart benchmark: it says "I am up" with its own
 * CLOCK_MONOTONIC time, optionally tells s6 it is ready, then waits to be killed.
 *
 * Environment (no arguments, so that a supervisor can exec it as ./run):
 *   BENCH_SOCKET    path of the bench's datagram socket; receives "up NAME PID NANOSECONDS"
 *   BENCH_NAME      which service this is, so that one socket can serve several
 *   BENCH_READY_FD  if set, an fd to write s6's readiness newline to (notification-fd) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void say_up(const char *path, const char *name, const struct timespec *t)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char msg[64];
	int fd, n;

	if (!path || strlen(path) >= sizeof(addr.sun_path))
		return;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	n = snprintf(msg, sizeof(msg), "up %.24s %ld %lld", name ? name : "-", (long)getpid(),
		     (long long)t->tv_sec * 1000000000LL + t->tv_nsec);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	/* A lost datagram shows up as a missing sample in the bench: nothing to do here. */
	(void)sendto(fd, msg, (size_t)n, 0, (struct sockaddr *)&addr, sizeof(addr));
	close(fd);
}

int main(void)
{
	struct timespec t;
	const char *ready_fd;

	/* Taken first: "up" means the first thing this program does after exec and ld.so. */
	clock_gettime(CLOCK_MONOTONIC, &t);
	say_up(getenv("BENCH_SOCKET"), getenv("BENCH_NAME"), &t);
	ready_fd = getenv("BENCH_READY_FD");
	if (ready_fd && *ready_fd) {
		int fd = atoi(ready_fd);

		if (write(fd, "\n", 1) != 1)
			return 111;
		close(fd);
	}
	for (;;)
		pause();
}
