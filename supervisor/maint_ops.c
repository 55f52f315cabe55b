/* tradectl backup, cleanup and backups: the maintenance chain run by hand through job_dispatch
 * (the scheduler runs the same actions). One operation at a time (a restore too,
 * maint_restore.c); its reply waits in the control. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/control.h"
#include "supervisor/job_dispatch.h"
#include "supervisor/maint_op.h"
#include "supervisor/maint_ops.h"

/* A backup of a large database at a low page budget may take a while. */
#define MAINT_JOB_TIMEOUT_MS (3600 * 1000)

static const char *const backup_chain[] = {"backup", NULL};
static const char *const cleanup_chain[] = {"backup", "prune", "checkpoint", "daily_summary", NULL};

static const char *result_name(enum ipc_job_result r)
{
	return r == JOB_OK ? "ok" : r == JOB_TRANSIENT ? "transient" : "permanent";
}

void maint_op_freed(uv_handle_t *handle)
{
	free(handle->data);
}

void maint_op_finish(struct maint_op *op, json_t *reply)
{
	struct supervisor *sup = op->sup;

	json_decref(sup->maint_reply);
	sup->maint_reply = reply;
	sup->maint_done_id = op->id;
	sup->maint_op = NULL;
	json_decref(op->results);
	if (op->timer_open) {
		op->timer.data = op;
		uv_close((uv_handle_t *)&op->timer, maint_op_freed);
	} else {
		free(op);
	}
	control_procs_changed(sup->control);
}

static void run_step(struct maint_op *op);

static void step_done(struct supervisor *sup, uint64_t run_id, enum ipc_job_result result,
		      const char *msg, int64_t duration_ms, void *arg)
{
	struct maint_op *op = arg;

	(void)sup;
	(void)run_id;
	json_array_append_new(op->results,
			      json_pack("{s:s, s:s, s:s, s:I}", "action", op->chain[op->step],
					"result", result_name(result), "message", msg,
					"duration_ms", (json_int_t)duration_ms));
	if (result != JOB_OK)
		op->failed = 1;
	op->step++;
	run_step(op);
}

static int64_t restarts_total(const struct supervisor *sup)
{
	int64_t n = 0;

	for (int i = 0; i < ROLE_COUNT; i++)
		n += (int64_t)sup->procs[i].restarts;
	return n;
}

/* Every step runs even when one before failed: a failed backup is no reason to skip the
 * prune or the checkpoint; the reply says which failed. */
static void run_step(struct maint_op *op)
{
	struct supervisor *sup = op->sup;
	char err[256], args[64];
	const char *action = op->chain[op->step];

	if (!action) {
		maint_op_finish(op, json_pack("{s:b, s:O, s:s}", "ok", !op->failed, "results",
					      op->results, "error",
					      op->failed ? "a step failed (see results)" : ""));
		return;
	}
	snprintf(args, sizeof(args), "{\"restarts\":%lld}", (long long)restarts_total(sup));
	if (job_dispatch(sup, ROLE_MAINTENANCE, action,
			 strcmp(action, "daily_summary") == 0 ? args : NULL,
			 job_dispatch_new_id(sup), MAINT_JOB_TIMEOUT_MS, step_done, op, err,
			 sizeof(err)) < 0) {
		json_array_append_new(op->results,
				      json_pack("{s:s, s:s, s:s, s:i}", "action", action, "result",
						"not run", "message", err, "duration_ms", 0));
		op->failed = 1;
		op->step++;
		run_step(op);
	}
}

struct maint_op *maint_op_new(struct supervisor *sup)
{
	struct maint_op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->sup = sup;
	op->id = ++sup->maint_seq;
	op->results = json_array();
	sup->maint_op = op;
	return op;
}

struct control_wait *maint_op_wait(struct supervisor *sup, struct maint_op *op, int64_t wait_ms)
{
	struct control_wait *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->cmd = "maintenance";
	w->sup = sup;
	w->op_id = op->id;
	w->wait_ms = wait_ms;
	return w;
}

json_t *maint_cmd_chain(struct supervisor *sup, const char *cmd, struct control_wait **wait)
{
	struct maint_op *op;
	struct proc *p = &sup->procs[ROLE_MAINTENANCE];

	if (sup->shutting_down)
		return control_fail("%s refused: the daemon is shutting down", cmd);
	if (sup->maint_op)
		return control_fail("%s refused: a backup, cleanup or restore is running", cmd);
	if (p->state != PROC_RUNNING)
		return control_fail("%s refused: maintenance is not RUNNING", cmd);
	op = maint_op_new(sup);
	if (!op || !(*wait = maint_op_wait(sup, op, CTL_OP_WAIT_MS))) {
		if (op)
			maint_op_finish(op, NULL);
		return control_fail("%s", "out of memory");
	}
	op->chain = strcmp(cmd, "cleanup") == 0 ? cleanup_chain : backup_chain;
	run_step(op);
	/* A step refused at once may have finished the chain already. */
	if (sup->maint_done_id == op->id) {
		json_t *reply = json_deep_copy(sup->maint_reply);

		free(*wait);
		*wait = NULL;
		return reply;
	}
	return NULL;
}

json_t *maint_cmd_backups(struct supervisor *sup)
{
	sqlite3_stmt *st;
	int rc;
	json_t *list = json_array();

	if (sqlite3_prepare_v2(
		    sup->db,
		    "SELECT id, file, size, created_ms, verified, orders, fills, intents,"
		    " coalesce(copy_file, ''), error FROM backups WHERE removed_ms IS NULL"
		    " ORDER BY created_ms, id",
		    -1, &st, NULL) != SQLITE_OK) {
		json_decref(list);
		return json_pack("{s:b, s:s}", "ok", 0, "error", sqlite3_errmsg(sup->db));
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(
			list, json_pack("{s:I, s:s, s:I, s:I, s:b, s:I, s:I, s:I, s:s, s:s}", "id",
					(json_int_t)sqlite3_column_int64(st, 0), "file",
					(const char *)sqlite3_column_text(st, 1), "size",
					(json_int_t)sqlite3_column_int64(st, 2), "created_ms",
					(json_int_t)sqlite3_column_int64(st, 3), "verified",
					sqlite3_column_int(st, 4), "orders",
					(json_int_t)sqlite3_column_int64(st, 5), "fills",
					(json_int_t)sqlite3_column_int64(st, 6), "intents",
					(json_int_t)sqlite3_column_int64(st, 7), "copy_file",
					(const char *)sqlite3_column_text(st, 8), "error",
					(const char *)sqlite3_column_text(st, 9)));
	if (rc != SQLITE_DONE) {
		/* A list cut short is not an empty list: say why. */
		json_t *err = json_pack("{s:b, s:s}", "ok", 0, "error", sqlite3_errmsg(sup->db));

		sqlite3_finalize(st);
		json_decref(list);
		return err;
	}
	sqlite3_finalize(st);
	return json_pack("{s:b, s:o}", "ok", 1, "backups", list);
}

void maint_ops_close(struct supervisor *sup)
{
	struct maint_op *op = sup->maint_op;

	if (op && op->in_work) {
		op->aborted = 1;
		sup->maint_op = NULL;
	} else if (op) {
		maint_op_finish(op, NULL);
	}
	json_decref(sup->maint_reply);
	sup->maint_reply = NULL;
}
