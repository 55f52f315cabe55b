/* tradectl, the control command: the command line turned into one request, the daemon's one-line
 * JSON reply turned into text, and each outcome into an exit code. main() is tradectl_main.c. */
#ifndef TD_CTL_H
#define TD_CTL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"

#define CTL_VERSION "0.1.0"
/* A status of every worker with details stays far below this; anything larger is not ours. */
#define CTL_REPLY_MAX_BYTES (4u << 20)
#define CTL_REPLY_TIMEOUT_MS 10000
/* The longest wait a pending notice may announce: beyond what any config allows. */
#define CTL_PENDING_MAX_MS 3600000
/* Test knob: the reply timeout in ms, so the timeout can be tested without waiting 10 s. */
#define CTL_TIMEOUT_ENV "TRADECTL_TIMEOUT_MS"
#define CTL_CONFIG_ENV "TRADINGD_CONFIG"
#define CTL_SYSTEM_CONFIG "/etc/tradingd/tradingd.json"
#define CTL_LOCAL_CONFIG "./etc/tradingd.json"
#define CTL_SOCKET_NAME "tradingd.sock"
#define CTL_TOP_REFRESH_MS 2000
/* Column widths of a status line, those of supervisorctl. */
#define CTL_NAME_COLUMNS 33
#define CTL_STATE_COLUMNS 10

/* What happened, from which the exit code follows (ctl_exit_code). */
enum ctl_outcome {
	CTL_OK,
	CTL_REFUSED,	    /* the daemon answered ok:false, or a per-process result failed */
	CTL_BAD_REPLY,	    /* not JSON, no "ok", a required member missing, too large */
	CTL_NO_REPLY,	    /* connected, but no complete reply before the timeout or close */
	CTL_USAGE,	    /* unknown command or option, wrong number of arguments */
	CTL_CONFIG_ERROR,   /* the config file named or defaulted could not be loaded */
	CTL_CONNECT_FAILED, /* socket missing, refused, not permitted, path too long */
};

enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILED = 1,
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_NOCONNECT = 3,
};

int ctl_exit_code(enum ctl_outcome outcome);

enum ctl_command {
	CTL_CMD_STATUS,
	CTL_CMD_START,
	CTL_CMD_STOP,
	CTL_CMD_RESTART,
	CTL_CMD_RELOAD,
	CTL_CMD_SHUTDOWN,
	CTL_CMD_PID,
	CTL_CMD_VERSION,
	CTL_CMD_HELP,
	CTL_CMD_TOP,
	CTL_CMD_BACKUP,
	CTL_CMD_CLEANUP,
	CTL_CMD_BACKUPS,
	CTL_CMD_RESTORE,
	CTL_CMD_CONFIG,
	CTL_CMD_ALERTS,
	CTL_CMD_JOBS,
	CTL_CMD_JOB,
	CTL_CMD_PAUSE,
	CTL_CMD_RESUME,
	CTL_CMD_POSITIONS,
	CTL_CMD_ORDERS,
	CTL_CMD_TRADES,
	CTL_CMD_PNL,
};

struct ctl_command_info {
	const char *name; /* also the "cmd" of the request */
	enum ctl_command command;
	int min_args, max_args; /* max_args -1: any number */
	const char *synopsis;
	const char *doc;
};

/* Every command, in the order --help lists them; terminated by an entry with name NULL. */
extern const struct ctl_command_info ctl_commands[];

const struct ctl_command_info *ctl_command_find(const char *name);

struct ctl_options {
	const char *config_path; /* -c; NULL: ctl_default_config_path() */
	const char *socket_path; /* -s; wins over the config */
	int json;
	int once; /* top: one screen, not a refresh every CTL_TOP_REFRESH_MS */
	int help;
	const struct ctl_command_info *command; /* NULL only with help */
	const char **args;			/* into argv; owned array, see ctl_options_free */
	int nargs;
};

/* Parses argv[1..]. Options come before COMMAND; --json and -h/--help are also taken after it.
 * Returns 0, or -1 with a one-line message in err for a usage error. opt must be freed either
 * way. */
int ctl_parse_args(int argc, char **argv, struct ctl_options *opt, char *err, size_t errlen);
void ctl_options_free(struct ctl_options *opt);

/* The request line without its "\n": {"cmd":"...","args":[...]}. Malloc'd; NULL without
 * memory. */
char *ctl_request_json(const struct ctl_options *opt);

/* $TRADINGD_CONFIG when set and non-empty, else the system file when it exists, else the local
 * one. */
const char *ctl_default_config_path(void);
/* control.socket when non-empty, else <run_dir>/tradingd.sock. Returns 0, or -1 when it does not
 * fit in len. */
int ctl_socket_path(const struct config *cfg, char *out, size_t len);

void ctl_usage(FILE *out);

/* supervisorctl's uptime: "0:03:12", "1 day, 2:03:04", "3 days, 0:00:00". */
void ctl_format_uptime(int64_t seconds, char *buf, size_t len);
/* The text after the state column, from one worker object of a status reply. */
void ctl_format_description(const json_t *worker, char *buf, size_t len);
/* One status line without its newline: name in 33 columns, state in 10, description. */
void ctl_format_status_line(const json_t *worker, char *buf, size_t len);

/* Parses a reply line. Returns the object (caller decrefs), or NULL with the reason in err when
 * it is not a JSON object with a boolean "ok". */
json_t *ctl_reply_parse(const char *text, size_t len, char *err, size_t errlen);

/* A reply line that is not the reply but a notice that it will come within wait_ms:
 * {"pending":true,"wait_ms":N}. Returns N; -1 when the line is no notice; -2 when it is one
 * without an integer wait_ms in 0..CTL_PENDING_MAX_MS. */
int64_t ctl_pending_wait_ms(const char *text, size_t len);

/* Prints the reply of opt->command: results to out, failures as one line each to err, prefixed
 * with "tradectl: ". where names the socket in messages. */
enum ctl_outcome ctl_render(const struct ctl_options *opt, const char *where, json_t *reply,
			    FILE *out, FILE *err);

/* ctl_format_maint.c: backup, cleanup, backups, restore and config (their refusals too). */
enum ctl_outcome ctl_render_maint(const struct ctl_options *opt, json_t *reply, FILE *out,
				  FILE *err);
/* ctl_alerts_format.c: the reply of `tradectl alerts` as text. */
enum ctl_outcome ctl_render_alerts(const json_t *reply, FILE *out);

/* One round trip: connect to path, send request plus "\n", read one line within timeout_ms and
 * at most max_bytes. A pending notice (ctl_pending_wait_ms) as the first line gives the next one
 * its wait_ms more, and the next one is the reply. On CTL_OK *reply is a malloc'd NUL-terminated line without its "\n" and
 * *reply_len its length; otherwise err holds one line saying what failed and what to do. */
enum ctl_outcome ctl_roundtrip(const char *path, const char *request, int timeout_ms,
			       size_t max_bytes, char **reply, size_t *reply_len, char *err,
			       size_t errlen);

#endif
