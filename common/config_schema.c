/* Every config key tradingd knows: type, default, range and a one-line meaning.
 * docs/config.md is checked against this table by tests/integration/test_config_docs.py. */
#include "config.h"

#define WORKER_KEYS(role)                                                                          \
	{"workers." role, CFG_OBJECT, NULL, 0, 0, NULL, "settings of the " role " worker"},        \
	{                                                                                          \
		"workers." role ".enabled", CFG_BOOL, "true", 0, 0, NULL,                          \
			"start and supervise this worker"                                          \
	}

const struct config_key config_schema[] = {
	{"mode", CFG_ENUM, "\"sim\"", 0, 0, "sim|paper|live",
	 "sim: bundled simulator on loopback; paper: real prices, local fills; live: real orders"},
	{"user", CFG_STRING, "\"tradingd\"", 0, 32, NULL,
	 "unprivileged user the workers run as when tradingd starts as root"},
	{"control_group", CFG_STRING, "\"\"", 0, 32, NULL,
	 "group whose members may use the control socket (besides root and the daemon's user)"},
	{"data_dir", CFG_STRING, "\"./var/data\"", 1, 1024, NULL,
	 "where the SQLite database lives"},
	{"run_dir", CFG_STRING, "\"./var/run\"", 1, 100, NULL, "where the control socket lives"},
	{"log_level", CFG_ENUM, "\"info\"", 0, 0, "crit|err|warn|notice|info|debug",
	 "least severe level that is logged"},

	{"supervisor", CFG_OBJECT, NULL, 0, 0, NULL, "process supervision"},
	{"supervisor.stop_timeout_ms", CFG_INT, "5000", 100, 600000, NULL,
	 "how long a worker may take to exit after SIGTERM before SIGKILL"},
	{"supervisor.heartbeat_interval_ms", CFG_INT, "1000", 50, 60000, NULL,
	 "how often the supervisor pings each worker"},
	{"supervisor.heartbeat_timeout_ms", CFG_INT, "5000", 100, 600000, NULL,
	 "a worker silent this long is hung: killed and restarted"},
	{"supervisor.ready_timeout_ms", CFG_INT, "10000", 100, 600000, NULL,
	 "a worker that has not said READY this long after its start is killed"},
	{"supervisor.backoff_initial_ms", CFG_INT, "100", 1, 60000, NULL,
	 "delay before the second quick restart; doubles on each further quick failure"},
	{"supervisor.backoff_max_ms", CFG_INT, "30000", 1, 3600000, NULL,
	 "upper bound of the restart delay"},
	{"supervisor.backoff_reset_ms", CFG_INT, "5000", 0, 3600000, NULL,
	 "a worker that ran this long was healthy: its next restart is immediate"},
	{"supervisor.crashloop_max_restarts", CFG_INT, "5", 1, 100000, NULL,
	 "more restarts than this within crashloop_window_s is a crash loop: FATAL"},
	{"supervisor.crashloop_window_s", CFG_INT, "60", 1, 86400, NULL,
	 "the window over which restarts are counted"},

	{"control", CFG_OBJECT, NULL, 0, 0, NULL, "the control socket used by tradectl"},
	{"control.socket", CFG_STRING, "\"\"", 0, 100, NULL,
	 "socket path; empty means run_dir/tradingd.sock"},
	{"control.max_clients", CFG_INT, "16", 1, 1024, NULL, "concurrent control connections"},
	{"control.max_request_bytes", CFG_INT, "65536", 256, 1048576, NULL,
	 "largest request line a client may send"},
	{"control.idle_timeout_ms", CFG_INT, "10000", 100, 3600000, NULL,
	 "a control client silent this long is disconnected"},

	{"workers", CFG_OBJECT, NULL, 0, 0, NULL, "per-worker settings"},
	WORKER_KEYS("market-data"),
	WORKER_KEYS("strategy"),
	WORKER_KEYS("order-execution"),
	WORKER_KEYS("notifier"),
	WORKER_KEYS("maintenance"),

	{"clock", CFG_OBJECT, NULL, 0, 0, NULL,
	 "test clock: the whole daemon runs from start, rate times faster (refused in live mode)"},
	{"clock.start", CFG_TIMESTAMP, NULL, 0, 0, NULL,
	 "ISO-8601 instant with a zone at which the test clock starts"},
	{"clock.rate", CFG_NUMBER, NULL, 0.001, 100000, NULL,
	 "speed of the test clock (1 when absent)"},

	{"exchange", CFG_OBJECT, NULL, 0, 0, NULL, "the Upbit REST API"},
	{"exchange.base_url", CFG_URL_LIST, "\"\"", 0, 8, NULL,
	 "base URL, or a list: primary then quotation fallbacks; empty means the simulator in "
	 "sim mode, https://api.upbit.com otherwise"},
	{"exchange.connect_timeout_ms", CFG_INT, "3000", 100, 60000, NULL,
	 "TCP+TLS connect timeout"},
	{"exchange.request_timeout_ms", CFG_INT, "10000", 100, 300000, NULL,
	 "total time one request may take"},
	{"exchange.max_body_bytes", CFG_INT, "4194304", 1024, 268435456, NULL,
	 "largest response body accepted"},
	{"exchange.keys_file", CFG_STRING, "\"\"", 0, 1024, NULL,
	 "file with ACCESS_KEY:SECRET_KEY (mode 0600), read only by order-execution"},

	{"market_data", CFG_OBJECT, NULL, 0, 0, NULL, "the market-data worker"},
	{"market_data.markets", CFG_STRING_ARRAY, "[\"KRW-BTC\", \"KRW-ETH\", \"KRW-XRP\"]", 1, 400,
	 NULL, "markets to follow"},
	{"market_data.ticker_interval_ms", CFG_INT, "1000", 100, 600000, NULL,
	 "ticker poll period; one request covers all markets"},
	{"market_data.stale_after_s", CFG_INT, "10", 1, 86400, NULL,
	 "no valid price this long makes a market stale"},
	{"market_data.backfill_max_minutes", CFG_INT, "1440", 0, 100000, NULL,
	 "how far back missed minute candles are fetched after an outage"},
	{"market_data.candle_grace_ms", CFG_INT, "5000", 0, 60000, NULL,
	 "a candle is stored once its interval ended this long ago (late trades, clock skew)"},

	{"sim", CFG_OBJECT, NULL, 0, 0, NULL, "the bundled exchange simulator (mode sim)"},
	{"sim.listen", CFG_STRING, "\"127.0.0.1:18080\"", 3, 64, NULL,
	 "loopback HOST:PORT the simulator listens on"},
	{"sim.seed", CFG_INT, "1", 0, 4294967295.0, NULL, "seed of the simulated prices"},
	{"sim.accounts", CFG_STRING_ARRAY, "[]", 0, 64, NULL,
	 "funded accounts, each ACCESS_KEY:SECRET_KEY:KRW_BALANCE"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};
