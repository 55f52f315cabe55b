/* Configuration versions (config_versions.c): record, tradectl config, rollback, the watch. */
#ifndef TD_CONFIG_VERSIONS_H
#define TD_CONFIG_VERSIONS_H

#include <jansson.h>

#include "supervisor/supervisor.h"

/* Records cfg (secrets replaced) unless it is the newest version already (and, when prev is
 * given, the same file as prev, secrets included). 1: recorded; 0: unchanged; -1: err says
 * why. sup->config_version is then the version cfg is. */
int config_version_record(struct supervisor *sup, const struct config *cfg,
			  const struct config *prev, const char *reason, char *err, size_t errlen);
/* The keys that differ between versions v1 and v2, one line each; NULL with err. */
json_t *config_versions_diff(struct supervisor *sup, int64_t v1, int64_t v2, char *err, size_t len);
/* Writes version target (0: the one before the version in force) back to the config file
 * with the secrets of the file in force, then reloads. 0, or -1 with err. */
int config_versions_rollback(struct supervisor *sup, int64_t target, const char *reason, char *err,
			     size_t len);
/* tradectl config show [V] | history | diff V1 V2 | rollback [V]. */
json_t *config_versions_cmd(struct supervisor *sup, json_t *args);
/* p went FATAL: within config_watch.rollback_window_s of a reload, roll back by itself. */
void config_versions_crash_loop(struct supervisor *sup, const struct proc *p);
/* config_watch.c: starts or stops watching the config file as config_watch.enabled says. */
void config_watch_update(struct supervisor *sup);

#endif
