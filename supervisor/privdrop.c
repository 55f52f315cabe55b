/* Least privilege: started as root, tradingd prepares its directories, then the whole process
 * tree becomes the configured unprivileged user; the control socket checks peer credentials. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

int privdrop_prepare(struct supervisor *sup, uid_t *uid, gid_t *gid, int *drop)
{
	const char *user = sup->cfg.s.user;
	struct passwd *pw;

	*drop = 0;
	*uid = getuid();
	*gid = getgid();
	if (geteuid() != 0 || user[0] == '\0')
		return 0;
	pw = getpwnam(user);
	if (!pw) {
		log_errx("user \"%s\" (config key user) does not exist", user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_errx("user \"%s\" is root: set user to an unprivileged account", user);
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
		log_err("cannot drop privileges to uid %u", (unsigned)uid);
		return -1;
	}
	/* Make sure it cannot be undone. */
	if (setuid(0) == 0) {
		log_errx("privileges could be regained after the drop");
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
	const char *group = sup->cfg.s.control_group;
	struct group *gr;

	if (uid == 0 || uid == geteuid())
		return 1;
	if (group[0] == '\0')
		return 0;
	gr = getgrnam(group);
	return gr && peer_in_group(fd, uid, gid, gr->gr_gid);
}
