/* Least privilege: started as root, tradingd prepares its directories, then the whole process
 * tree becomes the configured unprivileged user; the control socket checks peer credentials. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

/* The config load checks "user" already; this is the start's own check, which sees the
 * account database as it is now, reported in the same words. */
static void user_error(const struct supervisor *sup, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void user_error(const struct supervisor *sup, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_errx("%s: user: %s", sup->cfg.path, msg);
}

int privdrop_prepare(struct supervisor *sup, uid_t *uid, gid_t *gid, int *drop)
{
	const char *user = sup->cfg.s.user;
	struct passwd *pw;

	*drop = 0;
	*uid = getuid();
	*gid = getgid();
	if (geteuid() != 0 || user[0] == '\0')
		return 0;
	errno = 0;
	pw = getpwnam(user);
	/* glibc leaves 0, ENOENT, ESRCH, EBADF or EPERM for "not found"; anything else is a failed
	 * lookup (NSS down, no memory), which must not read as a missing account. */
	if (!pw && errno != 0 && errno != ENOENT && errno != ESRCH && errno != EBADF &&
	    errno != EPERM) {
		user_error(sup, "cannot look up \"%s\": %s", user, strerror(errno));
		return -1;
	}
	if (!pw) {
		user_error(
			sup,
			"no such account \"%s\": create it (useradd --system --no-create-home "
			"--home-dir /nonexistent --shell /usr/sbin/nologin --user-group %s; make "
			"install does this for tradingd) or name an existing unprivileged one",
			user, user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		user_error(sup,
			   "\"%s\" has uid 0: name an unprivileged account (the default, tradingd, "
			   "is created by make install)",
			   user);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	*drop = 1;
	return 0;
}

int privdrop_apply(uid_t uid, gid_t gid)
{
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		log_err("cannot drop privileges to uid %u, gid %u (config key user)", (unsigned)uid,
			(unsigned)gid);
		return -1;
	}
	/* Make sure it cannot be undone. */
	if (setuid(0) == 0) {
		log_errx("privileges could be regained after the drop to uid %u", (unsigned)uid);
		return -1;
	}
	return 0;
}

/* The peer's groups as the kernel saw them at connect (SO_PEERGROUPS), so a group held only for
 * this session counts; the group database is the fallback on kernels without it. */
static int peer_in_group(int fd, uid_t uid, gid_t primary, gid_t group)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);
	struct passwd *pw;
	int n = 256;

	if (primary == group)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
		for (size_t i = 0; i < len / sizeof(gid_t); i++)
			if (groups[i] == group)
				return 1;
		return 0;
	}
	pw = getpwuid(uid);
	if (!pw || getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return 0;
	for (int i = 0; i < n; i++)
		if (groups[i] == group)
			return 1;
	return 0;
}

int privdrop_peer_allowed(const struct supervisor *sup, int fd, uid_t uid, gid_t gid)
{
	return privdrop_peer_access(sup, fd, uid, gid) == PEER_CONTROL;
}

int privdrop_peer_access(const struct supervisor *sup, int fd, uid_t uid, gid_t gid)
{
	const char *group = sup->cfg.s.control_group;
	const char *monitor = sup->cfg.s.monitor_group;
	struct group *gr;

	if (uid == 0 || uid == geteuid())
		return PEER_CONTROL;
	if (group[0] && (gr = getgrnam(group)) && peer_in_group(fd, uid, gid, gr->gr_gid))
		return PEER_CONTROL;
	if (monitor[0] && (gr = getgrnam(monitor)) && peer_in_group(fd, uid, gid, gr->gr_gid))
		return PEER_MONITOR;
	return PEER_NONE;
}
