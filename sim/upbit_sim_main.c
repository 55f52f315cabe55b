/* bin/upbit-sim: the Upbit exchange simulator, offline default and fault injector for tests.
 * main() wires configuration, clock, HTTP and the engine loop; signals only set flags. */
#include "sim/sim_state.h"

#include "common/clock.h"
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

int main(int argc, char **argv)
{
	struct sim_config *cfg = calloc(1, sizeof(*cfg));
	struct sim *s = calloc(1, sizeof(*s));
	char err[512];
	int rc;

	log_init("upbit-sim");
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
	/* Command-line clock options override what the parent handed down. */
	if (cfg->has_clock_start || cfg->has_clock_rate) {
		int64_t start = cfg->has_clock_start ? cfg->clock_start_ms : clock_now_ms();
		double rate = cfg->has_clock_rate ? cfg->clock_rate : clock_rate();

		clock_set_test(start, rate, 0);
	}
	install_signals();
	if (sim_init(s, cfg, err, sizeof(err)) < 0 || http_start(s, err, sizeof(err)) < 0) {
		fprintf(stderr, "upbit-sim: %s\n", err);
		http_stop(s);
		sim_free(s);
		free(cfg);
		free(s);
		return 1;
	}
	free(cfg);
	cfg = NULL;
	if (s->admin_port >= 0)
		printf("upbit-sim listening on %s:%d admin %s:%d\n", s->cfg.listen_host,
		       s->main_port, s->cfg.admin_host, s->admin_port);
	else
		printf("upbit-sim listening on %s:%d\n", s->cfg.listen_host, s->main_port);
	fflush(stdout);
	if (s->cfg.port_file[0] &&
	    write_port_file(s->cfg.port_file, s->main_port, s->admin_port) < 0)
		log_warn("cannot write %s", s->cfg.port_file);
	log_info("listening on %s:%d, %d markets, %d accounts, clock %s x%g", s->cfg.listen_host,
		 s->main_port, s->nmarkets, s->naccounts, clock_is_test() ? "test" : "real",
		 clock_rate());

	while (!got_stop) {
		struct timespec ts = {0, (long)s->cfg.engine_ms * 1000000L};

		sim_engine_tick(s);
		if (got_down || got_up) {
			int down = got_down && !got_up;

			got_down = got_up = 0;
			pthread_mutex_lock(&s->lock);
			http_network_set(s, down, 0);
			pthread_mutex_unlock(&s->lock);
		}
		while (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		nanosleep(&ts, NULL);
	}
	log_info("shutting down");
	http_stop(s);
	sim_free(s);
	free(s);
	return 0;
}
