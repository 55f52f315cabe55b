/* Long SQLite work (prunes, and later backups) done in short steps between turns of the event
 * loop, so that neither the loop nor the write lock is held for more than a few milliseconds. */
#include "db_job.h"

#include "clock.h"
#include "log.h"

static void job_turn(uv_timer_t *timer)
{
	struct db_job *job = timer->data;
	int64_t start = clock_mono_ms(), took;
	int rc;

	job->turns++;
	do {
		rc = job->step(job->arg);
		if (rc == SQLITE_OK || rc == SQLITE_DONE)
			job->steps++;
		took = clock_mono_ms() - start;
	} while (rc == SQLITE_OK && took < job->slice_ms);
	if (took > job->longest_turn_ms)
		job->longest_turn_ms = took;
	/* A pause after every turn, not only a zero timeout: the loop polls I/O either way, but
	 * other processes waiting for the write lock need a moment in which it is free. */
	if (rc == SQLITE_OK) {
		uv_timer_start(timer, job_turn, job->pause_ms, 0);
		return;
	}
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
		job->busy_steps++;
		uv_timer_start(timer, job_turn, job->busy_pause_ms, 0);
		return;
	}
	job->running = 0;
	job->done(job, rc);
}

int db_job_init(struct db_job *job, uv_loop_t *loop, db_job_step_fn step, void *arg,
		void (*done)(struct db_job *job, int rc))
{
	*job = (struct db_job){.step = step,
			       .arg = arg,
			       .done = done,
			       .slice_ms = DB_JOB_SLICE_MS,
			       .pause_ms = DB_JOB_PAUSE_MS,
			       .busy_pause_ms = DB_JOB_BUSY_PAUSE_MS};
	if (uv_timer_init(loop, &job->timer) < 0)
		return -1;
	job->timer.data = job;
	return 0;
}

int db_job_start(struct db_job *job)
{
	if (job->running)
		return -1;
	job->running = 1;
	uv_timer_start(&job->timer, job_turn, 0, 0);
	return 0;
}

void db_job_stop(struct db_job *job)
{
	uv_timer_stop(&job->timer);
	job->running = 0;
}

void db_job_close(struct db_job *job, uv_close_cb cb)
{
	db_job_stop(job);
	uv_close((uv_handle_t *)&job->timer, cb);
}

int db_prune_step(void *arg)
{
	struct db_prune *p = arg;
	sqlite3 *db = sqlite3_db_handle(p->stmt);
	int rc = sqlite3_step(p->stmt);
	int changed = sqlite3_changes(db);

	/* Reset keeps the bindings: the next batch uses the same bounds. */
	sqlite3_reset(p->stmt);
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return rc;
	if (rc != SQLITE_DONE) {
		log_errx("db: prune failed after %llu rows: %s", (unsigned long long)p->changed,
			 sqlite3_errmsg(db));
		return rc;
	}
	p->changed += (uint64_t)changed;
	return changed > 0 ? SQLITE_OK : SQLITE_DONE;
}
