/* The daemon's one JSON config file: loaded whole, validated against a schema table, completed
 * with defaults. Errors name file:line:column and the key; nothing is applied unless all is valid. */
#ifndef TD_CONFIG_H
#define TD_CONFIG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/roles.h"

struct job_table;

enum config_type {
	CFG_OBJECT,
	CFG_STRING,
	CFG_INT,
	CFG_NUMBER,
	CFG_BOOL,
	CFG_ENUM,	  /* string, one of choices "a|b|c" */
	CFG_STRING_ARRAY, /* array of strings */
	CFG_URL_LIST,	  /* a string or a non-empty array of strings */
	CFG_TIMESTAMP,	  /* ISO-8601 string with a zone */
	CFG_HOSTPORT,	  /* "IPV4:PORT" or "[IPV6]:PORT" */
};

/* Flags of a key. */
#define CFG_SECRET 1u /* never sent to a worker that does not hold secrets, logged or stored */

/* A list of strings; the strings belong to the config's JSON tree. */
struct config_list {
	size_t n;
	const char **v;
};

/* The order of the choices "sim|paper|live". */
enum config_mode { MODE_SIM, MODE_PAPER, MODE_LIVE };
/* The order of "retry|exit": what follows a crash loop (FATAL). */
enum config_fatal_action { FATAL_RETRY, FATAL_EXIT };
/* The order of "en|ko": the language of the notifier's messages. */
enum config_locale { LOCALE_EN, LOCALE_KO };
/* The order of "info|warning|critical": the least severe alert a sink receives. */
enum config_severity { SEVERITY_INFO, SEVERITY_WARNING, SEVERITY_CRITICAL };

/* The validated config as the code reads it: one field per key of the schema (each row names
 * its field), filled once after validation. A misspelt key is a compile error. Enums hold the
 * index of the choice; strings point into the config's JSON tree. */
struct config_settings {
	int bound; /* 1 once filled; also keeps offset 0 free to mean "no field" */
	int mode;  /* enum config_mode */
	const char *user, *control_group, *data_dir, *run_dir;
	const char *monitor_group;
	int log_level; /* index of crit|err|warn|notice|info|debug: LOG_LVL_CRIT + index */
	struct config_supervisor {
		int64_t stop_timeout_ms, heartbeat_interval_ms, heartbeat_timeout_ms,
			ready_timeout_ms, backoff_initial_ms, backoff_max_ms, backoff_reset_ms,
			crashloop_max_restarts, crashloop_window_s, fatal_retry_s;
		int fatal_action; /* enum config_fatal_action */
	} supervisor;
	struct {
		const char *socket;
		int64_t max_clients, max_clients_per_uid, max_request_bytes, idle_timeout_ms;
	} control;
	struct {
		int enabled;
	} workers[ROLE_WORKER_COUNT];
	struct {
		int64_t start_ms;  /* meaningful when test is 1 */
		int64_t origin_ms; /* real instant at which the clock read start_ms; 0: at start */
		double rate;
		int test; /* clock.start was given */
	} clock;
	struct {
		struct config_list base_url; /* resolved: never empty after loading */
		int64_t connect_timeout_ms, request_timeout_ms, max_body_bytes, probe_max_ms;
		const char *keys_file;
	} exchange;
	struct {
		struct config_list markets;
		int64_t ticker_interval_ms, stale_after_s, backfill_max_minutes, candle_grace_ms;
	} market_data;
	struct config_orders {
		int64_t scan_interval_ms, balance_interval_ms, limit_timeout_ms, max_attempts,
			paper_slippage_bps, paper_fee_bps;
	} orders;
	struct {
		const char *listen;
		int64_t seed;
		struct config_list accounts;
	} sim;
	struct config_monitor {
		int enabled;
		int64_t interval_ms, keep_samples, keep_s, memory_limit_mb, status_report_s;
		int64_t role_limit_mb[ROLE_WORKER_COUNT]; /* 0: memory_limit_mb */
		double cpu_raise_pct, cpu_clear_pct, mem_raise_pct, mem_clear_pct,
			disk_free_raise_pct, disk_free_clear_pct;
		double load_raise, load_clear; /* per CPU; load_raise 0: not watched */
	} monitor;
	struct {
		const char *listen;
		int64_t max_connections, timeout_ms;
	} api;
	struct {
		const char *backup_dir, *copy_dir;
		int64_t keep_daily, keep_weekly, backup_pages_per_step, prune_batch,
			candle_retention_days, notification_retention_days, job_run_retention_days;
	} maintenance;
	struct {
		int enabled;
		int64_t settle_ms, rollback_window_s;
	} config_watch;
	int locale; /* enum config_locale */
	struct config_notifier {
		int64_t storm_window_s, retry_initial_ms, retry_max_ms, request_timeout_ms,
			rescan_interval_ms;
		int log_min_severity; /* enum config_severity */
		struct {
			const char *url;
			int min_severity;
		} webhook;
		struct {
			const char *token_file, *base_url;
			struct config_list chat_ids;
			int min_severity, commands;
			int64_t poll_timeout_s, chat_interval_ms, group_per_minute;
		} telegram;
	} notifier;
	struct {
		int64_t queue_max, jump_threshold_ms, max_missed_rows;
		int64_t plan_ahead_ms;
		struct job_table *table; /* jobs.defs parsed (CONFIG_FULL only; else NULL) */
	} jobs;
	struct {
		struct config_list markets; /* "MARKET[:STRATEGY[:key=value,...]]" */
		const char *name, *timezone, *window_open, *window_close;
		double k, stop_loss_pct, balance_share;
		int64_t ma_days, check_interval_s, order_krw, max_position_krw, max_total_krw,
			max_orders_per_day, daily_loss_limit_krw;
		int on_window_close; /* index of flatten|hold */
		int buy_type;	     /* index of market|limit */
		int sizing;	     /* index of fixed|balance_share */
	} strategy;
};

struct config_key {
	const char *path; /* "supervisor.stop_timeout_ms"; "*" matches any one object key */
	enum config_type type;
	const char *defval; /* JSON text, NULL for no default (optional key or an object) */
	double min, max;    /* for CFG_INT and CFG_NUMBER, and lengths of strings and arrays */
	const char *choices;
	const char *doc;
	size_t field;	/* offsetof its struct config_settings member; 0 for objects */
	unsigned flags; /* CFG_SECRET */
};

/* The schema, terminated by an entry with path NULL (config_schema.c). */
extern const struct config_key config_schema[];

#define CONFIG_MAX_ERRORS 32

struct config_error {
	int line, column;
	char key[128];
	char message[256];
};

struct config {
	char path[4096];
	struct config_settings s; /* what the code reads */
	json_t *root;		  /* validated, defaults filled in, base URL resolved */
	json_t *file;		  /* as the file said it, for config versions */
	int nerrors;
	struct config_error errors[CONFIG_MAX_ERRORS];
};

/* How much is checked: every rule (keys, types, rules across keys, the accounts of the
 * machine), or keys and types only: for a worker's share, which the supervisor checked whole,
 * and for tradectl, which only looks for the socket. */
enum config_origin { CONFIG_FULL, CONFIG_KEYS_ONLY };

/* Loads and validates FILE. Returns 0 when valid; -1 with cfg->errors filled otherwise (cfg
 * must still be freed). */
int config_load(struct config *cfg, const char *file, enum config_origin origin);
/* Same, from len bytes in memory; name is used in messages. */
int config_load_text(struct config *cfg, const char *name, const char *text, size_t len,
		     enum config_origin origin);
void config_free(struct config *cfg);
/* Prints every error as "file:line:col: key: message" to stream. */
void config_print_errors(const struct config *cfg, FILE *stream);
/* The errors on one line, "; "-separated, into buf. */
void config_format_errors(const struct config *cfg, char *buf, size_t len);

/* The share of the config a worker of role receives: the common top-level keys, the supervisor
 * and clock sections, and the sections of its role_info; secrets only for a secret holder.
 * A malloc'd JSON text, NULL when out of memory. */
char *config_text_for_role(const struct config *cfg, enum role role);
/* The file's JSON with every secret replaced, keys sorted: what config_versions stores. */
char *config_text_redacted(const struct config *cfg);
/* 1 when the value of the top-level key differs between a and b. */
int config_section_changed(const struct config *a, const struct config *b, const char *key);
/* LOG_LVL_* of log_level. */
int config_log_level(const struct config *cfg);
/* "sim", "paper" or "live". */
const char *config_mode_name(int mode);

/* Position index of the len bytes of a JSON text (no NUL needed): where each key path starts
 * (config_locate.c). */
struct config_locator;
struct config_locator *config_locate(const char *text, size_t len);
int config_locator_find(const struct config_locator *loc, const char *path, int *line, int *column);
void config_locator_free(struct config_locator *loc);

#endif
