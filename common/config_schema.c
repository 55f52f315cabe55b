/* Every config key tradingd knows: type, default, range and a one-line meaning.
 * docs/config.md is checked against this table by tests/integration/test_config_docs.py. */
#include "config.h"

#include <stddef.h>

#define F(member) offsetof(struct config_settings, member)

#define WORKER_KEYS(role, id)                                                                      \
	{"workers." role, CFG_OBJECT, NULL, 0, 0, NULL, "settings of the " role " worker", 0, 0},  \
	{                                                                                          \
		"workers." role ".enabled", CFG_BOOL, "true", 0, 0, NULL,                          \
			"start and supervise this worker", F(workers[id].enabled), 0               \
	}

const struct config_key config_schema[] = {
	{"mode", CFG_ENUM, "\"sim\"", 0, 0, "sim|paper|live",
	 "sim: bundled simulator on loopback; paper: real prices, local fills; live: real orders",
	 F(mode), 0},
	{"user", CFG_STRING, "\"tradingd\"", 0, 32, NULL,
	 "unprivileged user the workers run as when tradingd starts as root", F(user), 0},
	{"control_group", CFG_STRING, "\"\"", 0, 32, NULL,
	 "group whose members may use the control socket (besides root and the daemon's user)",
	 F(control_group), 0},
	{"data_dir", CFG_STRING, "\"./var/data\"", 1, 1024, NULL, "where the SQLite database lives",
	 F(data_dir), 0},
	{"run_dir", CFG_STRING, "\"./var/run\"", 1, 100, NULL, "where the control socket lives",
	 F(run_dir), 0},
	{"log_level", CFG_ENUM, "\"info\"", 0, 0, "crit|err|warn|notice|info|debug",
	 "least severe level that is logged", F(log_level), 0},

	{"supervisor", CFG_OBJECT, NULL, 0, 0, NULL, "process supervision", 0, 0},
	{"supervisor.stop_timeout_ms", CFG_INT, "5000", 100, 600000, NULL,
	 "how long a worker may take to exit after SIGTERM before SIGKILL",
	 F(supervisor.stop_timeout_ms), 0},
	{"supervisor.heartbeat_interval_ms", CFG_INT, "1000", 50, 60000, NULL,
	 "how often the supervisor pings each worker", F(supervisor.heartbeat_interval_ms), 0},
	{"supervisor.heartbeat_timeout_ms", CFG_INT, "5000", 100, 600000, NULL,
	 "a worker silent this long is hung: killed and restarted",
	 F(supervisor.heartbeat_timeout_ms), 0},
	{"supervisor.ready_timeout_ms", CFG_INT, "10000", 100, 600000, NULL,
	 "a worker that has not said READY this long after its start is killed",
	 F(supervisor.ready_timeout_ms), 0},
	{"supervisor.backoff_initial_ms", CFG_INT, "100", 1, 60000, NULL,
	 "delay before the second quick restart; doubles on each further quick failure",
	 F(supervisor.backoff_initial_ms), 0},
	{"supervisor.backoff_max_ms", CFG_INT, "30000", 1, 3600000, NULL,
	 "upper bound of the restart delay", F(supervisor.backoff_max_ms), 0},
	{"supervisor.backoff_reset_ms", CFG_INT, "5000", 0, 3600000, NULL,
	 "a worker that ran this long was healthy: its next restart is immediate",
	 F(supervisor.backoff_reset_ms), 0},
	{"supervisor.crashloop_max_restarts", CFG_INT, "5", 1, 100000, NULL,
	 "more restarts than this within crashloop_window_s is a crash loop: FATAL",
	 F(supervisor.crashloop_max_restarts), 0},
	{"supervisor.crashloop_window_s", CFG_INT, "60", 1, 86400, NULL,
	 "the window over which restarts are counted", F(supervisor.crashloop_window_s), 0},
	{"supervisor.fatal_action", CFG_ENUM, "\"retry\"", 0, 0, "retry|exit",
	 "after a crash loop (FATAL): retry the process after fatal_retry_s, or exit the daemon "
	 "with status 75 so that systemd restarts everything",
	 F(supervisor.fatal_action), 0},
	{"supervisor.fatal_retry_s", CFG_INT, "300", 1, 86400, NULL,
	 "cool-down before a FATAL process is tried again; doubles while it keeps failing (up to "
	 "8 times)",
	 F(supervisor.fatal_retry_s), 0},

	{"control", CFG_OBJECT, NULL, 0, 0, NULL, "the control socket used by tradectl", 0, 0},
	{"control.socket", CFG_STRING, "\"\"", 0, 100, NULL,
	 "socket path; empty means run_dir/tradingd.sock", F(control.socket), 0},
	{"control.max_clients", CFG_INT, "16", 1, 1024, NULL, "concurrent control connections",
	 F(control.max_clients), 0},
	{"control.max_clients_per_uid", CFG_INT, "4", 1, 1024, NULL,
	 "concurrent control connections from one uid other than root",
	 F(control.max_clients_per_uid), 0},
	{"control.max_request_bytes", CFG_INT, "65536", 256, 1048576, NULL,
	 "largest request line a client may send", F(control.max_request_bytes), 0},
	{"control.idle_timeout_ms", CFG_INT, "10000", 100, 3600000, NULL,
	 "a control client silent this long is disconnected", F(control.idle_timeout_ms), 0},

	{"workers", CFG_OBJECT, NULL, 0, 0, NULL, "per-worker settings", 0, 0},
	WORKER_KEYS("market-data", ROLE_MARKET_DATA),
	WORKER_KEYS("strategy", ROLE_STRATEGY),
	WORKER_KEYS("order-execution", ROLE_ORDER_EXECUTION),
	WORKER_KEYS("notifier", ROLE_NOTIFIER),
	WORKER_KEYS("maintenance", ROLE_MAINTENANCE),

	{"clock", CFG_OBJECT, NULL, 0, 0, NULL,
	 "test clock: the whole daemon runs from start, rate times faster (refused in live mode)",
	 0, 0},
	{"clock.start", CFG_TIMESTAMP, NULL, 0, 0, NULL,
	 "ISO-8601 instant with a zone at which the test clock starts", F(clock.start_ms), 0},
	{"clock.rate", CFG_NUMBER, "1", 0.001, 100000, NULL, "speed of the test clock",
	 F(clock.rate), 0},

	{"exchange", CFG_OBJECT, NULL, 0, 0, NULL, "the Upbit REST API", 0, 0},
	{"exchange.base_url", CFG_URL_LIST, "\"\"", 0, 8, NULL,
	 "base URL, or a list: primary then quotation fallbacks; empty means the simulator in "
	 "sim mode, https://api.upbit.com otherwise",
	 F(exchange.base_url), 0},
	{"exchange.connect_timeout_ms", CFG_INT, "3000", 100, 60000, NULL,
	 "TCP+TLS connect timeout", F(exchange.connect_timeout_ms), 0},
	{"exchange.request_timeout_ms", CFG_INT, "10000", 100, 300000, NULL,
	 "total time one request may take", F(exchange.request_timeout_ms), 0},
	{"exchange.max_body_bytes", CFG_INT, "4194304", 1024, 268435456, NULL,
	 "largest response body accepted", F(exchange.max_body_bytes), 0},
	{"exchange.probe_max_ms", CFG_INT, "3000", 100, 60000, NULL,
	 "longest wait between probes of a quotation base URL whose breaker is open, and between "
	 "retries (market-data)",
	 F(exchange.probe_max_ms), 0},
	{"exchange.keys_file", CFG_STRING, "\"\"", 0, 1024, NULL,
	 "file with ACCESS_KEY:SECRET_KEY (mode 0600), read only by order-execution",
	 F(exchange.keys_file), 0},

	{"market_data", CFG_OBJECT, NULL, 0, 0, NULL, "the market-data worker", 0, 0},
	{"market_data.markets", CFG_STRING_ARRAY, "[\"KRW-BTC\", \"KRW-ETH\", \"KRW-XRP\"]", 1, 400,
	 NULL, "markets to follow", F(market_data.markets), 0},
	{"market_data.ticker_interval_ms", CFG_INT, "1000", 100, 600000, NULL,
	 "ticker poll period; one request covers all markets", F(market_data.ticker_interval_ms),
	 0},
	{"market_data.stale_after_s", CFG_INT, "10", 1, 86400, NULL,
	 "no valid price this long makes a market stale", F(market_data.stale_after_s), 0},
	{"market_data.backfill_max_minutes", CFG_INT, "1440", 0, 100000, NULL,
	 "how far back missed minute candles are fetched after an outage",
	 F(market_data.backfill_max_minutes), 0},
	{"market_data.candle_grace_ms", CFG_INT, "5000", 0, 60000, NULL,
	 "a candle is stored once its interval ended this long ago (late trades, clock skew)",
	 F(market_data.candle_grace_ms), 0},

	{"sim", CFG_OBJECT, NULL, 0, 0, NULL, "the bundled exchange simulator (mode sim)", 0, 0},
	{"sim.listen", CFG_HOSTPORT, "\"127.0.0.1:18080\"", 3, 64, NULL,
	 "loopback HOST:PORT the simulator listens on", F(sim.listen), 0},
	{"sim.seed", CFG_INT, "1", 0, 4294967295.0, NULL, "seed of the simulated prices",
	 F(sim.seed), 0},
	{"sim.accounts", CFG_STRING_ARRAY, "[]", 0, 16, NULL,
	 "funded accounts, each ACCESS_KEY:SECRET_KEY:KRW_BALANCE", F(sim.accounts), CFG_SECRET},
	{NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0},
};
