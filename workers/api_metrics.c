/* The /metrics page from the supervisor's METRICS JSON: process, system, exchange request,
 * breaker, rate-limit, market data, order, job and alert families. Names follow Prometheus'
 * conventions: a unit suffix in base units (_seconds, _bytes), _total on counters, what varies
 * in labels. Each family's samples come together after its HELP and TYPE, as the format asks. */
#include "workers/api_metrics.h"

#include <string.h>

#define L(n, v) ((struct prom_label){(n), (v)})

static double num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : 0;
}

static const char *str(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : dflt;
}

/* One gauge or counter per process, value from the process object's key. */
static void per_process(struct prom_buf *b, const json_t *procs, const char *name, const char *type,
			const char *help, const char *key, int only_sampled)
{
	const json_t *p;
	size_t i;

	prom_family(b, name, type, help);
	json_array_foreach(procs, i, p)
	{
		struct prom_label l = L("process", str(p, "name", "?"));

		if (only_sampled && !json_is_true(json_object_get(p, "sampled")))
			continue;
		prom_sample(b, name, &l, 1, num(p, key));
	}
}

static void processes(struct prom_buf *b, const json_t *m)
{
	const json_t *procs = json_object_get(m, "processes");
	const json_t *p;
	size_t i;

	if (!json_is_array(procs))
		return;
	prom_family(b, "tradingd_process_up", "gauge", "1 when the process is RUNNING");
	json_array_foreach(procs, i, p)
	{
		struct prom_label l = L("process", str(p, "name", "?"));

		prom_sample(b, "tradingd_process_up", &l, 1,
			    strcmp(str(p, "state", ""), "RUNNING") == 0);
	}
	prom_family(b, "tradingd_process_state", "gauge",
		    "the process's supervisor state (label state), always 1");
	json_array_foreach(procs, i, p)
	{
		struct prom_label l[2] = {L("process", str(p, "name", "?")),
					  L("state", str(p, "state", "?"))};

		prom_sample(b, "tradingd_process_state", l, 2, 1);
	}
	per_process(b, procs, "tradingd_process_restarts_total", "counter",
		    "restarts since the daemon started (crashes, hangs, memory limit)", "restarts",
		    0);
	per_process(b, procs, "tradingd_process_cpu_seconds_total", "counter",
		    "user and system CPU time of the current process", "cpu_seconds", 1);
	per_process(b, procs, "tradingd_process_resident_memory_bytes", "gauge",
		    "resident set size", "rss_bytes", 1);
	per_process(b, procs, "tradingd_process_open_fds", "gauge",
		    "open file descriptors (0 when unknown)", "fds", 1);
	per_process(b, procs, "tradingd_process_uptime_seconds", "gauge",
		    "time since the process became RUNNING", "uptime_s", 0);
}

static void one(struct prom_buf *b, const char *name, const char *type, const char *help,
		double value)
{
	prom_family(b, name, type, help);
	prom_sample(b, name, NULL, 0, value);
}

static void system_families(struct prom_buf *b, const json_t *m)
{
	const json_t *s = json_object_get(m, "system");
	const json_t *d = json_object_get(m, "daemon");
	struct prom_label l[2] = {L("version", str(d, "version", "?")),
				  L("mode", str(d, "mode", "?"))};

	prom_family(b, "tradingd_build_info", "gauge", "version and mode of the daemon, always 1");
	prom_sample(b, "tradingd_build_info", l, 2, 1);
	one(b, "tradingd_uptime_seconds", "gauge", "time since the supervisor started",
	    num(d, "uptime_s"));
	if (!json_is_true(json_object_get(s, "sampled")))
		return;
	if (json_is_true(json_object_get(s, "cpu_known")))
		one(b, "tradingd_system_cpu_usage_ratio", "gauge",
		    "share of all CPUs busy over the last sample interval",
		    num(s, "cpu_pct") / 100.0);
	one(b, "tradingd_system_load1", "gauge", "1-minute load average", num(s, "load1"));
	one(b, "tradingd_system_load5", "gauge", "5-minute load average", num(s, "load5"));
	one(b, "tradingd_system_load15", "gauge", "15-minute load average", num(s, "load15"));
	one(b, "tradingd_system_memory_total_bytes", "gauge", "MemTotal",
	    num(s, "mem_total_bytes"));
	one(b, "tradingd_system_memory_available_bytes", "gauge", "MemAvailable",
	    num(s, "mem_avail_bytes"));
	one(b, "tradingd_data_dir_size_bytes", "gauge", "size of data_dir's filesystem",
	    num(s, "disk_total_bytes"));
	one(b, "tradingd_data_dir_free_bytes", "gauge",
	    "space of data_dir's filesystem free for the daemon's user", num(s, "disk_free_bytes"));
}

/* Calls fn for every request group of every worker that reports an Upbit client. */
typedef void (*group_fn)(struct prom_buf *b, const char *worker, const char *group,
			 const json_t *g);

static void each_group(struct prom_buf *b, const json_t *m, group_fn fn)
{
	const json_t *workers = json_object_get(m, "workers");
	const char *wname, *gname;
	json_t *w, *g;

	json_object_foreach((json_t *)workers, wname, w)
	{
		json_t *groups = json_object_get(json_object_get(w, "upbit"), "groups");

		json_object_foreach(groups, gname, g) fn(b, wname, gname, g);
	}
}

static void g_requests(struct prom_buf *b, const char *worker, const char *group, const json_t *g)
{
	const json_t *br;
	size_t i;

	json_array_foreach(json_object_get(g, "breakers"), i, br)
	{
		struct prom_label l[4] = {L("worker", worker), L("group", group),
					  L("base_url", str(br, "url", "?")),
					  L("result", "success")};

		prom_sample(b, "tradingd_exchange_requests_total", l, 4, num(br, "successes"));
		l[3].value = "failure";
		prom_sample(b, "tradingd_exchange_requests_total", l, 4, num(br, "failures"));
	}
}

static void g_breaker_open(struct prom_buf *b, const char *worker, const char *group,
			   const json_t *g)
{
	const json_t *br;
	size_t i;

	json_array_foreach(json_object_get(g, "breakers"), i, br)
	{
		struct prom_label l[3] = {L("worker", worker), L("group", group),
					  L("base_url", str(br, "url", "?"))};

		prom_sample(b, "tradingd_exchange_breaker_open", l, 3,
			    strcmp(str(br, "state", "closed"), "closed") != 0);
	}
}

static void g_breaker_opens(struct prom_buf *b, const char *worker, const char *group,
			    const json_t *g)
{
	const json_t *br;
	size_t i;

	json_array_foreach(json_object_get(g, "breakers"), i, br)
	{
		struct prom_label l[3] = {L("worker", worker), L("group", group),
					  L("base_url", str(br, "url", "?"))};

		prom_sample(b, "tradingd_exchange_breaker_opens_total", l, 3, num(br, "opened"));
	}
}

static void g_limited(struct prom_buf *b, const char *worker, const char *group, const json_t *g)
{
	struct prom_label l[3] = {L("worker", worker), L("group", group), L("code", "429")};

	prom_sample(b, "tradingd_exchange_rate_limited_total", l, 3, num(g, "n_429"));
	l[2].value = "418";
	prom_sample(b, "tradingd_exchange_rate_limited_total", l, 3, num(g, "n_418"));
}

static void g_blocked(struct prom_buf *b, const char *worker, const char *group, const json_t *g)
{
	struct prom_label l[2] = {L("worker", worker), L("group", group)};

	prom_sample(b, "tradingd_exchange_blocked", l, 2,
		    json_is_true(json_object_get(g, "blocked_by_418")));
}

static void g_queued(struct prom_buf *b, const char *worker, const char *group, const json_t *g)
{
	struct prom_label l[2] = {L("worker", worker), L("group", group)};

	prom_sample(b, "tradingd_exchange_queued_requests", l, 2, num(g, "queued"));
}

static void g_tokens(struct prom_buf *b, const char *worker, const char *group, const json_t *g)
{
	struct prom_label l[2] = {L("worker", worker), L("group", group)};

	prom_sample(b, "tradingd_exchange_rate_tokens", l, 2, num(g, "tokens"));
}

static void exchange(struct prom_buf *b, const json_t *m)
{
	prom_family(
		b, "tradingd_exchange_requests_total", "counter",
		"requests to the exchange by base URL and outcome, as its breaker counted them");
	each_group(b, m, g_requests);
	prom_family(b, "tradingd_exchange_breaker_open", "gauge",
		    "1 while the circuit breaker of a base URL and group is not closed");
	each_group(b, m, g_breaker_open);
	prom_family(b, "tradingd_exchange_breaker_opens_total", "counter",
		    "times the circuit breaker opened");
	each_group(b, m, g_breaker_opens);
	prom_family(b, "tradingd_exchange_rate_limited_total", "counter",
		    "answers 429 (too many requests) and 418 (blocked) by request group");
	each_group(b, m, g_limited);
	prom_family(b, "tradingd_exchange_blocked", "gauge",
		    "1 while the exchange blocks the group after a 418");
	each_group(b, m, g_blocked);
	prom_family(b, "tradingd_exchange_queued_requests", "gauge",
		    "requests waiting for the group's rate limit");
	each_group(b, m, g_queued);
	prom_family(b, "tradingd_exchange_rate_tokens", "gauge",
		    "requests the group may send now under its rate limit");
	each_group(b, m, g_tokens);
}

static void market_data(struct prom_buf *b, const json_t *m)
{
	const json_t *md = json_object_get(json_object_get(m, "workers"), "market-data");
	const json_t *c = json_object_get(md, "counters");
	const char *name;
	json_t *mk;

	if (!json_is_object(md))
		return;
	prom_family(b, "tradingd_market_data_stale", "gauge",
		    "1 while a market has had no valid price for market_data.stale_after_s");
	json_object_foreach(json_object_get(md, "markets"), name, mk)
	{
		struct prom_label l = L("market", name);

		prom_sample(b, "tradingd_market_data_stale", &l, 1,
			    json_is_true(json_object_get(mk, "stale")));
	}
	prom_family(b, "tradingd_market_data_ticker_polls_total", "counter",
		    "ticker polls by outcome");
	{
		struct prom_label l = L("result", "success");

		prom_sample(b, "tradingd_market_data_ticker_polls_total", &l, 1,
			    num(c, "ticker_ok"));
		l.value = "failure";
		prom_sample(b, "tradingd_market_data_ticker_polls_total", &l, 1,
			    num(c, "ticker_failed"));
	}
	one(b, "tradingd_market_data_candles_stored_total", "counter", "closed candles stored",
	    num(c, "candles_stored"));
}

/* A family from a {label value: count} object of the METRICS "db" member. */
static void grouped(struct prom_buf *b, const json_t *m, const char *key, const char *name,
		    const char *type, const char *help, const char *label)
{
	const json_t *o = json_object_get(json_object_get(m, "db"), key);
	const char *k;
	json_t *v;

	prom_family(b, name, type, help);
	json_object_foreach((json_t *)o, k, v)
	{
		struct prom_label l = L(label, k);

		prom_sample(b, name, &l, 1, json_is_number(v) ? json_number_value(v) : 0);
	}
}

static void trading_jobs_alerts(struct prom_buf *b, const json_t *m)
{
	const json_t *jobs = json_object_get(m, "jobs");
	static const char *const results[] = {"ok", "transient", "permanent"};
	const json_t *und = json_object_get(json_object_get(m, "db"), "alerts_undelivered");

	grouped(b, m, "order_intents", "tradingd_order_intents", "gauge", "order intents by state",
		"state");
	grouped(b, m, "orders", "tradingd_orders", "gauge", "exchange orders by state", "state");
	grouped(b, m, "fills", "tradingd_fills_total", "counter", "fills recorded, by side",
		"side");
	prom_family(b, "tradingd_jobs_total", "counter",
		    "job runs ended since the daemon started, by result");
	for (int i = 0; i < 3; i++) {
		struct prom_label l = L("result", results[i]);

		prom_sample(b, "tradingd_jobs_total", &l, 1, num(jobs, results[i]));
	}
	grouped(b, m, "alerts", "tradingd_alerts_total", "counter",
		"notifications in the outbox, by severity", "severity");
	one(b, "tradingd_alerts_undelivered", "gauge", "notifications not delivered yet",
	    num(und, "all"));
}

/* A counter of the order-execution worker's own STATUS (since its start: a restart resets
 * it, which Prometheus' rate() takes as a counter reset). */
static void oe_counter(struct prom_buf *b, const json_t *orders, const char *name, const char *help,
		       const char *key)
{
	one(b, name, "counter", help, num(orders, key));
}

static void order_counters(struct prom_buf *b, const json_t *m)
{
	const json_t *workers = json_object_get(m, "workers");
	const json_t *orders =
		json_object_get(json_object_get(workers, "order-execution"), "orders");
	const json_t *st = json_object_get(workers, "strategy");
	const char *market;
	json_t *mk;

	if (json_is_object(orders)) {
		oe_counter(b, orders, "tradingd_orders_placed_total",
			   "orders the exchange (or the paper book) took", "placed");
		oe_counter(b, orders, "tradingd_order_refusals_total",
			   "intents refused for good by the exchange (or the paper book)",
			   "refused");
		oe_counter(b, orders, "tradingd_order_cancels_total", "orders cancelled",
			   "cancelled");
	}
	if (!json_is_object(json_object_get(st, "markets")))
		return;
	prom_family(b, "tradingd_strategy_entries_total", "counter",
		    "entry intents the strategy committed, by market");
	json_object_foreach(json_object_get(st, "markets"), market, mk)
	{
		struct prom_label l = L("market", market);

		prom_sample(b, "tradingd_strategy_entries_total", &l, 1, num(mk, "entries"));
	}
	prom_family(b, "tradingd_strategy_refusals_total", "counter",
		    "entries the strategy declined (paused, window, risk), by market");
	json_object_foreach(json_object_get(st, "markets"), market, mk)
	{
		struct prom_label l = L("market", market);

		prom_sample(b, "tradingd_strategy_refusals_total", &l, 1, num(mk, "refusals"));
	}
}

static void job_runs(struct prom_buf *b, const json_t *m)
{
	const json_t *runs = json_object_get(json_object_get(m, "db"), "job_runs");
	const char *job, *result;
	json_t *by, *n;

	prom_family(b, "tradingd_job_runs_total", "counter",
		    "runs of each scheduled job ended, by result (the scheduler's ledger)");
	json_object_foreach((json_t *)runs, job, by)
	{
		json_object_foreach(by, result, n)
		{
			struct prom_label l[2] = {L("job", job), L("result", result)};

			prom_sample(b, "tradingd_job_runs_total", l, 2,
				    json_is_number(n) ? json_number_value(n) : 0);
		}
	}
}

static void api_self(struct prom_buf *b, const struct api_counters *c)
{
	struct prom_label l = L("code", "200");

	prom_family(b, "tradingd_api_requests_total", "counter",
		    "HTTP requests the api worker answered, by status code");
	prom_sample(b, "tradingd_api_requests_total", &l, 1, (double)c->requests_ok);
	l.value = "404";
	prom_sample(b, "tradingd_api_requests_total", &l, 1, (double)c->requests_not_found);
	l.value = "405";
	prom_sample(b, "tradingd_api_requests_total", &l, 1, (double)c->requests_bad_method);
	l.value = "503";
	prom_sample(b, "tradingd_api_requests_total", &l, 1, (double)c->requests_unavailable);
}

void api_metrics_text(const json_t *m, const struct api_counters *c, struct prom_buf *b)
{
	processes(b, m);
	system_families(b, m);
	exchange(b, m);
	market_data(b, m);
	trading_jobs_alerts(b, m);
	order_counters(b, m);
	job_runs(b, m);
	api_self(b, c);
}
