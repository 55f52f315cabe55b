/* exchange.keys_file: opened by the supervisor while it is still root and handed, as an open
 * descriptor, only to order-execution; the supervisor never reads it. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

int keys_file_open(struct supervisor *sup, uid_t daemon_uid)
{
	const char *path = sup->cfg.s.exchange.keys_file;
	struct stat sb;
	int fd;

	sup->keys_fd = -1;
	if (!path[0])
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		log_errx("exchange.keys_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		log_errx("exchange.keys_file %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (sb.st_uid != 0 && sb.st_uid != daemon_uid && sb.st_uid != geteuid()) {
		log_errx("exchange.keys_file %s is owned by uid %u: it must belong to root or to "
			 "the daemon's user (fix: chown root %s)",
			 path, (unsigned)sb.st_uid, path);
		close(fd);
		return -1;
	}
	if (sb.st_mode & 077) {
		log_errx("exchange.keys_file %s has mode %03o: group and others may read it (fix: "
			 "chmod 600 %s)",
			 path, (unsigned)(sb.st_mode & 0777), path);
		close(fd);
		return -1;
	}
	sup->keys_fd = fd;
	return 0;
}
