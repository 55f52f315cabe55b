/* The runtime every worker process shares: one libuv loop, the socket to the supervisor on
 * IPC_WORKER_FD, config delivery, READY, heartbeats, status, and a clean shutdown. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/harden.h"
#include "common/log.h"
#include "common/outbox.h"
#include "workers/worker.h"

/* Test-only fault points, TRADINGD_FAULT=ROLE:FAULT[:ARG], so that the supervisor's handling
 * of a broken worker is exercised for real:
 *   exit-at-start         exit(1) as soon as the config is there, every time;
 *   ready-after:MS        READY MS ms after init, as a worker with start-up work does;
 *   ready-version:N       READY for protocol N;
 *   send-type:T           right after READY, a frame of type T that this role may not send;
 *   send-at-stop:T        a frame of type T as the worker stops, as one already on its way
 *                         when SHUTDOWN came;
 *   grow-rss:MB           each SIGUSR1 allocates and touches MB more (the memory limit);
 *   burn-cpu:MS           each SIGUSR1 keeps a CPU busy for MS ms while the loop still
 *                         answers (cpu_high);
 *   job-result:ACTION:transient|permanent:COUNT
 *                         the first COUNT runs of ACTION in this process end with that result
 *                         instead of running;
 *   job-delay:MS          every run waits MS ms before it starts, the loop turning meanwhile,
 *                         so that long runs of real actions can be tested.
 * ROLE "any" names every worker. */
#define FAULT_ENV "TRADINGD_FAULT"

static void delayed_stop_all(void);

int worker_send(struct worker *w, uint32_t type, const void *payload, uint32_t len)
{
	return ipc_send(w->supervisor, type, payload, len);
}

int worker_send_coalesce(struct worker *w, uint32_t type, const char *key, const void *payload,
			 uint32_t len)
{
	return ipc_send_coalesce(w->supervisor, type, key, payload, len);
}

/* The argument of a fault for role ("" when it has none), or NULL when not requested. */
static const char *fault_requested(enum role role, const char *fault)
{
	const char *spec = getenv(FAULT_ENV);
	const char *who = spec && strncmp(spec, "any:", 4) == 0 ? "any" : role_name(role);
	size_t n = strlen(who), f = strlen(fault);

	if (!spec || strncmp(spec, who, n) != 0 || spec[n] != ':' ||
	    strncmp(spec + n + 1, fault, f) != 0)
		return NULL;
	spec += n + 1 + f;
	return *spec == ':' ? spec + 1 : *spec == '\0' ? spec : NULL;
}

void worker_send_alert_text(struct worker *w, const char *source, const struct outbox_pending *p)
{
	struct {
		struct ipc_alert_text h;
		char text[sizeof(p->text)];
	} m;
	size_t len = strlen(p->text);

	memset(&m.h, 0, sizeof(m.h));
	snprintf(m.h.uid, sizeof(m.h.uid), "%s", p->uid);
	m.h.created_ms = p->created_ms;
	snprintf(m.h.severity, sizeof(m.h.severity), "%s", p->severity);
	snprintf(m.h.source, sizeof(m.h.source), "%s", source);
	snprintf(m.h.kind, sizeof(m.h.kind), "%s", p->kind);
	memcpy(m.text, p->text, len);
	worker_send(w, IPC_ALERT_TEXT, &m, (uint32_t)(sizeof(m.h) + len));
}

const char *worker_fault(const struct worker *w, const char *fault)
{
	return fault_requested(w->role, fault);
}

/* A fault's frame of type t, all zeros, of the smallest size the type allows. */
static void send_zero_frame(struct worker *w, uint32_t t, const char *when)
{
	static const unsigned char zeros[256];
	uint32_t len = 0;

	while (len < sizeof(zeros) && ipc_check_size(t, len) < 0)
		len++;
	log_warnx("fault injected: sending %s%s", ipc_type_name(t), when);
	worker_send(w, t, zeros, len);
}

void worker_ready(struct worker *w)
{
	struct ipc_ready ready = {.version = IPC_VERSION, .role = (uint32_t)w->role};
	const char *version = fault_requested(w->role, "ready-version");
	const char *type = fault_requested(w->role, "send-type");
	const char *delay = fault_requested(w->role, "ready-after");

	if (w->ready || w->stopping)
		return;
	/* A test's delayed READY holds a worker's own READY until the delay is over, and the
	 * delay does not cut a worker's start-up work short. */
	w->ready_asked = 1;
	if (delay && *delay && !w->fault_delay_over)
		return;
	w->ready = 1;
	if (version && *version)
		ready.version = (uint32_t)strtoul(version, NULL, 10);
	worker_send(w, IPC_READY, &ready, sizeof(ready));
	log_info("ready");
	if (type && *type)
		send_zero_frame(w, (uint32_t)strtoul(type, NULL, 10), "");
}

static void on_fault_timer(uv_timer_t *timer)
{
	struct worker *w = timer->data;

	w->fault_delay_over = 1;
	if (!w->ready_later || w->ready_asked)
		worker_ready(w);
}

void worker_stop(struct worker *w)
{
	const char *at_stop;

	if (w->stopping)
		return;
	w->stopping = 1;
	delayed_stop_all();
	uv_close((uv_handle_t *)&w->fault_timer, NULL);
	uv_close((uv_handle_t *)&w->sigusr1, NULL);
	uv_close((uv_handle_t *)&w->fault_burn, NULL);
	while (w->fault_rss) {
		void **next = *(void ***)w->fault_rss;

		free(w->fault_rss);
		w->fault_rss = next;
	}
	if (w->have_config && w->ops->stop)
		w->ops->stop(w);
	at_stop = fault_requested(w->role, "send-at-stop");
	if (at_stop && *at_stop)
		send_zero_frame(w, (uint32_t)strtoul(at_stop, NULL, 10), " at stop");
	uv_close((uv_handle_t *)&w->sigterm, NULL);
	uv_close((uv_handle_t *)&w->sigint, NULL);
	/* libuv puts back the default action (death) when its last handler goes: the SIGTERM that
	 * the supervisor sends beside SHUTDOWN must not cut this clean exit short. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	ipc_peer_close(w->supervisor);
	w->supervisor = NULL;
}

static int count_own_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n > 0 ? n - 1 : 0; /* less the descriptor of the listing itself */
}

/* Test-only: grow-rss:MB makes each SIGUSR1 allocate and touch MB more, kept until exit, so
 * that the monitor's memory limit can be crossed for real. */
static void on_grow_rss(uv_signal_t *handle, int signum)
{
	struct worker *w = handle->data;
	const char *mb = fault_requested(w->role, "grow-rss");
	size_t bytes = (size_t)strtoul(mb ? mb : "0", NULL, 10) << 20;
	void **block;

	(void)signum;
	if (bytes < sizeof(void *) || !(block = malloc(bytes)))
		return;
	memset(block, 0x5a, bytes);
	*block = w->fault_rss;
	w->fault_rss = block;
	log_warnx("fault injected: RSS grown by %zu MB", bytes >> 20);
}

/* Test-only: one slice of burn-cpu, 20 ms of spinning per turn of the loop, so that heartbeats
 * and messages are still answered between slices (a hung worker is another test). */
static void on_burn_slice(uv_idle_t *handle)
{
	struct worker *w = handle->data;
	int64_t now = clock_mono_ms(), end = now + 20;
	volatile uint64_t spin = 0;

	if (now >= w->fault_burn_until_mono) {
		uv_idle_stop(handle);
		log_warnx("fault injected: CPU burn over");
		return;
	}
	while (clock_mono_ms() < end && clock_mono_ms() < w->fault_burn_until_mono)
		for (int i = 0; i < 10000; i++)
			spin = spin + (uint64_t)i;
}

static void on_burn_cpu(uv_signal_t *handle, int signum)
{
	struct worker *w = handle->data;
	const char *ms = fault_requested(w->role, "burn-cpu");

	(void)signum;
	w->fault_burn_until_mono = clock_mono_ms() + (int64_t)strtoll(ms ? ms : "0", NULL, 10);
	log_warnx("fault injected: burning CPU for %s ms", ms ? ms : "0");
	uv_idle_start(&w->fault_burn, on_burn_slice);
}

static void send_status(struct worker *w, const void *payload, uint32_t len)
{
	json_t *out = json_object();
	char *text;
	uint64_t id;
	size_t tlen;

	memcpy(&id, payload, sizeof(id));
	(void)len;
	if (w->ops->status)
		w->ops->status(w, out);
	/* Only this process may list its fds (it is not dumpable): the monitor takes it here. */
	json_object_set_new(out, "fds", json_integer(count_own_fds()));
	text = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	if (!text)
		return;
	tlen = strlen(text);
	if (tlen + sizeof(id) <= IPC_MAX_PAYLOAD) {
		char *buf = malloc(sizeof(id) + tlen);

		if (buf) {
			memcpy(buf, &id, sizeof(id));
			memcpy(buf + sizeof(id), text, tlen);
			worker_send(w, IPC_STATUS, buf, (uint32_t)(sizeof(id) + tlen));
			free(buf);
		}
	}
	free(text);
}

static void apply_config(struct worker *w, const char *payload, uint32_t len)
{
	struct config next;
	char *text = malloc(len + 1);

	if (!text)
		fatalx("out of memory for the config");
	memcpy(text, payload, len);
	text[len] = '\0';
	/* The supervisor validated it; a failure here means the two ends disagree: a bug. */
	if (config_load_text(&next, "(from supervisor)", text, len, CONFIG_KEYS_ONLY) < 0) {
		config_print_errors(&next, stderr);
		fatalx("supervisor sent a config this worker cannot load");
	}
	free(text);
	if (w->have_config)
		config_free(&w->cfg);
	w->cfg = next;
	log_set_level((enum log_level)config_log_level(&w->cfg));
	if (!w->have_config) {
		const char *delay = fault_requested(w->role, "ready-after");
		int rc = 0;

		w->have_config = 1;
		if (fault_requested(w->role, "exit-at-start"))
			fatalx("fault injected: exit at start");
		if (w->ops->init && (rc = w->ops->init(w)) < 0) {
			log_errx("initialisation failed");
			exit(1);
		}
		w->ready_later = rc == WORKER_READY_LATER;
		if (delay && *delay) {
			log_warnx("fault injected: READY in %s ms", delay);
			uv_timer_start(&w->fault_timer, on_fault_timer, strtoull(delay, NULL, 10),
				       0);
		} else if (rc != WORKER_READY_LATER) {
			worker_ready(w);
		}
	} else if (w->ops->on_config) {
		w->ops->on_config(w);
	}
}

/* What every worker knows of the roles it depends on (role_info()->depends_on). */
static void peer_state(struct worker *w, const void *payload)
{
	struct ipc_peer_state st;

	memcpy(&st, payload, sizeof(st));
	if (st.role >= ROLE_COUNT || !(role_info(w->role)->depends_on & ROLE_BIT(st.role)))
		fatalx("PEER_STATE for role %u, which this worker does not depend on: protocol "
		       "violation",
		       st.role);
	if (st.running)
		w->peers_down &= ~ROLE_BIT(st.role);
	else
		w->peers_down |= ROLE_BIT(st.role);
	if (w->ops->on_peer)
		w->ops->on_peer(w, (enum role)st.role, (int)st.running);
}

void worker_job_done(struct worker *w, uint64_t run_id, enum ipc_job_result result, const char *fmt,
		     ...)
{
	struct {
		struct ipc_job_done done;
		char msg[IPC_JOB_MSG_MAX + 1];
	} out = {.done = {.run_id = run_id, .result = (uint32_t)result}};
	int n = 0;
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		n = vsnprintf(out.msg, sizeof(out.msg), fmt, ap);
		va_end(ap);
		if (n < 0)
			n = 0;
		if (n > IPC_JOB_MSG_MAX)
			n = IPC_JOB_MSG_MAX;
	}
	if (w->jobs_running > 0)
		w->jobs_running--;
	log_msg(result == JOB_OK ? LOG_LVL_INFO : LOG_LVL_WARN, "job %llu %s%s%s",
		(unsigned long long)run_id,
		result == JOB_OK	  ? "done"
		: result == JOB_TRANSIENT ? "failed (transient)"
					  : "failed (permanent)",
		n ? ": " : "", out.msg);
	if (w->supervisor &&
	    worker_send(w, IPC_JOB_DONE, &out, (uint32_t)(sizeof(out.done) + (size_t)n)) < 0)
		log_warnx("job %llu: cannot send JOB_DONE (the supervisor times the run out)",
			  (unsigned long long)run_id);
}

/* JOB_RUN: the action named, with the arguments after the struct. An action this worker does
 * not have is a permanent failure, not a protocol violation: the config names actions, and a
 * mismatch between the two is for the operator to see. */
/* Test-only: 1 when this run of action is to fail with *result (job-result fault). */
static int job_fault(struct worker *w, const char *action, enum ipc_job_result *result)
{
	static unsigned long used;
	const char *spec = fault_requested(w->role, "job-result");
	size_t n = strlen(action);
	const char *kind;
	unsigned long count;

	if (!spec || strncmp(spec, action, n) != 0 || spec[n] != ':')
		return 0;
	kind = spec + n + 1;
	if (strncmp(kind, "transient:", 10) == 0)
		*result = JOB_TRANSIENT;
	else if (strncmp(kind, "permanent:", 10) == 0)
		*result = JOB_PERMANENT;
	else
		return 0;
	count = strtoul(kind + 10, NULL, 10);
	if (used >= count)
		return 0;
	used++;
	return 1;
}

static void run_action(struct worker *w, uint64_t run_id, const char *action, const char *args)
{
	for (const struct worker_action *a = w->ops->actions; a && a->name; a++) {
		if (strcmp(a->name, action) == 0) {
			log_info("job %llu: %s", (unsigned long long)run_id, a->name);
			a->run(w, run_id, args);
			return;
		}
	}
	worker_job_done(w, run_id, JOB_PERMANENT, "%s has no action \"%s\"", role_name(w->role),
			action);
}

/* Test-only job-delay: runs held back, freed when they start or at the stop. */
struct delayed_run {
	uv_timer_t timer;
	struct worker *w;
	uint64_t run_id;
	char action[IPC_ACTION_LEN];
	char *args;
	struct delayed_run *next;
};
static struct delayed_run *delayed;

static void delayed_free(uv_handle_t *h)
{
	struct delayed_run *d = h->data;

	free(d->args);
	free(d);
}

static void delayed_unlink(struct delayed_run *d)
{
	for (struct delayed_run **p = &delayed; *p; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			return;
		}
}

static void delayed_fire(uv_timer_t *t)
{
	struct delayed_run *d = t->data;

	delayed_unlink(d);
	if (!d->w->stopping)
		run_action(d->w, d->run_id, d->action, d->args);
	uv_close((uv_handle_t *)&d->timer, delayed_free);
}

static void delayed_stop_all(void)
{
	while (delayed) {
		struct delayed_run *d = delayed;

		delayed = d->next;
		uv_close((uv_handle_t *)&d->timer, delayed_free);
	}
}

/* 1 when the run was held back (job-delay fault); it starts later. */
static int job_delay(struct worker *w, const struct ipc_job_run *run, char *args)
{
	const char *spec = fault_requested(w->role, "job-delay");
	struct delayed_run *d;
	long ms;

	if (!spec || (ms = strtol(spec, NULL, 10)) <= 0 || !(d = calloc(1, sizeof(*d))))
		return 0;
	d->w = w;
	d->run_id = run->run_id;
	snprintf(d->action, sizeof(d->action), "%s", run->action);
	d->args = args;
	d->next = delayed;
	delayed = d;
	uv_timer_init(w->loop, &d->timer);
	d->timer.data = d;
	uv_timer_start(&d->timer, delayed_fire, (uint64_t)ms, 0);
	log_warnx("TEST FAULT: job %llu (%s) starts in %ld ms", (unsigned long long)run->run_id,
		  run->action, ms);
	return 1;
}

static void job_run(struct worker *w, const void *payload, uint32_t len)
{
	struct ipc_job_run run;
	enum ipc_job_result forced;
	char *args;

	memcpy(&run, payload, sizeof(run));
	run.action[IPC_ACTION_LEN - 1] = '\0';
	args = strndup((const char *)payload + sizeof(run), len - sizeof(run));
	if (!args)
		fatalx("out of memory for a job's arguments");
	w->jobs_running++;
	if (job_fault(w, run.action, &forced)) {
		free(args);
		worker_job_done(w, run.run_id, forced, "test fault: %s forced to fail", run.action);
		return;
	}
	if (job_delay(w, &run, args))
		return;
	run_action(w, run.run_id, run.action, args);
	free(args);
}

static void on_supervisor_msg(struct ipc_peer *peer, const struct ipc_hdr *hdr, const void *payload,
			      void *arg)
{
	struct worker *w = arg;

	(void)peer;
	switch (hdr->type) {
	case IPC_CONFIG:
		apply_config(w, payload, hdr->len);
		break;
	case IPC_PING:
		worker_send(w, IPC_PONG, payload, hdr->len);
		break;
	case IPC_STATUS_REQ:
		send_status(w, payload, hdr->len);
		break;
	case IPC_SHUTDOWN:
		log_info("shutdown requested by the supervisor");
		worker_stop(w);
		break;
	case IPC_PEER_STATE:
		peer_state(w, payload);
		break;
	case IPC_JOB_RUN:
		if (!w->ready)
			fatalx("JOB_RUN before READY: protocol violation");
		job_run(w, payload, hdr->len);
		break;
	default:
		if (!w->have_config)
			fatalx("%s before the config: protocol violation",
			       ipc_type_name(hdr->type));
		if (w->ops->on_msg)
			w->ops->on_msg(w, hdr, payload);
		else
			log_warnx("unexpected %s from the supervisor", ipc_type_name(hdr->type));
		break;
	}
}

static void on_supervisor_close(struct ipc_peer *peer, enum ipc_close_reason reason, void *arg)
{
	struct worker *w = arg;

	(void)peer;
	/* The peer frees itself after this callback. */
	w->supervisor = NULL;
	if (reason == IPC_CLOSED_MALFORMED)
		fatalx("the supervisor sent a malformed frame");
	log_notice("supervisor went away (%s): exiting",
		   reason == IPC_CLOSED_EOF ? "end of file" : "socket error");
	worker_stop(w);
}

static void on_signal(uv_signal_t *handle, int signum)
{
	struct worker *w = handle->data;

	log_info("signal %d: stopping", signum);
	worker_stop(w);
}

/* The role's resource priorities (roles.c): nice, and ioprio_set, which glibc does not wrap. */
static void lower_priority(enum role role)
{
	const struct role_info *ri = role_info(role);

	if (ri->nice && setpriority(PRIO_PROCESS, 0, ri->nice) < 0)
		log_warn("setpriority(%d)", ri->nice);
	/* IOPRIO_WHO_PROCESS = 1, class IOPRIO_CLASS_BE (2) << 13, level 7: the lowest. */
	if (ri->io_low && syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 7) < 0)
		log_warn("ioprio_set");
	if (ri->nice || ri->io_low)
		log_info("running at nice %d%s", ri->nice,
			 ri->io_low ? " and the lowest best-effort I/O priority" : "");
}

int worker_run(enum role role, const struct worker_ops *ops)
{
	struct worker w = {.role = role};
	uv_loop_t loop;
	int rc;

	log_init(role_name(role));
	harden_process();
	/* Die with the supervisor; and if it is already gone, do not linger. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		fatal("prctl(PR_SET_PDEATHSIG)");
	if (getppid() == 1)
		fatalx("the supervisor exited before this worker started");
	/* Nothing inherited survives but the socket, the keys file order-execution is handed
	 * and the bot token the notifier is handed. */
	if (role == ROLE_NOTIFIER) {
		close_range(IPC_WORKER_FD + 1, NOTIFIER_TOKEN_FD - 1, 0);
		close_range(NOTIFIER_TOKEN_FD + 1, ~0U, 0);
	} else {
		close_range(IPC_WORKER_FD + 1 +
				    (role == ROLE_ORDER_EXECUTION && getenv(WORKER_KEYS_FD_ENV)
					     ? 1
					     : 0),
			    ~0U, 0);
	}
	if (clock_import_env() < 0)
		fatalx("malformed %s in the environment", CLOCK_ENV);
	if ((unsigned)role >= ROLE_WORKER_COUNT)
		fatalx("%s is not a worker role", role_name(role));
	lower_priority(role);
	w.ops = ops;
	signal(SIGPIPE, SIG_IGN);
	if (uv_loop_init(&loop) < 0)
		fatalx("uv_loop_init failed");
	w.loop = &loop;
	w.supervisor = ipc_peer_open(&loop, IPC_WORKER_FD, "supervisor", on_supervisor_msg,
				     on_supervisor_close, &w);
	if (!w.supervisor)
		fatalx("no supervisor socket on fd %d", IPC_WORKER_FD);
	ipc_peer_identify(w.supervisor, (uint32_t)role, IPC_ID_SUPERVISOR, (uint32_t)getppid());
	uv_timer_init(&loop, &w.fault_timer);
	w.fault_timer.data = &w;
	uv_signal_init(&loop, &w.sigterm);
	uv_signal_init(&loop, &w.sigint);
	w.sigterm.data = w.sigint.data = &w;
	uv_signal_start(&w.sigterm, on_signal, SIGTERM);
	uv_signal_start(&w.sigint, on_signal, SIGINT);
	uv_signal_init(&loop, &w.sigusr1);
	w.sigusr1.data = &w;
	uv_idle_init(&loop, &w.fault_burn);
	w.fault_burn.data = &w;
	if (fault_requested(role, "grow-rss"))
		uv_signal_start(&w.sigusr1, on_grow_rss, SIGUSR1);
	else if (fault_requested(role, "burn-cpu"))
		uv_signal_start(&w.sigusr1, on_burn_cpu, SIGUSR1);
	uv_run(&loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&loop);
	if (rc != 0)
		log_warnx("loop closed with handles still open: %s", uv_strerror(rc));
	if (w.have_config)
		config_free(&w.cfg);
	log_info("exited cleanly");
	return 0;
}
