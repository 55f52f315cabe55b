/* The control commands of maintenance (maint_ops.c): backup, cleanup, backups, restore. */
#ifndef TD_MAINT_OPS_H
#define TD_MAINT_OPS_H

#include <jansson.h>

#include "supervisor/supervisor.h"

struct control_wait;

/* How long tradectl is told to wait for a backup or a cleanup. */
#define CTL_OP_WAIT_MS (3600 * 1000)

/* cmd "backup" or "cleanup": runs the chain on the maintenance worker; NULL with *wait set. */
json_t *maint_cmd_chain(struct supervisor *sup, const char *cmd, struct control_wait **wait);
/* The backups on record that still exist. */
json_t *maint_cmd_backups(struct supervisor *sup);
/* restore FILE: refused, or NULL with *wait set until the workers are back. */
json_t *maint_cmd_restore(struct supervisor *sup, json_t *args, struct control_wait **wait);
/* A process changed state (a restore waits for the workers). */
void maint_ops_state_changed(struct supervisor *sup);
/* The daemon is finishing: an operation still running is dropped. */
void maint_ops_close(struct supervisor *sup);

#endif
