/* bin/upbit-sim: the Upbit exchange simulator, offline default and fault injector for tests.
 * main() wires configuration, clock, HTTP, the supervisor's socket and the engine loop;
 * signals only set flags. */
#include "sim/sim_state.h"

#include "common/clock.h"
#include "common/harden.h"
#include "common/log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_stop, got_down, got_up;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_down = 1;
	else if (sig == SIGUSR2)
		got_up = 1;
	else
		got_stop = 1;
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static int write_port_file(const char *path, int port, int admin_port)
{
	char tmp[600];
	FILE *fp;

	/* Written then renamed, so a reader polling for it never sees half a line. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fp = fopen(tmp, "w");
	if (!fp)
		return -1;
	if (admin_port >= 0)
		fprintf(fp, "%d %d\n", port, admin_port);
	else
		fprintf(fp, "%d\n", port);
	if (fclose(fp) != 0)
		return -1;
	return rename(tmp, path);
}

/* Start-up failures: one plain line for a person at a terminal; under tradingd, a log line like
 * every other line of the daemon. */
static void start_failed(const struct sim_config *cfg, const char *err)
{
	if (cfg->ipc_fd >= 0)
		log_errx("%s", err);
	else
		fprintf(stderr, "upbit-sim: %s\n", err);
}

static void log_listening(const struct sim *s)
{
	char admin[96] = "";

	if (s->admin_port >= 0)
		snprintf(admin, sizeof(admin), " admin %s:%d", s->cfg.admin_host, s->admin_port);
	log_notice("listening on %s:%d%s, %d markets, %d accounts, clock %s x%g",
		   s->cfg.listen_host, s->main_port, admin, s->nmarkets, s->naccounts,
		   clock_is_test() ? "test" : "real", clock_rate());
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	struct sim_config *cfg = calloc(1, sizeof(*cfg));
	struct sim *s = calloc(1, sizeof(*s));
	struct sim_supervised *sv = NULL;
	char err[512];
	int rc;

	log_init("upbit-sim");
	harden_process();
	if (!cfg || !s) {
		fprintf(stderr, "upbit-sim: out of memory\n");
		return 1;
	}
	if (clock_import_env() < 0) {
		fprintf(stderr, "upbit-sim: malformed %s\n", CLOCK_ENV);
		free(cfg);
		free(s);
		return 2;
	}
	rc = sim_config_parse(cfg, argc, argv, err, sizeof(err));
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "upbit-sim: %s\n", err);
		free(cfg);
		free(s);
		return rc < 0 ? 2 : 0;
	}
	log_set_level((enum log_level)cfg->log_level);
	/* First, before anything else is opened: the fds we must not inherit get closed. */
	if (cfg->ipc_fd >= 0 && !(sv = supervised_open(cfg->ipc_fd, err, sizeof(err)))) {
		start_failed(cfg, err);
		free(cfg);
		free(s);
		return 2;
	}
	/* Command-line clock options override what the parent handed down. */
	if (cfg->has_clock_start || cfg->has_clock_rate) {
		int64_t start = cfg->has_clock_start ? cfg->clock_start_ms : clock_now_ms();
		double rate = cfg->has_clock_rate ? cfg->clock_rate : clock_rate();

		clock_set_test(start, rate, 0);
	}
	install_signals();
	if (sim_init(s, cfg, err, sizeof(err)) < 0 || http_start(s, err, sizeof(err)) < 0) {
		start_failed(cfg, err);
		http_stop(s);
		sim_free(s);
		supervised_close(sv);
		free(cfg);
		free(s);
		return 1;
	}
	free(cfg);
	cfg = NULL;
	log_listening(s);
	if (s->cfg.port_file[0] &&
	    write_port_file(s->cfg.port_file, s->main_port, s->admin_port) < 0)
		log_warn("cannot write %s", s->cfg.port_file);
	/* The port accepts and libmicrohttpd serves: only now may the daemon count on us. */
	if (sv && supervised_ready(sv) < 0)
		got_stop = 1;

	while (!got_stop) {
		sim_engine_tick(s);
		if (got_down || got_up) {
			int down = got_down && !got_up;

			got_down = got_up = 0;
			pthread_mutex_lock(&s->lock);
			http_network_set(s, down, 0);
			pthread_mutex_unlock(&s->lock);
		}
		/* Supervised, the tick's sleep is a wait on the socket, so PINGs are answered at
		 * once rather than after a tick. */
		if (sv) {
			if (!supervised_wait(sv, s->cfg.engine_ms))
				break;
		} else {
			sleep_ms(s->cfg.engine_ms);
		}
	}
	log_info("shutting down");
	http_stop(s);
	sim_free(s);
	supervised_close(sv);
	free(s);
	return 0;
}
