/* The life of one supervised process as a table of state × event → action (s6-supervise's
 * actions[][]): spawn, restart with backoff, crash-loop detection, stop with a timeout. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/outbox.h"
#include "supervisor/config_versions.h"
#include "supervisor/supervisor.h"

static const char *const state_names[PROC_STATE_COUNT] = {
	[PROC_STOPPED] = "STOPPED", [PROC_STARTING] = "STARTING", [PROC_RUNNING] = "RUNNING",
	[PROC_BACKOFF] = "BACKOFF", [PROC_STOPPING] = "STOPPING", [PROC_EXITED] = "EXITED",
	[PROC_FATAL] = "FATAL",
};

const char *proc_state_name(enum proc_state state)
{
	return (unsigned)state < PROC_STATE_COUNT ? state_names[state] : "UNKNOWN";
}

typedef void (*proc_action)(struct proc *p);

static void act_none(struct proc *p)
{
	(void)p;
}

static const struct config_supervisor *policy_of(const struct proc *p)
{
	return &p->sup->cfg.s.supervisor;
}

static void set_state(struct proc *p, enum proc_state state)
{
	if (p->state == state)
		return;
	int was_running = p->state == PROC_RUNNING;

	log_debug("%s: %s -> %s", role_name(p->role), proc_state_name(p->state),
		  proc_state_name(state));
	p->state = state;
	p->state_mono = clock_mono_ms();
	if (was_running != (state == PROC_RUNNING))
		route_peer_state(p->sup, p);
	supervisor_state_changed(p->sup);
}

static void on_timer(uv_timer_t *timer)
{
	proc_event(timer->data, EV_TIMER);
}

static void arm_timer(struct proc *p, int64_t ms)
{
	uv_timer_start(&p->timer, on_timer, (uint64_t)(ms > 0 ? ms : 0), 0);
}

static void act_spawn(struct proc *p)
{
	uv_timer_stop(&p->timer);
	p->stop_requested = 0;
	if (spawn_proc(p) < 0) {
		/* fork or exec setup failed: treat it as a crash so that backoff applies. */
		snprintf(p->last_exit, sizeof(p->last_exit), "spawn failed");
		p->spawned_mono = clock_mono_ms();
		p->state = PROC_STARTING;
		proc_event(p, EV_EXIT);
		return;
	}
	set_state(p, PROC_STARTING);
	arm_timer(p, policy_of(p)->ready_timeout_ms);
}

static void act_spawn_fresh(struct proc *p)
{
	p->consecutive_failures = 0;
	p->restart_head = 0;
	memset(p->restart_times, 0, sizeof(p->restart_times));
	act_spawn(p);
}

static void act_ready(struct proc *p)
{
	uv_timer_stop(&p->timer);
	p->ready_mono = clock_mono_ms();
	p->last_pong_mono = p->ready_mono;
	p->pong_last_ms = p->pong_worst_ms = 0;
	set_state(p, PROC_RUNNING);
	log_info("%s: running, pid %d, ready in %lld ms", role_name(p->role), p->pid,
		 (long long)(p->ready_mono - p->spawned_mono));
	if (p->fatal_count > 0)
		supervisor_alert(p->sup, OUTBOX_INFO, "crash_loop_cleared",
				 "%s is running again after its crash loop (pid %d)",
				 role_name(p->role), p->pid);
	/* A crash or a hang is one alert until the process runs again: then its clear. */
	if (p->crash_alerted)
		supervisor_alert(p->sup, OUTBOX_INFO, "crash_cleared",
				 "%s is running again (pid %d)", role_name(p->role), p->pid);
	if (p->hung_alerted)
		supervisor_alert(p->sup, OUTBOX_INFO, "hung_cleared",
				 "%s answers again after it hung (pid %d)", role_name(p->role),
				 p->pid);
	p->crash_alerted = p->hung_alerted = 0;
	route_worker_ready(p);
}

static void act_stop(struct proc *p)
{
	p->stop_requested = 1;
	if (p->peer)
		ipc_send(p->peer, IPC_SHUTDOWN, NULL, 0);
	if (p->pid > 0)
		kill(p->pid, SIGTERM);
	set_state(p, PROC_STOPPING);
	arm_timer(p, policy_of(p)->stop_timeout_ms);
}

static void act_kill(struct proc *p)
{
	if (p->pid > 0) {
		log_warnx("%s: pid %d did not %s in time: SIGKILL", role_name(p->role), p->pid,
			  p->state == PROC_STOPPING ? "stop" : "become ready");
		snprintf(p->kill_reason, sizeof(p->kill_reason), "%s",
			 p->state == PROC_STOPPING ? "stop timeout" : "ready timeout");
		kill(p->pid, SIGKILL);
	}
}

static void act_hung(struct proc *p)
{
	if (p->pid > 0) {
		log_errx("%s: pid %d stopped answering heartbeats: killing it", role_name(p->role),
			 p->pid);
		snprintf(p->kill_reason, sizeof(p->kill_reason), "hung");
		kill(p->pid, SIGKILL);
		if (!p->hung_alerted)
			supervisor_alert(p->sup, OUTBOX_WARNING, "hung",
					 "%s (pid %d) stopped answering heartbeats for %lld ms: "
					 "killed, it restarts",
					 role_name(p->role), p->pid,
					 (long long)policy_of(p)->heartbeat_timeout_ms);
		p->hung_alerted = 1;
	}
}

static void act_cancel_backoff(struct proc *p)
{
	uv_timer_stop(&p->timer);
	set_state(p, PROC_STOPPED);
}

static void act_restart_after_stop(struct proc *p)
{
	p->restart_after_stop = 1;
}

/* A stop during a restart (tradectl restart, a memory-limit or reload restart) wins: the
 * process stays stopped, as the operator said last. */
static void act_cancel_restart(struct proc *p)
{
	if (p->restart_after_stop)
		log_notice("%s: the pending restart is cancelled by a stop", role_name(p->role));
	p->restart_after_stop = 0;
}

/* Counts this restart and says whether the window now holds more than allowed. */
static int crash_loop(struct proc *p)
{
	int64_t now = clock_mono_ms();
	int64_t window = policy_of(p)->crashloop_window_s * 1000;
	int64_t max = policy_of(p)->crashloop_max_restarts;
	int count = 0;

	p->restart_times[p->restart_head++ % CRASHLOOP_HISTORY] = now;
	for (unsigned i = 0; i < CRASHLOOP_HISTORY; i++)
		if (p->restart_times[i] && now - p->restart_times[i] <= window)
			count++;
	return count > max || (max >= CRASHLOOP_HISTORY && count >= CRASHLOOP_HISTORY);
}

/* A crash loop is never a silent, permanent stop: it is logged, alerted and shown to systemd,
 * then either retried after a cool-down that doubles while it keeps failing, or escalated:
 * the daemon exits for systemd to start everything afresh (supervisor.fatal_action). */
static void act_fatal(struct proc *p)
{
	const struct config_supervisor *pol = policy_of(p);
	int64_t retry_s = pol->fatal_retry_s;

	for (int i = 0; i < p->fatal_count && i < 8; i++)
		retry_s *= 2;
	p->fatal_count++;
	p->fatal_mono = clock_mono_ms();
	log_msg(LOG_LVL_CRIT, "%s: crash loop: more than %lld restarts in %lld s: FATAL",
		role_name(p->role), (long long)pol->crashloop_max_restarts,
		(long long)pol->crashloop_window_s);
	supervisor_alert(p->sup, OUTBOX_CRITICAL, "crash_loop",
			 "%s is in a crash loop (more than %lld restarts in %lld s, last: %s); %s",
			 role_name(p->role), (long long)pol->crashloop_max_restarts,
			 (long long)pol->crashloop_window_s, p->last_exit,
			 pol->fatal_action == FATAL_EXIT
				 ? "tradingd exits for systemd to restart it"
				 : "it is tried again after a cool-down");
	config_versions_crash_loop(p->sup, p);
	if (pol->fatal_action == FATAL_EXIT) {
		snprintf(p->description, sizeof(p->description), "crash loop (last: %s)",
			 p->last_exit);
		set_state(p, PROC_FATAL);
		supervisor_escalate(p->sup, p);
		return;
	}
	snprintf(p->description, sizeof(p->description),
		 "crash loop: more than %lld restarts in %lld s (last: %s); retry in %lld s",
		 (long long)pol->crashloop_max_restarts, (long long)pol->crashloop_window_s,
		 p->last_exit, (long long)retry_s);
	log_notice("%s: trying again in %lld s", role_name(p->role), (long long)retry_s);
	set_state(p, PROC_FATAL);
	arm_timer(p, retry_s * 1000);
}

/* The cool-down after a crash loop is over: a fresh window, the same FATAL count. */
static void act_fatal_retry(struct proc *p)
{
	log_notice("%s: cool-down over: starting again", role_name(p->role));
	p->consecutive_failures = 0;
	p->restart_head = 0;
	memset(p->restart_times, 0, sizeof(p->restart_times));
	act_spawn(p);
}

static void act_exited(struct proc *p)
{
	int64_t now = clock_mono_ms();
	int64_t ran = now - p->spawned_mono;
	int64_t delay;

	uv_timer_stop(&p->timer);
	if (p->sup->shutting_down || p->stop_requested) {
		log_notice("%s: stopped (%s after %lld ms)", role_name(p->role), p->last_exit,
			   (long long)ran);
		set_state(p, PROC_STOPPED);
		return;
	}
	log_warnx("%s: %s after %lld ms", role_name(p->role), p->last_exit, (long long)ran);
	/* An exit nobody asked for; a hang has its own alert already. */
	if (!p->crash_alerted && !p->hung_alerted)
		supervisor_alert(p->sup, OUTBOX_WARNING, "crash", "%s crashed (%s after %lld s)",
				 role_name(p->role), p->last_exit, (long long)(ran / 1000));
	p->crash_alerted = 1;
	/* A run that lasted was healthy: restart at once. Quick failures back off exponentially. */
	if (p->state == PROC_RUNNING && ran >= policy_of(p)->backoff_reset_ms) {
		p->consecutive_failures = 0;
		p->fatal_count = 0;
	} else {
		p->consecutive_failures++;
	}
	if (crash_loop(p)) {
		act_fatal(p);
		return;
	}
	p->restarts++;
	if (p->consecutive_failures == 0) {
		log_notice("%s: restarting at once (it ran %lld ms)", role_name(p->role),
			   (long long)ran);
		set_state(p, PROC_EXITED);
		act_spawn(p);
		return;
	}
	delay = policy_of(p)->backoff_initial_ms;
	for (int i = 1; i < p->consecutive_failures && delay < policy_of(p)->backoff_max_ms; i++)
		delay *= 2;
	if (delay > policy_of(p)->backoff_max_ms)
		delay = policy_of(p)->backoff_max_ms;
	snprintf(p->description, sizeof(p->description), "%s; restart in %lld ms", p->last_exit,
		 (long long)delay);
	log_notice("%s: restarting in %lld ms", role_name(p->role), (long long)delay);
	set_state(p, PROC_BACKOFF);
	arm_timer(p, delay);
}

static void act_stopped(struct proc *p)
{
	log_notice("%s: stopped (%s after %lld ms)", role_name(p->role), p->last_exit,
		   (long long)(clock_mono_ms() - p->spawned_mono));
	uv_timer_stop(&p->timer);
	set_state(p, PROC_STOPPED);
	if (p->restart_after_stop && !p->sup->shutting_down) {
		p->restart_after_stop = 0;
		act_spawn_fresh(p);
	}
}

static void act_bug(struct proc *p)
{
	log_errx("%s: unexpected event in state %s", role_name(p->role), proc_state_name(p->state));
}

/* The policy. Rows are states, columns events. */
static const proc_action policy[PROC_STATE_COUNT][EV_COUNT] = {
	/*                START            STOP              READY      EXIT         TIMER      HUNG */
	[PROC_STOPPED] = {act_spawn_fresh, act_none, act_bug, act_bug, act_none, act_none},
	[PROC_STARTING] = {act_none, act_stop, act_ready, act_exited, act_kill, act_hung},
	[PROC_RUNNING] = {act_none, act_stop, act_bug, act_exited, act_none, act_hung},
	[PROC_BACKOFF] = {act_spawn, act_cancel_backoff, act_bug, act_bug, act_spawn, act_none},
	[PROC_STOPPING] = {act_restart_after_stop, act_cancel_restart, act_none, act_stopped,
			   act_kill, act_none},
	[PROC_EXITED] = {act_spawn, act_cancel_backoff, act_bug, act_bug, act_spawn, act_none},
	[PROC_FATAL] = {act_spawn_fresh, act_cancel_backoff, act_bug, act_bug, act_fatal_retry,
			act_none},
};

void proc_event(struct proc *p, enum proc_event ev)
{
	policy[p->state][ev](p);
}

int proc_enabled(const struct proc *p)
{
	if (p->role == ROLE_SIM)
		return p->sup->cfg.s.mode == MODE_SIM;
	/* A database that failed its check at start is not traded on until a restore. */
	if (p->sup->db_damaged && (p->role == ROLE_MARKET_DATA || p->role == ROLE_STRATEGY ||
				   p->role == ROLE_ORDER_EXECUTION))
		return 0;
	return p->sup->cfg.s.workers[p->role].enabled;
}

void proc_init(struct supervisor *sup, struct proc *p, enum role role)
{
	memset(p, 0, sizeof(*p));
	p->sup = sup;
	p->role = role;
	p->state = PROC_STOPPED;
	uv_timer_init(sup->loop, &p->timer);
	p->timer.data = p;
	snprintf(p->description, sizeof(p->description), "Not started");
}

void proc_release(struct proc *p)
{
	uv_close((uv_handle_t *)&p->timer, NULL);
	free(p->status_json);
	p->status_json = NULL;
	free(p->held);
	p->held = NULL;
}

static void format_uptime(int64_t secs, char *buf, size_t len)
{
	int64_t days = secs / 86400;

	secs %= 86400;
	if (days > 0)
		snprintf(buf, len, "%lld day%s, %lld:%02lld:%02lld", (long long)days,
			 days == 1 ? "" : "s", (long long)(secs / 3600),
			 (long long)(secs / 60 % 60), (long long)(secs % 60));
	else
		snprintf(buf, len, "%lld:%02lld:%02lld", (long long)(secs / 3600),
			 (long long)(secs / 60 % 60), (long long)(secs % 60));
}

void proc_describe(const struct proc *p, char *buf, size_t len)
{
	char up[48];

	switch (p->state) {
	case PROC_RUNNING:
		format_uptime((clock_mono_ms() - p->ready_mono) / 1000, up, sizeof(up));
		snprintf(buf, len, "pid %d, uptime %s", p->pid, up);
		break;
	case PROC_STARTING:
	case PROC_STOPPING:
		snprintf(buf, len, "pid %d", p->pid);
		break;
	case PROC_STOPPED:
		/* The state column says STOPPED already: say how and when. */
		format_uptime((clock_mono_ms() - p->state_mono) / 1000, up, sizeof(up));
		if (p->last_exit[0])
			snprintf(buf, len, "%s, %s ago", p->last_exit, up);
		else
			snprintf(buf, len, "Not started");
		break;
	default:
		snprintf(buf, len, "%s", p->description);
		break;
	}
}
