/* The daemon's lifecycle: set-up (config, directories, database, control socket, privileges),
 * start of every process, readiness to systemd, reload, and the ordered shutdown. */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/harden.h"
#include "common/log.h"
#include "common/outbox.h"
#include "common/sdnotify.h"
#include "supervisor/config_versions.h"
#include "supervisor/job_dispatch.h"
#include "supervisor/maint_ops.h"
#include "supervisor/sched.h"
#include "supervisor/supervisor.h"
#include "workers/worker.h"

#define EX_CONFIG 78

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		/* Parents must be traversable by the unprivileged user. */
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

void supervisor_alert(struct supervisor *sup, const char *severity, const char *kind,
		      const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (sup->db)
		outbox_post(&sup->outbox, severity, kind, text);
}

/* The row first, then the nudge: the alert survives any crash after the commit. */
static void alert_stored(void *arg, int64_t id)
{
	struct supervisor *sup = arg;
	struct proc *notifier = &sup->procs[ROLE_NOTIFIER];

	if (notifier->state == PROC_RUNNING && notifier->peer)
		ipc_send(notifier->peer, IPC_ALERT, &id, sizeof(id));
}

/* The database refused the alert for now: the notifier gets its text, so that it is delivered
 * anyway; the row, stored later with the same uid, is then not delivered again. */
static void alert_kept(void *arg, const char *source, const struct outbox_pending *kept)
{
	struct supervisor *sup = arg;
	struct proc *notifier = &sup->procs[ROLE_NOTIFIER];
	struct {
		struct ipc_alert_text h;
		char text[sizeof(kept->text)];
	} m;
	size_t len;

	if (notifier->state != PROC_RUNNING || !notifier->peer)
		return;
	memset(&m, 0, sizeof(m));
	snprintf(m.h.uid, sizeof(m.h.uid), "%s", kept->uid);
	m.h.created_ms = kept->created_ms;
	snprintf(m.h.severity, sizeof(m.h.severity), "%s", kept->severity);
	snprintf(m.h.source, sizeof(m.h.source), "%s", source);
	snprintf(m.h.kind, sizeof(m.h.kind), "%s", kept->kind);
	len = strlen(kept->text);
	memcpy(m.text, kept->text, len);
	ipc_send(notifier->peer, IPC_ALERT_TEXT, &m, (uint32_t)(sizeof(m.h) + len));
}

void supervisor_escalate(struct supervisor *sup, const struct proc *p)
{
	char why[96];

	snprintf(why, sizeof(why), "crash loop of %s (supervisor.fatal_action is exit)",
		 role_name(p->role));
	sup->exit_status = EXIT_CRASH_LOOP;
	supervisor_shutdown(sup, why);
}

/* STATUS= for systemd: how many run, and by name what is FATAL (degraded). */
static void notify_status(struct supervisor *sup)
{
	char msg[256], fatal_names[160] = "";
	int running = 0, enabled = 0, fatal = 0;
	size_t used = 0;

	for (int i = 0; i < ROLE_COUNT; i++) {
		struct proc *p = &sup->procs[i];

		if (!proc_enabled(p))
			continue;
		enabled++;
		running += p->state == PROC_RUNNING;
		if (p->state == PROC_FATAL) {
			int n = snprintf(fatal_names + used, sizeof(fatal_names) - used, "%s%s",
					 fatal ? ", " : "", role_name(p->role));

			if (n > 0 && (size_t)n < sizeof(fatal_names) - used)
				used += (size_t)n;
			fatal++;
		}
	}
	if (fatal)
		snprintf(msg, sizeof(msg),
			 "STATUS=%sdegraded: %s FATAL (crash loop); %d/%d running",
			 sup->shutting_down ? "stopping; " : "", fatal_names, running, enabled);
	else
		snprintf(msg, sizeof(msg), "STATUS=%s%d/%d running",
			 sup->shutting_down ? "stopping; " : "", running, enabled);
	sd_notify_send(msg);
	/* Start-up is over once every process is RUNNING or has given up (FATAL): a crash loop
	 * at boot is reported as degraded, not left for systemd to time out and restart. */
	if (!sup->ready_notified && !sup->shutting_down && running + fatal == enabled) {
		sup->ready_notified = 1;
		sd_notify_send("READY=1");
		if (fatal)
			log_msg(LOG_LVL_CRIT, "started degraded: %d of %d processes FATAL", fatal,
				enabled);
		else
			log_notice("all %d processes running", running);
	}
}

static void finish(struct supervisor *sup)
{
	if (sup->finished)
		return;
	sup->finished = 1;
	control_close(sup->control);
	sup->control = NULL;
	sched_stop(sup);
	job_dispatch_close(sup);
	monitor_close(sup);
	maint_ops_close(sup);
	uv_close((uv_handle_t *)&sup->config_watch, NULL);
	uv_close((uv_handle_t *)&sup->config_settle, NULL);
	uv_close((uv_handle_t *)&sup->config_rollback, NULL);
	uv_close((uv_handle_t *)&sup->sig_term, NULL);
	uv_close((uv_handle_t *)&sup->sig_int, NULL);
	uv_close((uv_handle_t *)&sup->sig_hup, NULL);
	uv_close((uv_handle_t *)&sup->heartbeat, NULL);
	uv_close((uv_handle_t *)&sup->watchdog, NULL);
	for (int i = 0; i < ROLE_COUNT; i++)
		proc_release(&sup->procs[i]);
	log_notice("every process stopped: exiting");
}

/* Stops one process at a time, in reverse start order: dependants before what they need. */
static void shutdown_step(struct supervisor *sup)
{
	const enum role *order = role_start_order();

	for (int i = ROLE_COUNT - 1; i >= 0; i--) {
		struct proc *p = &sup->procs[order[i]];

		if (p->state == PROC_BACKOFF || p->state == PROC_EXITED)
			proc_event(p, EV_STOP);
		if (p->process == NULL)
			continue;
		if (p->state != PROC_STOPPING)
			proc_event(p, EV_STOP);
		return;
	}
	finish(sup);
}

void supervisor_state_changed(struct supervisor *sup)
{
	control_procs_changed(sup->control);
	maint_ops_state_changed(sup);
	if (sup->shutting_down) {
		shutdown_step(sup);
		return;
	}
	notify_status(sup);
}

void supervisor_shutdown(struct supervisor *sup, const char *why)
{
	if (sup->shutting_down)
		return;
	log_notice("shutting down: %s", why);
	sup->shutting_down = 1;
	/* No job starts once the workers begin to stop. */
	sched_stop(sup);
	sd_notify_send("STOPPING=1");
	shutdown_step(sup);
}

/* What a change to each top-level key needs. Workers receive every change (on_config); those
 * marked restart are restarted because they read the key only at their start; the daemon's
 * own keys take effect at its next start. A key not listed is applied live. README.md lists
 * the same table. */
enum reload_effect { RELOAD_LIVE, RELOAD_RESTART_ROLES, RELOAD_NEXT_START };

static const struct reload_rule {
	const char *key;
	enum reload_effect effect;
} reload_rules[] = {
	/* clang-format off */
	{"mode", RELOAD_NEXT_START},	      {"user", RELOAD_NEXT_START},
	{"control_group", RELOAD_NEXT_START}, {"data_dir", RELOAD_NEXT_START},
	{"run_dir", RELOAD_NEXT_START},	      {"control", RELOAD_NEXT_START},
	{"clock", RELOAD_NEXT_START},	      {"sim", RELOAD_NEXT_START},
	{"exchange", RELOAD_RESTART_ROLES},   {"log_level", RELOAD_LIVE},
	{"supervisor", RELOAD_LIVE},	      {"workers", RELOAD_LIVE},
	{"market_data", RELOAD_LIVE},	      {"maintenance", RELOAD_RESTART_ROLES},
	{"config_watch", RELOAD_LIVE},
	/* clang-format on */
	/* The notifier applies severities, the storm window, retries and timeouts live; its
	 * sinks (one per chat, the webhook), rate limits, poller and rescan timer are built at
	 * its start; the token file is opened by the supervisor as root, before the drop. */
	{"notifier.webhook.url", RELOAD_RESTART_ROLES},
	{"notifier.telegram.base_url", RELOAD_RESTART_ROLES},
	{"notifier.telegram.chat_ids", RELOAD_RESTART_ROLES},
	{"notifier.telegram.commands", RELOAD_RESTART_ROLES},
	{"notifier.telegram.chat_interval_ms", RELOAD_RESTART_ROLES},
	{"notifier.telegram.group_per_minute", RELOAD_RESTART_ROLES},
	{"notifier.rescan_interval_ms", RELOAD_RESTART_ROLES},
	{"notifier.telegram.token_file", RELOAD_NEXT_START},
};

/* The value at a dotted key ("notifier.webhook.url"), NULL when absent. */
static json_t *config_node(const struct config *c, const char *key)
{
	json_t *node = c->root;
	char part[64];

	while (node && *key) {
		size_t n = strcspn(key, ".");

		if (n >= sizeof(part))
			return NULL;
		memcpy(part, key, n);
		part[n] = '\0';
		node = json_object_get(node, part);
		key += n + (key[n] == '.');
	}
	return node;
}

static int key_changed(const struct config *a, const struct config *b, const char *key)
{
	json_t *x = config_node(a, key), *y = config_node(b, key);

	return (x || y) && !json_equal(x, y);
}

/* Whether role receives the top-level section of a dotted key. */
static int role_receives_key(enum role role, const char *key)
{
	char top[64];
	size_t n = strcspn(key, ".");

	if (n >= sizeof(top))
		return 0;
	memcpy(top, key, n);
	top[n] = '\0';
	return role_receives_section(role, top);
}

/* The workers to restart for next: those that receive a changed section marked restart. */
static unsigned reload_plan(struct supervisor *sup, const struct config *next)
{
	unsigned restart = 0;

	for (size_t i = 0; i < sizeof(reload_rules) / sizeof(reload_rules[0]); i++) {
		const struct reload_rule *r = &reload_rules[i];

		if (!key_changed(&sup->cfg, next, r->key))
			continue;
		if (r->effect == RELOAD_NEXT_START)
			log_warnx("reload: a change to \"%s\" takes effect at the next start",
				  r->key);
		if (r->effect != RELOAD_RESTART_ROLES)
			continue;
		for (int role = 0; role < ROLE_WORKER_COUNT; role++)
			if (role_receives_key((enum role)role, r->key))
				restart |= ROLE_BIT(role);
	}
	return restart;
}

int supervisor_reload(struct supervisor *sup, char *err, size_t errlen)
{
	struct config next;
	char *shares[ROLE_WORKER_COUNT] = {NULL};
	int was_enabled[ROLE_COUNT];
	unsigned restart;
	uint64_t hb;
	int recorded;

	/* A reload would start again what the shutdown has just stopped, and say READY=1. */
	if (sup->shutting_down) {
		snprintf(err, errlen, "reload refused: the daemon is shutting down");
		log_warnx("%s", err);
		return -1;
	}
	if (config_load(&next, sup->config_path, CONFIG_FULL) < 0) {
		config_format_errors(&next, err, errlen);
		log_errx("reload refused, the config in force is kept: %s", err);
		config_free(&next);
		return -1;
	}
	if (route_make_shares(&next, shares) < 0) {
		snprintf(err, errlen, "out of memory for the workers' configs");
		goto refused;
	}
	recorded = config_version_record(sup, &next, &sup->cfg,
					 sup->reload_reason ? sup->reload_reason : "reload", err,
					 errlen);
	if (recorded < 0)
		goto refused;
	/* A crash loop soon after a change is blamed on it (config_watch.rollback_window_s); not
	 * after a rollback, which would otherwise roll forward again to the change it undid. */
	if (recorded > 0)
		sup->reload_mono = sup->reload_reason && strstr(sup->reload_reason, "rollback")
					   ? 0
					   : clock_mono_ms();
	sd_notify_send("RELOADING=1");
	for (int i = 0; i < ROLE_COUNT; i++)
		was_enabled[i] = proc_enabled(&sup->procs[i]);
	restart = reload_plan(sup, &next);
	config_free(&sup->cfg);
	sup->cfg = next;
	route_free_shares(sup->shares);
	memcpy(sup->shares, shares, sizeof(shares));
	log_set_level((enum log_level)config_log_level(&sup->cfg));
	/* The heartbeat takes the new period at once, and a new timeout counts from now: a pong
	 * not yet due under the old, longer period is no sign of a hang. */
	hb = (uint64_t)sup->cfg.s.supervisor.heartbeat_interval_ms;
	uv_timer_start(&sup->heartbeat, heartbeat_tick, hb, hb);
	monitor_reconfigure(sup);
	for (int i = 0; i < ROLE_COUNT; i++) {
		struct proc *p = &sup->procs[i];

		if (p->state == PROC_RUNNING)
			p->last_pong_mono = clock_mono_ms();
		send_config(p);
		/* Only a change of workers.NAME.enabled starts or stops a process: one an
		 * operator stopped with tradectl stays stopped. */
		if (proc_enabled(p) && !was_enabled[i]) {
			proc_event(p, EV_START);
		} else if (!proc_enabled(p) && was_enabled[i] && p->state != PROC_STOPPED) {
			proc_event(p, EV_STOP);
		} else if ((restart & ROLE_BIT(i)) && p->state == PROC_RUNNING) {
			log_notice("reload: restarting %s for the change", role_name(p->role));
			proc_event(p, EV_STOP);
			proc_event(p, EV_START);
		}
	}
	config_watch_update(sup);
	sched_reload(sup);
	log_notice("reloaded %s (config version %lld%s)", sup->config_path,
		   (long long)sup->config_version, recorded ? "" : ", unchanged");
	sd_notify_send("READY=1");
	notify_status(sup);
	return 0;
refused:
	log_errx("reload refused, the config in force is kept: %s", err);
	route_free_shares(shares);
	config_free(&next);
	return -1;
}

static void on_signal(uv_signal_t *handle, int signum)
{
	struct supervisor *sup = handle->data;
	char err[2048];

	if (signum == SIGHUP) {
		log_notice("SIGHUP: reloading");
		supervisor_reload(sup, err, sizeof(err));
		return;
	}
	supervisor_shutdown(sup, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void on_watchdog(uv_timer_t *timer)
{
	(void)timer;
	sd_notify_send("WATCHDOG=1");
}

/* A directory open to more than mode is narrowed to it (and said so). When that fails, a
 * required one is refused (the socket's: others could replace the socket), another is only
 * warned about (under systemd root may not chmod a directory it no longer owns). */
static int restrict_dir(const char *dir, mode_t mode, int required)
{
	struct stat st;

	if (stat(dir, &st) < 0) {
		log_err("cannot stat %s", dir);
		return -1;
	}
	if ((st.st_mode & 07777 & ~mode) == 0)
		return 0;
	if (chmod(dir, mode) < 0) {
		log_msg(required ? LOG_LVL_ERR : LOG_LVL_WARN,
			"%s is mode %04o, open to others, and cannot be narrowed to %04o%s: %s",
			dir, (unsigned)(st.st_mode & 07777), (unsigned)mode,
			required ? ": refusing to put the control socket there" : "",
			strerror(errno));
		return required ? -1 : 0;
	}
	log_warnx("%s was mode %04o, open to others: narrowed to %04o", dir,
		  (unsigned)(st.st_mode & 07777), (unsigned)mode);
	return 0;
}

/* A damaged database is not traded on: 1 when quick_check finds a problem (logged with the way
 * to restore). */
static int quick_check(sqlite3 *db, const char *data_dir)
{
	sqlite3_stmt *st;
	char first[256] = "cannot run quick_check";
	int damaged = 1;

	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(first, sizeof(first), "%s",
				 (const char *)sqlite3_column_text(st, 0));
			damaged = strcmp(first, "ok") != 0;
		}
		sqlite3_finalize(st);
	}
	if (damaged)
		log_msg(LOG_LVL_CRIT,
			"%s/%s fails quick_check (%s): market-data, order-execution and strategy "
			"are not started; restore a verified backup: tradectl backups, then "
			"tradectl restore FILE (docs/operations.md)",
			data_dir, DB_FILE_NAME, first);
	return damaged;
}

/* Directories, schema and ownership, done while still privileged. */
static int prepare_storage(struct supervisor *sup, uid_t uid, gid_t gid, int drop)
{
	const char *data_dir = sup->cfg.s.data_dir;
	const char *run_dir = sup->cfg.s.run_dir;
	const char *group = sup->cfg.s.control_group;
	struct group *gr = group[0] ? getgrnam(group) : NULL;
	/* With monitor_group, its members must reach the socket too: others may traverse run_dir
	 * and the daemon tells peers apart by their credentials (privdrop_peer_access). */
	mode_t run_mode = sup->cfg.s.monitor_group[0] ? 0751 : 0750;
	char path[PATH_MAX];
	sqlite3 *db;

	if (mkdir_p(data_dir, 0700) < 0 || mkdir_p(run_dir, run_mode) < 0) {
		log_err("cannot create data_dir %s or run_dir %s", data_dir, run_dir);
		return -1;
	}
	/* Owner-only data, also when an older build made it group-readable. */
	if (restrict_dir(run_dir, run_mode, 1) < 0 || restrict_dir(data_dir, 0700, 0) < 0)
		return -1;
	db = db_open(data_dir, DB_SETUP_BUSY_MS);
	if (!db || db_migrate(db) < 0) {
		sqlite3_close(db);
		return -1;
	}
	sup->db_damaged = quick_check(db, data_dir);
	/* Closing the last connection removes -wal and -shm, so no root-owned file is left. */
	sqlite3_close(db);
	/* Members of control_group must reach the socket inside run_dir (mode 0750). */
	if (group[0] && !gr) {
		log_errx("control_group \"%s\" does not exist", group);
		return -1;
	}
	if (!drop && gr && chown(run_dir, (uid_t)-1, gr->gr_gid) < 0) {
		/* Started unprivileged (systemd's User=): a chgrp needs the group's membership. */
		log_err("cannot give %s to control_group %s (the daemon's user must be a member: "
			"SupplementaryGroups=%s in the unit)",
			run_dir, group, group);
		return -1;
	}
	if (drop) {
		snprintf(path, sizeof(path), "%s/%s", data_dir, DB_FILE_NAME);
		if (chown(data_dir, uid, gid) < 0 ||
		    chown(run_dir, uid, gr ? gr->gr_gid : gid) < 0 || chown(path, uid, gid) < 0) {
			log_err("cannot give %s and %s to uid %u", data_dir, run_dir,
				(unsigned)uid);
			return -1;
		}
	}
	return 0;
}

static int setup(struct supervisor *sup, const char *config_path)
{
	char err[512];
	uid_t uid;
	gid_t gid;
	int drop;
	ssize_t n;

	snprintf(sup->config_path, sizeof(sup->config_path), "%s", config_path);
	n = readlink("/proc/self/exe", sup->exe_path, sizeof(sup->exe_path) - 1);
	if (n < 0) {
		log_err("readlink /proc/self/exe");
		return -1;
	}
	sup->exe_path[n] = '\0';
	/* The network roles run in their own binary, installed beside this one. */
	snprintf(sup->net_path, sizeof(sup->net_path), "%.*s/%s",
		 (int)(strrchr(sup->exe_path, '/') - sup->exe_path), sup->exe_path,
		 ROLE_NET_BINARY);
	snprintf(sup->api_path, sizeof(sup->api_path), "%.*s/%s",
		 (int)(strrchr(sup->exe_path, '/') - sup->exe_path), sup->exe_path,
		 ROLE_API_BINARY);
	log_set_level((enum log_level)config_log_level(&sup->cfg));
	if (sup->cfg.s.clock.test) {
		char start[40];

		/* With clock.origin a restarted daemon goes on where the timeline is now, as an
		 * exchange outside the daemon does, instead of starting the day over. */
		clock_set_test(sup->cfg.s.clock.start_ms, sup->cfg.s.clock.rate,
			       sup->cfg.s.clock.origin_ms);
		clock_format(sup->cfg.s.clock.start_ms, 0, start, sizeof(start));
		log_msg(LOG_LVL_WARN,
			"TEST CLOCK ACTIVE: time starts at %sZ and runs %g times faster", start,
			clock_rate());
	} else if (getenv(CLOCK_ENV)) {
		/* A test harness may hand down its clock as the supervisor hands it to workers. */
		if (sup->cfg.s.mode == MODE_LIVE || clock_import_env() != 1) {
			log_errx("%s is set but refused (live mode, or malformed)", CLOCK_ENV);
			return -1;
		}
		log_msg(LOG_LVL_WARN, "TEST CLOCK ACTIVE: taken from %s, %g times faster",
			CLOCK_ENV, clock_rate());
	}
	/* Children inherit it from the environment: every process computes the same instant. */
	clock_export_env();
	if (privdrop_prepare(sup, &uid, &gid, &drop) < 0 || keys_file_open(sup, uid) < 0 ||
	    prepare_storage(sup, uid, gid, drop) < 0)
		return -1;
	/* Opened while still root: the token file may be readable by root only. */
	if (sup->cfg.s.notifier.telegram.token_file[0] != '\0') {
		sup->notifier_token_fd = notifier_token_open(
			sup->cfg.s.notifier.telegram.token_file, uid, err, sizeof(err));
		if (sup->notifier_token_fd < 0) {
			log_errx("%s", err);
			return -1;
		}
	}
	sup->control =
		control_open(sup, drop ? uid : (uid_t)-1, drop ? gid : (gid_t)-1, err, sizeof(err));
	if (!sup->control) {
		log_errx("%s", err);
		return -1;
	}
	if (drop) {
		if (privdrop_apply(uid, gid) < 0)
			return -1;
		log_info("running as uid %u, gid %u", (unsigned)uid, (unsigned)gid);
	}
	sup->db = db_open(sup->cfg.s.data_dir,
			  db_busy_ms(sup->cfg.s.supervisor.heartbeat_timeout_ms));
	if (!sup->db)
		return -1;
	outbox_init(&sup->outbox, sup->db, "tradingd", alert_stored, sup);
	outbox_on_kept(&sup->outbox, alert_kept);
	if (sup->db_damaged)
		supervisor_alert(
			sup, OUTBOX_CRITICAL, "db_integrity",
			"the database fails its integrity check: the trading workers are "
			"not started; restore the newest verified backup (tradectl backups, "
			"then tradectl restore FILE)");
	if (config_version_record(sup, &sup->cfg, NULL, "start", err, sizeof(err)) < 0) {

		log_errx("%s", err);
		return -1;
	}
	if (route_make_shares(&sup->cfg, sup->shares) < 0) {
		log_errx("out of memory for the workers' configs");
		return -1;
	}
	return monitor_start(sup);
}

int supervisor_run(const char *config_path)
{
	struct supervisor sup = {.keys_fd = -1};

	sup.notifier_token_fd = -1;
	uv_loop_t loop;
	int rc = 0;

	log_init("tradingd");
	harden_process();
	if (config_load(&sup.cfg, config_path, CONFIG_FULL) < 0) {
		config_print_errors(&sup.cfg, stderr);
		config_free(&sup.cfg);
		return EX_CONFIG;
	}
	/* The banner first: what follows (migrations, the privilege drop) belongs to this start. */
	log_set_level((enum log_level)config_log_level(&sup.cfg));
	log_notice("tradingd %s starting (mode %s, pid %d)", TRADINGD_VERSION,
		   config_mode_name(sup.cfg.s.mode), (int)getpid());
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&loop);
	sup.loop = &loop;
	sup.start_mono = clock_mono_ms();
	sup.start_real_ms = clock_real_ms();
	for (int i = 0; i < ROLE_COUNT; i++)
		proc_init(&sup, &sup.procs[i], (enum role)i);
	uv_signal_init(&loop, &sup.sig_term);
	uv_signal_init(&loop, &sup.sig_int);
	uv_signal_init(&loop, &sup.sig_hup);
	uv_timer_init(&loop, &sup.heartbeat);
	uv_timer_init(&loop, &sup.watchdog);
	uv_fs_event_init(&loop, &sup.config_watch);
	uv_timer_init(&loop, &sup.config_settle);
	uv_timer_init(&loop, &sup.config_rollback);
	sup.config_watch.data = sup.config_settle.data = sup.config_rollback.data = &sup;
	sup.request_uid = -1;
	sup.sig_term.data = sup.sig_int.data = sup.sig_hup.data = &sup;
	sup.heartbeat.data = sup.watchdog.data = &sup;

	if (setup(&sup, config_path) < 0) {
		rc = 1;
		sup.shutting_down = 1;
		finish(&sup);
	} else {
		uint64_t hb = (uint64_t)sup.cfg.s.supervisor.heartbeat_interval_ms;

		uv_signal_start(&sup.sig_term, on_signal, SIGTERM);
		uv_signal_start(&sup.sig_int, on_signal, SIGINT);
		uv_signal_start(&sup.sig_hup, on_signal, SIGHUP);
		uv_timer_start(&sup.heartbeat, heartbeat_tick, hb, hb);
		config_watch_update(&sup);
		sup.watchdog_ms = sd_watchdog_ms();
		if (sup.watchdog_ms)
			uv_timer_start(&sup.watchdog, on_watchdog, sup.watchdog_ms / 2,
				       sup.watchdog_ms / 2);
		/* In start order: the simulator before market-data, which needs it. */
		for (int i = 0; i < ROLE_COUNT; i++) {
			struct proc *p = &sup.procs[role_start_order()[i]];

			if (proc_enabled(p))
				proc_event(p, EV_START);
		}
		if (sched_start(&sup) < 0)
			log_errx("the scheduler did not start: no job runs");
		notify_status(&sup);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		log_warnx("loop closed with handles still open");
	sched_free(&sup);
	sqlite3_close(sup.db);
	if (sup.notifier_token_fd >= 0)
		close(sup.notifier_token_fd);
	if (sup.keys_fd >= 0)
		close(sup.keys_fd);
	route_free_shares(sup.shares);
	config_free(&sup.cfg);
	if (rc == 0 && sup.exit_status) {
		log_msg(LOG_LVL_CRIT, "exiting with status %d (crash loop escalated)",
			sup.exit_status);
		rc = sup.exit_status;
	}
	return rc;
}
