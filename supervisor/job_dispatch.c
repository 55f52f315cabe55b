/* Job runs in flight: each is a JOB_RUN sent to a RUNNING worker and waits for its JOB_DONE,
 * the worker's exit or its timeout, whichever comes first; the callback runs exactly once. */
#include "supervisor/job_dispatch.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "supervisor/supervisor.h"

struct job_inflight {
	struct supervisor *sup;
	struct job_inflight *next;
	uv_timer_t timer;
	enum role role;
	uint64_t run_id;
	int64_t started_mono;
	char action[IPC_ACTION_LEN];
	job_done_fn done;
	void *arg;
};

/* Ids this process makes start high: the scheduler's ledger ids (row ids) never reach them. */
#define JOB_ADHOC_ID_BASE (UINT64_C(1) << 62)

uint64_t job_dispatch_new_id(struct supervisor *sup)
{
	return JOB_ADHOC_ID_BASE + ++sup->job_adhoc_seq;
}

static void inflight_free(uv_handle_t *handle)
{
	free(handle->data);
}

static struct job_inflight *unlink_run(struct supervisor *sup, uint64_t run_id)
{
	for (struct job_inflight **pp = &sup->jobs; *pp; pp = &(*pp)->next) {
		struct job_inflight *j = *pp;

		if (j->run_id == run_id) {
			*pp = j->next;
			return j;
		}
	}
	return NULL;
}

static void finish_run(struct job_inflight *j, enum ipc_job_result result, const char *msg)
{
	int64_t took = clock_mono_ms() - j->started_mono;

	uv_timer_stop(&j->timer);
	uv_close((uv_handle_t *)&j->timer, inflight_free);
	if ((unsigned)result <= JOB_PERMANENT)
		j->sup->jobs_finished[result]++; /* for /metrics */
	if (j->done)
		j->done(j->sup, j->run_id, result, msg, took, j->arg);
}

static void on_timeout(uv_timer_t *timer)
{
	struct job_inflight *j = timer->data;
	char msg[96];

	unlink_run(j->sup, j->run_id);
	snprintf(msg, sizeof(msg), "no answer from %s within %lld ms", role_name(j->role),
		 (long long)(clock_mono_ms() - j->started_mono));
	log_warnx("job %llu (%s.%s): %s", (unsigned long long)j->run_id, role_name(j->role),
		  j->action, msg);
	finish_run(j, JOB_TRANSIENT, msg);
}

int job_dispatch(struct supervisor *sup, enum role role, const char *action, const char *args,
		 uint64_t run_id, int64_t timeout_ms, job_done_fn done, void *arg, char *err,
		 size_t errlen)
{
	struct proc *p = &sup->procs[role];
	size_t alen = args ? strlen(args) : 0;
	struct job_inflight *j;
	char *frame;
	int rc;

	if ((unsigned)role >= ROLE_WORKER_COUNT || p->state != PROC_RUNNING || !p->peer) {
		snprintf(err, errlen, "%s is not running", role_name(role));
		return -1;
	}
	if (strlen(action) >= IPC_ACTION_LEN ||
	    alen > IPC_MAX_PAYLOAD - sizeof(struct ipc_job_run)) {
		snprintf(err, errlen, "action or arguments too long");
		return -1;
	}
	for (j = sup->jobs; j; j = j->next) {
		if (j->run_id == run_id) {
			snprintf(err, errlen, "run %llu is already in flight",
				 (unsigned long long)run_id);
			return -1;
		}
	}
	j = calloc(1, sizeof(*j));
	frame = malloc(sizeof(struct ipc_job_run) + alen);
	if (!j || !frame) {
		free(j);
		free(frame);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	struct ipc_job_run run = {.run_id = run_id};
	snprintf(run.action, sizeof(run.action), "%s", action);
	memcpy(frame, &run, sizeof(run));
	if (alen)
		memcpy(frame + sizeof(run), args, alen);
	rc = ipc_send(p->peer, IPC_JOB_RUN, frame, (uint32_t)(sizeof(run) + alen));
	free(frame);
	if (rc < 0) {
		free(j);
		snprintf(err, errlen, "cannot send to %s: %s", role_name(role), strerror(-rc));
		return -1;
	}
	*j = (struct job_inflight){.sup = sup,
				   .next = sup->jobs,
				   .role = role,
				   .run_id = run_id,
				   .started_mono = clock_mono_ms(),
				   .done = done,
				   .arg = arg};
	snprintf(j->action, sizeof(j->action), "%s", action);
	uv_timer_init(sup->loop, &j->timer);
	j->timer.data = j;
	if (timeout_ms > 0)
		uv_timer_start(&j->timer, on_timeout, (uint64_t)timeout_ms, 0);
	sup->jobs = j;
	return 0;
}

int job_dispatch_pending(const struct supervisor *sup, enum role role)
{
	int n = 0;

	for (const struct job_inflight *j = sup->jobs; j; j = j->next)
		n += j->role == role;
	return n;
}

void job_dispatch_done(struct proc *p, const void *payload, uint32_t len)
{
	struct ipc_job_done done;
	struct job_inflight *j;
	char msg[IPC_JOB_MSG_MAX + 1];
	size_t mlen = len - sizeof(done);

	memcpy(&done, payload, sizeof(done));
	memcpy(msg, (const char *)payload + sizeof(done), mlen);
	msg[mlen] = '\0';
	j = unlink_run(p->sup, done.run_id);
	if (!j || j->role != p->role) {
		/* Late (timed out already) or from a worker that did not get it. */
		if (j) {
			j->next = p->sup->jobs;
			p->sup->jobs = j;
		}
		log_warnx("%s: JOB_DONE for run %llu, which is not in flight there: ignored",
			  role_name(p->role), (unsigned long long)done.run_id);
		return;
	}
	if (done.result > JOB_PERMANENT)
		done.result = JOB_PERMANENT;
	finish_run(j, (enum ipc_job_result)done.result, msg);
}

void job_dispatch_proc_gone(struct proc *p)
{
	struct job_inflight **pp = &p->sup->jobs;

	while (*pp) {
		struct job_inflight *j = *pp;

		if (j->role != p->role) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		finish_run(j, JOB_TRANSIENT, "the worker exited during the run");
	}
}

void job_dispatch_close(struct supervisor *sup)
{
	while (sup->jobs) {
		struct job_inflight *j = sup->jobs;

		sup->jobs = j->next;
		j->done = NULL;
		finish_run(j, JOB_TRANSIENT, "");
	}
}
