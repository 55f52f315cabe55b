/* The supervisor's shared state: the process table, the config in force, and the loop.
 * Each file of supervisor/ owns one part of it and says so in its opening lines. */
#ifndef TD_SUPERVISOR_H
#define TD_SUPERVISOR_H

#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "common/config.h"
#include "common/outbox.h"
#include "common/roles.h"
#include "ipc/ipc.h"
#include "supervisor/monitor.h"

#define TRADINGD_VERSION "0.2.0"
/* The daemon's exit status after a crash loop it escalates (EX_TEMPFAIL): systemd's
 * Restart=on-failure starts it afresh. */
#define EXIT_CRASH_LOOP 75
#define CRASHLOOP_HISTORY 128

enum proc_state {
	PROC_STOPPED,
	PROC_STARTING,
	PROC_RUNNING,
	PROC_BACKOFF,
	PROC_STOPPING,
	PROC_EXITED,
	PROC_FATAL,
	PROC_STATE_COUNT,
};

enum proc_event {
	EV_START, /* asked to start (boot, tradectl start, restart) */
	EV_STOP,  /* asked to stop (tradectl stop, shutdown) */
	EV_READY, /* the worker said READY */
	EV_EXIT,  /* the process ended */
	EV_TIMER, /* the state's timer fired: backoff over, ready or stop timeout */
	EV_HUNG,  /* heartbeats unanswered */
	EV_COUNT,
};

struct supervisor;

/* Messages kept for a consumer that is not RUNNING (route.c), latest per key. */
#define ROUTE_HOLD_MAX 256
#define ROUTE_HOLD_PAYLOAD 64

struct held_msg {
	uint32_t type, len;
	char key[IPC_MARKET_LEN];
	unsigned char payload[ROUTE_HOLD_PAYLOAD];
};

struct proc {
	struct supervisor *sup;
	enum role role;
	enum proc_state state;
	uv_process_t *process; /* NULL when no process runs; freed once libuv closes it */
	int pid;
	struct ipc_peer *peer;
	uv_timer_t timer;

	int64_t spawned_mono, ready_mono, state_mono;
	int consecutive_failures;
	uint64_t restarts;
	int64_t restart_times[CRASHLOOP_HISTORY];
	unsigned restart_head;
	int restart_after_stop; /* tradectl restart: start again once stopped */
	int stop_requested;
	char last_exit[48];
	char kill_reason[24]; /* why we sent SIGKILL, for last_exit */
	char description[160];

	uint64_t ping_seq;
	int64_t last_pong_mono;
	/* Heartbeat round trips since it became RUNNING: the last and the worst (tradectl status
	 * --json "heartbeat_ms"; the backup benchmark reads them). */
	int64_t ping_sent_mono[8], pong_last_ms, pong_worst_ms; /* sent: by seq % 8 */
	char *status_json; /* latest STATUS from the worker, for tradectl status --json */

	struct held_msg *held; /* ROUTE_HOLD_MAX entries, for messages to this process */
	int nheld;
	uint64_t held_dropped;
	int fatal_count; /* FATALs in a row, for the cool-down's backoff */
	int64_t fatal_mono;
	struct proc_usage usage;	 /* monitor.c: the last sample of this process */
	int crash_alerted, hung_alerted; /* a "crash"/"hung" alert waits for its "_cleared" */
};

struct control;
struct job_inflight;
struct maint_op;
struct sched;

struct supervisor {
	uv_loop_t *loop;
	struct config cfg;
	char *shares
		[ROLE_WORKER_COUNT]; /* each worker's share of cfg as JSON, made once per load */
	char config_path[PATH_MAX];
	char exe_path[PATH_MAX];
	char net_path[PATH_MAX]; /* tradingd-net, beside exe_path */
	char api_path[PATH_MAX]; /* tradingd-api, beside exe_path */
	struct proc procs[ROLE_COUNT];
	sqlite3 *db;
	struct outbox outbox; /* alerts of the supervisor's own, kept while the database refuses */
	struct control *control;

	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t heartbeat, watchdog;
	int shutting_down;
	int finished; /* every handle closed: the loop is about to end */
	int ready_notified;
	int exit_status; /* what supervisor_run returns once every process stopped */
	int64_t start_mono;
	int64_t start_real_ms;
	uint64_t watchdog_ms;
	struct job_inflight *jobs; /* job_dispatch.c: runs waiting for their JOB_DONE */
	struct sched *sched;	   /* sched.c: the scheduler, NULL until it starts */
	int request_access;	   /* control.c: enum peer_access of the request's peer */
	uint64_t job_adhoc_seq;
	struct monitor *monitor; /* monitor.c: its timer and statements */
	struct sys_usage sys_usage;
	struct proc_usage self_usage; /* the supervisor's own */
	int64_t next_report_ms;	      /* daemon time of the next status report (status_report.c) */
	uint64_t jobs_finished[JOB_PERMANENT + 1]; /* job_dispatch.c: runs ended, by result */
	/* maint_ops.c: the backup, cleanup or restore in progress, and the last one's reply. */
	struct maint_op *maint_op;
	uint64_t maint_seq, maint_done_id;
	json_t *maint_reply;
	/* The database failed its check at start: the trading workers are not started. */
	int db_damaged;
	/* config_versions.c: the version in force and when the last reload applied one. */
	int64_t config_version;
	int64_t reload_mono;
	int request_uid;	   /* uid of the control request being answered; -1: none */
	const char *reload_reason; /* why the reload in progress happens; NULL: "reload" */
	uv_fs_event_t config_watch;
	uv_timer_t config_settle, config_rollback;
	int config_watching;
	int notifier_token_fd; /* the bot token file, -1 when none: for the notifier only */
	int keys_fd; /* exchange.keys_file opened as root, for order-execution only; -1 if none */
};

/* keys_file.c: opens exchange.keys_file (if set) into sup->keys_fd, refusing a file that is
 * not owned by root or the daemon's user, or that group or others may read. 0 or -1. */
int keys_file_open(struct supervisor *sup, uid_t daemon_uid);

/* proc.c: the policy table and the life of each process. */
const char *proc_state_name(enum proc_state state);
void proc_init(struct supervisor *sup, struct proc *p, enum role role);
void proc_event(struct proc *p, enum proc_event ev);
int proc_enabled(const struct proc *p);
void proc_release(struct proc *p);
void proc_describe(const struct proc *p, char *buf, size_t len);

/* spawn.c: fork+exec of a worker or the simulator, each with its socketpair. */
int spawn_proc(struct proc *p);

/* route.c: messages from workers, heartbeats. */
void route_message(struct proc *p, const struct ipc_hdr *hdr, const void *payload);
void heartbeat_tick(uv_timer_t *timer);
void send_config(struct proc *p);
/* Makes every worker's share of cfg into shares (once per load, not per spawn). 0, or -1 when
 * out of memory (nothing made). */
int route_make_shares(const struct config *cfg, char *shares[ROLE_WORKER_COUNT]);
void route_free_shares(char *shares[ROLE_WORKER_COUNT]);
/* p just said READY: the state of what it depends on, then what was held for it. */
void route_worker_ready(struct proc *p);
/* changed went into or out of RUNNING: tell the workers that depend on it. */
void route_peer_state(struct supervisor *sup, const struct proc *changed);
void route_flush_held(struct proc *dest);

/* metrics_reply.c: answers the api worker's METRICS_REQ with the supervisor's state as JSON. */
void metrics_reply(struct proc *p, uint64_t id);

/* supervisor.c: lifecycle of the daemon. */
void supervisor_state_changed(struct supervisor *sup);
void supervisor_shutdown(struct supervisor *sup, const char *why);
/* A crash loop with supervisor.fatal_action "exit": stop everything, exit EXIT_CRASH_LOOP. */
void supervisor_escalate(struct supervisor *sup, const struct proc *p);
/* Writes an alert row to the outbox, then nudges the notifier (ALERT). */
void supervisor_alert(struct supervisor *sup, const char *severity, const char *kind,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int supervisor_reload(struct supervisor *sup, char *err, size_t errlen);
int supervisor_run(const char *config_path);

/* control.c: the control socket; control_cmds.c: what each command does. The socket is given
 * to owner (the uid the daemon drops to; (uid_t)-1 to keep ours) and to control_group. */
struct control *control_open(struct supervisor *sup, uid_t owner, gid_t owner_gid, char *err,
			     size_t errlen);
void control_close(struct control *ctl);
/* A process changed state: replies waiting for it may be due. ctl may be NULL. */
void control_procs_changed(struct control *ctl);

/* notifier_token.c: opens and checks the bot token file; the descriptor (close-on-exec) or -1
 * with err filled. Only spawn.c hands it on, to the notifier, as NOTIFIER_TOKEN_FD. */
int notifier_token_open(const char *path, uid_t daemon_uid, char *err, size_t len);
/* privdrop.c */
int privdrop_prepare(struct supervisor *sup, uid_t *uid, gid_t *gid, int *drop);
int privdrop_apply(uid_t uid, gid_t gid);
int privdrop_peer_allowed(const struct supervisor *sup, int fd, uid_t uid, gid_t gid);
/* What a peer may do, decided from its credentials: nothing, read (monitor_group), or change
 * (root, the daemon's uid, control_group). */
enum peer_access { PEER_NONE, PEER_MONITOR, PEER_CONTROL };
int privdrop_peer_access(const struct supervisor *sup, int fd, uid_t uid, gid_t gid);

#endif
