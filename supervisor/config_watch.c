/* config_watch: the config file's directory watched with libuv fs events; a reload once the
 * file has been quiet for settle_ms, and an alert when the new file is refused. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/config_versions.h"

static void settle_tick(uv_timer_t *timer)
{
	struct supervisor *sup = timer->data;
	char err[2048];

	log_notice("config file changed: reloading");
	sup->reload_reason = "file changed (config_watch)";
	if (supervisor_reload(sup, err, sizeof(err)) < 0)
		supervisor_alert(sup, OUTBOX_WARNING, "config_refused",
				 "the changed config file was refused; the config in force is "
				 "kept: %s",
				 err);
	sup->reload_reason = NULL;
}

static void on_file_event(uv_fs_event_t *handle, const char *filename, int events, int status)
{
	struct supervisor *sup = handle->data;
	const char *base = strrchr(sup->config_path, '/');

	(void)events;
	base = base ? base + 1 : sup->config_path;
	/* Only our file: a log or database beside it changes all the time. */
	if (status < 0 || !filename || strcmp(filename, base) != 0)
		return;
	/* Each event moves the deadline: an editor's several writes make one reload. */
	uv_timer_start(&sup->config_settle, settle_tick,
		       (uint64_t)sup->cfg.s.config_watch.settle_ms, 0);
}

void config_watch_update(struct supervisor *sup)
{
	char dir[PATH_MAX];
	char *slash;

	if (sup->config_watching && !sup->cfg.s.config_watch.enabled) {
		uv_fs_event_stop(&sup->config_watch);
		uv_timer_stop(&sup->config_settle);
		sup->config_watching = 0;
		return;
	}
	if (sup->config_watching || !sup->cfg.s.config_watch.enabled)
		return;
	/* The directory, not the file: a rename over the file (editors, rollback) replaces
	 * the inode a watch on the file would follow. */
	snprintf(dir, sizeof(dir), "%s", sup->config_path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if (uv_fs_event_start(&sup->config_watch, on_file_event, dir[0] ? dir : "/", 0) < 0) {
		log_warnx("config_watch: cannot watch %s", dir);
		return;
	}
	sup->config_watching = 1;
	log_info("config_watch: watching %s", sup->config_path);
}
