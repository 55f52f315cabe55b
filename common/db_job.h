/* Long SQLite work (prunes, and later backups) done in short steps between turns of the event
 * loop, so that neither the loop nor the write lock is held for more than a few milliseconds. */
#ifndef TD_DB_JOB_H
#define TD_DB_JOB_H

#include <sqlite3.h>
#include <stdint.h>
#include <uv.h>

/* A step does a bounded piece of the work, in its own short transaction, and returns a SQLite
 * result code as sqlite3_backup_step does: SQLITE_OK when there is more to do, SQLITE_DONE
 * when finished, SQLITE_BUSY or SQLITE_LOCKED to be called again later, anything else when
 * the job failed (the step logs why). */
typedef int (*db_job_step_fn)(void *arg);

/* Real milliseconds of steps per turn, between turns, and after a busy step. */
#define DB_JOB_SLICE_MS 5
#define DB_JOB_PAUSE_MS 10
#define DB_JOB_BUSY_PAUSE_MS 200

struct db_job {
	uv_timer_t timer;
	db_job_step_fn step;
	void *arg;
	/* Called once when the job ends: rc is SQLITE_DONE, or the failed step's result code. */
	void (*done)(struct db_job *job, int rc);
	unsigned slice_ms, pause_ms, busy_pause_ms;
	uint64_t steps, busy_steps, turns;
	int64_t longest_turn_ms; /* real time; a step that takes longer wants a smaller batch */
	int running;
};

/* Sets the job up with the default timings (fields may be changed before db_job_start). */
int db_job_init(struct db_job *job, uv_loop_t *loop, db_job_step_fn step, void *arg,
		void (*done)(struct db_job *job, int rc));
/* Starts the job on the next loop turn. -1 when it is already running. */
int db_job_start(struct db_job *job);
/* Stops a running job after its current step; done is not called. */
void db_job_stop(struct db_job *job);
/* Stops it and closes its timer: the memory of job may be freed once cb has run. */
void db_job_close(struct db_job *job, uv_close_cb cb);

/* A prune: stmt deletes (or updates) at most one batch of rows, e.g.
 *   DELETE FROM candles WHERE (market, unit, start_ms) IN
 *       (SELECT market, unit, start_ms FROM candles WHERE start_ms < ?1 LIMIT 1000)
 * bound by the caller once. Each step runs it once (one transaction); the job is done when a
 * step changes no row. The caller finalizes stmt. */
struct db_prune {
	sqlite3_stmt *stmt;
	uint64_t changed;
};
int db_prune_step(void *arg);

#endif
