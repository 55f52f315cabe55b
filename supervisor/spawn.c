/* Starting a supervised process: a socketpair whose child end becomes fd 3, a re-exec of our
 * own binary with the role (a fresh address space and a readable ps line), and the reaping. */
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "supervisor/job_dispatch.h"
#include "supervisor/supervisor.h"

#define MAX_SIM_ARGS 16
/* Where order-execution finds the keys file (workers/order_execution.h OE_KEYS_FD). */
#define KEYS_FD_ENV "TRADINGD_KEYS_FD"
#define KEYS_FD 4
#define KEYS_FD_TEXT "4"

extern char **environ;

/* The environment of a child: a minimal one, not whatever started the supervisor (root's
 * shell, systemd's sockets). Kept: the shared test clock and test-only faults, the log format
 * (JOURNAL_STREAM), the zone, and the sanitizers' options of a test build. */
static char **child_environment(char *extra, char *extra2)
{
	static const char *const kept[] = {
		CLOCK_ENV "=",	 "TRADINGD_FAULT=", "JOURNAL_STREAM=", "TZ=",
		"ASAN_OPTIONS=", "UBSAN_OPTIONS=",  "LSAN_OPTIONS="};
	static char path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 4, sizeof(*env));
	if (!env)
		return NULL;
	env[k++] = path;
	if (extra)
		env[k++] = extra;
	if (extra2)
		env[k++] = extra2;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < sizeof(kept) / sizeof(kept[0]); j++)
			if (strncmp(environ[i], kept[j], strlen(kept[j])) == 0)
				env[k++] = environ[i];
	return env;
}

static void process_closed(uv_handle_t *handle)
{
	free(handle);
}

static void on_peer_msg(struct ipc_peer *peer, const struct ipc_hdr *hdr, const void *payload,
			void *arg)
{
	(void)peer;
	route_message(arg, hdr, payload);
}

static void on_peer_close(struct ipc_peer *peer, enum ipc_close_reason reason, void *arg)
{
	struct proc *p = arg;

	(void)peer;
	p->peer = NULL;
	if (reason == IPC_CLOSED_MALFORMED && p->pid > 0) {
		/* A worker that breaks the protocol is broken: restart it. */
		snprintf(p->kill_reason, sizeof(p->kill_reason), "protocol violation");
		kill(p->pid, SIGKILL);
	}
}

static void on_exit_cb(uv_process_t *process, int64_t status, int signo)
{
	struct proc *p = process->data;

	if (p->peer) {
		ipc_peer_close(p->peer);
		p->peer = NULL;
	}
	/* A kill of ours carries its reason ("hung", "protocol violation") into the status. */
	if (signo == SIGKILL && p->kill_reason[0])
		snprintf(p->last_exit, sizeof(p->last_exit), "%s (signal 9)", p->kill_reason);
	else if (signo)
		snprintf(p->last_exit, sizeof(p->last_exit), "signal %d", signo);
	else
		snprintf(p->last_exit, sizeof(p->last_exit), "exit %lld", (long long)status);
	p->kill_reason[0] = '\0';
	p->pid = 0;
	p->process = NULL;
	uv_close((uv_handle_t *)process, process_closed);
	job_dispatch_proc_gone(p);
	proc_event(p, EV_EXIT);
}

/* argv of the simulator: configured by its command line (it gets no CONFIG), and run directly
 * with the socket on fd 3 like a worker; it sets PDEATHSIG itself when given --ipc-fd. */
static int sim_argv(struct proc *p, char **argv, char *storage, size_t cap)
{
	const struct config *cfg = &p->sup->cfg;
	char exe_dir[PATH_MAX], *markets = storage;
	const struct config_list *list = &cfg->s.market_data.markets;
	size_t used = 0, i;
	int n = 0;

	snprintf(exe_dir, sizeof(exe_dir), "%s", p->sup->exe_path);
	for (i = 0; i < list->n; i++) {
		int w = snprintf(storage + used, cap - used, "%s%s", i ? "," : "", list->v[i]);
		if (w < 0 || (size_t)w >= cap - used)
			return -1;
		used += (size_t)w;
	}
	used++;
	char *sim_path = storage + used;
	int w = snprintf(sim_path, cap - used, "%s/upbit-sim", dirname(exe_dir));
	if (w < 0 || (size_t)w >= cap - used)
		return -1;
	used += (size_t)w + 1;
	char *seed = storage + used;
	w = snprintf(seed, cap - used, "%lld", (long long)cfg->s.sim.seed);
	if (w < 0 || (size_t)w >= cap - used)
		return -1;
	used += (size_t)w + 1;
	char *ipc_fd = storage + used;
	w = snprintf(ipc_fd, cap - used, "%d", IPC_WORKER_FD);
	if (w < 0 || (size_t)w >= cap - used)
		return -1;

	argv[n++] = sim_path;
	argv[n++] = "--ipc-fd";
	argv[n++] = ipc_fd;
	argv[n++] = "--log-level";
	argv[n++] = (char *)log_level_name(config_log_level(cfg));
	argv[n++] = "--listen";
	argv[n++] = (char *)cfg->s.sim.listen;
	argv[n++] = "--seed";
	argv[n++] = seed;
	argv[n++] = "--markets";
	argv[n++] = markets;
	argv[n] = NULL;
	return 0;
}

static void wipe_free(char *secret, size_t len)
{
	if (secret) {
		explicit_bzero(secret, len);
		free(secret);
	}
}

/* SIM_ACCOUNTS_ENV=entry\nentry...; NULL when there are none. Wipe before freeing. */
static char *sim_accounts_env(const struct config *cfg, size_t *len)
{
	const struct config_list *a = &cfg->s.sim.accounts;
	char *text;
	size_t used;

	*len = strlen(SIM_ACCOUNTS_ENV) + 2;
	for (size_t i = 0; i < a->n; i++)
		*len += strlen(a->v[i]) + 1;
	if (a->n == 0 || !(text = malloc(*len)))
		return NULL;
	used = (size_t)snprintf(text, *len, "%s=", SIM_ACCOUNTS_ENV);
	for (size_t i = 0; i < a->n; i++)
		used += (size_t)snprintf(text + used, *len - used, "%s%s", i ? "\n" : "", a->v[i]);
	return text;
}

int spawn_proc(struct proc *p)
{
	struct supervisor *sup = p->sup;
	uv_process_options_t opts = {0};
	uv_stdio_container_t stdio[NOTIFIER_TOKEN_FD + 1];
	char *argv[MAX_SIM_ARGS + 1];
	char storage[8192];
	int sv[2] = {-1, -1};
	int rc;
	char **env, *accounts = NULL;
	size_t accounts_len = 0;

	if (p->role == ROLE_SIM) {
		if (sim_argv(p, argv, storage, sizeof(storage)) < 0) {
			log_errx("upbit-sim: command line too long");
			return -1;
		}
	} else {
		enum role_binary bin = role_info(p->role)->binary;

		argv[0] = bin == ROLE_BIN_NET	? sup->net_path
			  : bin == ROLE_BIN_API ? sup->api_path
						: sup->exe_path;
		argv[1] = "-x";
		argv[2] = (char *)role_name(p->role);
		argv[3] = NULL;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_err("%s: socketpair", role_name(p->role));
		return -1;
	}
	if (p->role == ROLE_SIM)
		accounts = sim_accounts_env(&sup->cfg, &accounts_len);
	/* The keys file reaches order-execution alone, as an open descriptor on a fixed number. */
	int keys = p->role == ROLE_ORDER_EXECUTION && sup->keys_fd >= 0;
	static char keys_env[] = KEYS_FD_ENV "=" KEYS_FD_TEXT;

	env = child_environment(accounts, keys ? keys_env : NULL);
	p->process = calloc(1, sizeof(*p->process));
	if (!env || !p->process) {
		free(env);
		wipe_free(accounts, accounts_len);
		free(p->process);
		p->process = NULL;
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = 1;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = 2;
	stdio[3].flags = UV_INHERIT_FD;
	stdio[3].data.fd = sv[1];
	opts.exit_cb = on_exit_cb;
	opts.file = argv[0];
	opts.args = argv;
	opts.env = env;
	opts.stdio = stdio;
	opts.stdio_count = 4;
	/* The keys file reaches order-execution alone, the bot token the notifier alone (on
	 * fixed descriptors; the others of 4.. stay closed). */
	if (keys) {
		stdio[KEYS_FD].flags = UV_INHERIT_FD;
		stdio[KEYS_FD].data.fd = sup->keys_fd;
		opts.stdio_count = KEYS_FD + 1;
	}
	if (p->role == ROLE_NOTIFIER && sup->notifier_token_fd >= 0) {
		for (int fd = 4; fd < NOTIFIER_TOKEN_FD; fd++)
			stdio[fd].flags = UV_IGNORE;
		stdio[NOTIFIER_TOKEN_FD].flags = UV_INHERIT_FD;
		stdio[NOTIFIER_TOKEN_FD].data.fd = sup->notifier_token_fd;
		opts.stdio_count = NOTIFIER_TOKEN_FD + 1;
	}
	p->process->data = p;
	rc = uv_spawn(sup->loop, p->process, &opts);
	free(env);
	wipe_free(accounts, accounts_len);
	close(sv[1]);
	if (rc < 0) {
		log_errx("%s: cannot start %s: %s", role_name(p->role), argv[0], uv_strerror(rc));
		close(sv[0]);
		uv_close((uv_handle_t *)p->process, process_closed);
		p->process = NULL;
		return -1;
	}
	p->pid = p->process->pid;
	p->spawned_mono = clock_mono_ms();
	free(p->status_json);
	p->status_json = NULL;
	/* READY arrives over the socket from workers and the simulator alike. */
	p->peer =
		ipc_peer_open(sup->loop, sv[0], role_name(p->role), on_peer_msg, on_peer_close, p);
	if (p->peer) {
		ipc_peer_identify(p->peer, IPC_ID_SUPERVISOR, (uint32_t)p->role, (uint32_t)p->pid);
		send_config(p);
	}
	log_info("%s: started, pid %d", role_name(p->role), p->pid);
	return 0;
}
