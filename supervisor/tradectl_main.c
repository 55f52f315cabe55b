/* tradectl: supervisorctl for tradingd. One request over the control socket, one reply printed;
 * the exit code says whether it worked (0), was refused (1), was misused (2), or got nowhere (3). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "supervisor/ctl.h"

static int reply_timeout_ms(void)
{
	const char *env = getenv(CTL_TIMEOUT_ENV);
	char *end;
	long ms;

	if (!env || !env[0])
		return CTL_REPLY_TIMEOUT_MS;
	ms = strtol(env, &end, 10);
	if (*end != '\0' || ms < 1 || ms > 3600000) {
		fprintf(stderr, "tradectl: ignoring %s=%s (not 1..3600000); waiting %d ms\n",
			CTL_TIMEOUT_ENV, env, CTL_REPLY_TIMEOUT_MS);
		return CTL_REPLY_TIMEOUT_MS;
	}
	return (int)ms;
}

/* Finds the socket: -s, else the config's. Returns 0, or -1 after printing why. */
static int find_socket(const struct ctl_options *opt, char *path, size_t len)
{
	struct config cfg;
	const char *file;
	int rc = 0;

	if (opt->socket_path) {
		snprintf(path, len, "%s", opt->socket_path);
		return 0;
	}
	file = opt->config_path ? opt->config_path : ctl_default_config_path();
	if (config_load(&cfg, file, CONFIG_KEYS_ONLY) < 0) {
		config_print_errors(&cfg, stderr);
		fprintf(stderr,
			"tradectl: the socket is named in the config (fix it, or use -c CONFIG or "
			"-s SOCKET)\n");
		rc = -1;
	} else if (ctl_socket_path(&cfg, path, len) < 0) {
		fprintf(stderr, "tradectl: %s: the socket path is too long\n", file);
		rc = -1;
	}
	config_free(&cfg);
	return rc;
}

int main(int argc, char **argv)
{
	struct ctl_options opt;
	enum ctl_outcome outcome;
	char err[PATH_MAX + 512], why[256], path[PATH_MAX];
	char *request = NULL, *text = NULL;
	size_t text_len;
	json_t *reply;
	int refresh;

	log_init("tradectl");
	if (ctl_parse_args(argc, argv, &opt, err, sizeof(err)) < 0) {
		fprintf(stderr, "tradectl: %s (see tradectl --help)\n", err);
		outcome = CTL_USAGE;
		goto out;
	}
	if (opt.help) {
		ctl_usage(stdout);
		outcome = CTL_OK;
		goto out;
	}
	if (find_socket(&opt, path, sizeof(path)) < 0) {
		outcome = CTL_CONFIG_ERROR;
		goto out;
	}
	request = ctl_request_json(&opt);
	if (!request) {
		fprintf(stderr, "tradectl: out of memory\n");
		outcome = CTL_NO_REPLY;
		goto out;
	}
	/* top refreshes like top(1) until interrupted, or answers once. */
	refresh = opt.command->command == CTL_CMD_TOP && !opt.once && !opt.json;
again:
	if (refresh)
		fputs("\033[H\033[2J", stdout);
	free(text);
	text = NULL;
	outcome = ctl_roundtrip(path, request, reply_timeout_ms(), CTL_REPLY_MAX_BYTES, &text,
				&text_len, err, sizeof(err));
	if (outcome != CTL_OK) {
		fprintf(stderr, "tradectl: %s\n", err);
		goto out;
	}
	reply = ctl_reply_parse(text, text_len, why, sizeof(why));
	if (!reply) {
		fprintf(stderr,
			"tradectl: malformed reply from %s: %s (is this a tradingd socket?)\n",
			path, why);
		outcome = CTL_BAD_REPLY;
		goto out;
	}
	outcome = ctl_render(&opt, path, reply, stdout, stderr);
	json_decref(reply);
	if (fflush(stdout) != 0 && outcome == CTL_OK) {
		perror("tradectl: stdout");
		outcome = CTL_NO_REPLY;
	}
	if (refresh && outcome == CTL_OK) {
		usleep(CTL_TOP_REFRESH_MS * 1000);
		goto again;
	}
out:
	free(text);
	free(request);
	ctl_options_free(&opt);
	return ctl_exit_code(outcome);
}
