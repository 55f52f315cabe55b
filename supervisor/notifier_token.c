/* The Telegram bot token file: opened once by the supervisor (as root, before the privilege
 * drop) under the rule of the exchange keys; only the notifier receives the descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/supervisor.h"

int notifier_token_open(const char *path, uid_t daemon_uid, char *err, size_t len)
{
	struct stat st;
	int fd;

	/* O_NOFOLLOW: the check below must be about the file we read, not a link's target. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, len, "notifier.telegram.token_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, len, "notifier.telegram.token_file %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, len,
			 "notifier.telegram.token_file %s: mode %04o lets group or others read the "
			 "token; chmod 600 it",
			 path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != daemon_uid) {
		snprintf(err, len,
			 "notifier.telegram.token_file %s: owned by uid %u, not by root or the "
			 "daemon's user (uid %u)",
			 path, (unsigned)st.st_uid, (unsigned)daemon_uid);
		close(fd);
		return -1;
	}
	return fd;
}
