/* Between maint_ops.c (backup, cleanup, backups) and maint_restore.c: the operation in
 * progress, how it ends, and the wait its reply is held in. Private to those two files. */
#ifndef TD_MAINT_OP_H
#define TD_MAINT_OP_H

#include <jansson.h>
#include <limits.h>
#include <uv.h>

#include "supervisor/supervisor.h"

struct control_wait;

enum restore_phase { RESTORE_COPYING, RESTORE_STOPPING, RESTORE_STARTING };

struct maint_op {
	struct supervisor *sup;
	uint64_t id;
	const char *const *chain; /* actions of maintenance, NULL-terminated; NULL for restore */
	int step;
	json_t *results;
	int failed;
	/* restore */
	uv_timer_t timer;
	int timer_open;
	uv_work_t work; /* the copy into data_dir, in a thread: the loop keeps its heartbeats */
	int in_work, aborted;
	char copy_err[512];
	enum restore_phase phase;
	unsigned restart_mask; /* ROLE_BIT of each worker to start again */
	char file[PATH_MAX], tmp[PATH_MAX + 32], aside[PATH_MAX + 64];
};

/* A new operation, sup->maint_op (the caller checked there was none); NULL without memory. */
struct maint_op *maint_op_new(struct supervisor *sup);
/* The wait a control client's reply is held in until the operation ends (within wait_ms). */
struct control_wait *maint_op_wait(struct supervisor *sup, struct maint_op *op, int64_t wait_ms);
/* Ends op with reply (owned; NULL: none): the waits are judged again, op is freed. */
void maint_op_finish(struct maint_op *op, json_t *reply);
/* uv_close callback that frees the operation whose timer it was. */
void maint_op_freed(uv_handle_t *handle);

#endif
