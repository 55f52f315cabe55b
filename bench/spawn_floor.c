/* The floor under every supervisor's restart: kill -9 the tiny child, reap it with a blocking
 * waitpid, fork+exec it again and wait for its "up" datagram. Nothing else happens in between.
 *
 * usage: spawn_floor SOCKET CHILD N
 * Prints one line per restart, CLOCK_MONOTONIC nanoseconds:
 *   KILL REAPED FORK CHILD_UP RECEIVED */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RECV_TIMEOUT_S 5

extern char **environ;

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static pid_t start_child(const char *child)
{
	char *const argv[] = {(char *)child, NULL};
	pid_t pid = fork();

	if (pid == 0) {
		execve(child, argv, environ);
		_exit(127);
	}
	return pid;
}

/* Waits for "up NAME PID NS" from pid; returns the child's own timestamp, or -1. */
static long long wait_up(int fd, pid_t pid, long long *received)
{
	char buf[128], name[32];
	long upid;
	long long ns;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

		if (n < 0)
			return -1;
		*received = now_ns();
		buf[n] = '\0';
		if (sscanf(buf, "up %31s %ld %lld", name, &upid, &ns) == 3 && upid == (long)pid)
			return ns;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = RECV_TIMEOUT_S};
	long long received, up;
	int fd, n;
	pid_t pid;

	if (argc != 4 || strlen(argv[1]) >= sizeof(addr.sun_path) || atoi(argv[3]) <= 0) {
		fprintf(stderr, "usage: spawn_floor SOCKET CHILD N\n");
		return 2;
	}
	n = atoi(argv[3]);
	memcpy(addr.sun_path, argv[1], strlen(argv[1]) + 1);
	unlink(argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		perror("spawn_floor: socket");
		return 1;
	}
	if (setenv("BENCH_SOCKET", argv[1], 1) < 0 || setenv("BENCH_NAME", "floor", 1) < 0)
		return 1;
	pid = start_child(argv[2]);
	if (pid < 0 || wait_up(fd, pid, &received) < 0) {
		fprintf(stderr, "spawn_floor: the first child did not come up\n");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		long long t_kill, t_reaped, t_fork;

		usleep(2000);
		t_kill = now_ns();
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		t_reaped = now_ns();
		t_fork = now_ns();
		pid = start_child(argv[2]);
		if (pid < 0) {
			perror("spawn_floor: fork");
			return 1;
		}
		up = wait_up(fd, pid, &received);
		if (up < 0) {
			fprintf(stderr, "spawn_floor: child %d did not come up\n", (int)pid);
			kill(pid, SIGKILL);
			return 1;
		}
		printf("%lld %lld %lld %lld %lld\n", t_kill, t_reaped, t_fork, up, received);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(argv[1]);
	return 0;
}
