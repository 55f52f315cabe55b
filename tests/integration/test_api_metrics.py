"""The api worker for real: /metrics on loopback in the Prometheus text format, checked with
promtool (Debian's prometheus package), counters that move as requests are made, plain errors
for other paths and methods, no secret in its config share, and the example alerting rules in
etc/ accepted by promtool check rules."""
import os
import pwd
import shutil
import socket
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, free_port, proc_argv, proc_ids, wait_for

# tests/promtool.sh unpacks it there (make test does); one on PATH also serves.
_UNPACKED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools",
                         "usr", "bin", "promtool")
PROMTOOL = _UNPACKED if os.access(_UNPACKED, os.X_OK) else shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian: prometheus) missing")


def scrape(port, path="/metrics", method="GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def sample(text, name, **labels):
    """The value of the one sample of name with exactly these labels."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    key = f"{name}{{{want}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no sample {key} in:\n{text[:3000]}")


def promtool_check_metrics(text):
    res = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr


def test_metrics_parse_and_move(daemon_factory):
    port = free_port()
    d = daemon_factory({"workers.api.enabled": True, "api.listen": f"127.0.0.1:{port}",
                        "monitor.interval_ms": 200}).start()
    assert d.status()["api"]["state"] == "RUNNING"

    def ready():
        status, _, text = scrape(port)
        return status == 200 and "tradingd_process_resident_memory_bytes" in text and \
            'tradingd_exchange_requests_total{worker="market-data"' in text and text
    first = wait_for(ready, 15, interval=0.2, what="a full /metrics page")
    status, ctype, _ = scrape(port)
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4"), ctype
    promtool_check_metrics(first)
    assert sample(first, "tradingd_process_up", process="market-data") == 1
    assert sample(first, "tradingd_process_resident_memory_bytes", process="strategy") > 1e5
    assert sample(first, "tradingd_data_dir_free_bytes") > 0

    def ok_polls(text):
        return sample(text, "tradingd_market_data_ticker_polls_total", result="success")

    served = sample(first, "tradingd_api_requests_total", code="200")
    polls = ok_polls(first)
    assert scrape(port, "/nope")[0] == 404
    assert scrape(port, method="POST")[0] == 405
    later = wait_for(lambda: (t := scrape(port)[2]) and ok_polls(t) > polls and t, 15,
                     interval=0.2, what="ticker polls counted")
    promtool_check_metrics(later)
    assert sample(later, "tradingd_api_requests_total", code="200") >= served + 1
    assert sample(later, "tradingd_api_requests_total", code="404") == 1
    assert sample(later, "tradingd_api_requests_total", code="405") == 1

    # A crash shows in the restarts counter of the next scrape.
    restarts = sample(later, "tradingd_process_restarts_total", process="strategy")
    os.kill(d.status()["strategy"]["pid"], 9)
    wait_for(lambda: sample(scrape(port)[2], "tradingd_process_restarts_total",
                            process="strategy") == restarts + 1, 15, interval=0.2,
             what="the restart counted")

    # Hardened like the others: the daemon's user, not dumpable, in a binary without libcurl
    # or OpenSSL, with its own section only (nothing of the exchange or the accounts).
    api_pid = d.status()["api"]["pid"]
    assert proc_argv(api_pid)[0].endswith("/tradingd-api") and proc_argv(api_pid)[1:] == \
        ["-x", "api"]
    if os.geteuid() == 0:
        assert proc_ids(api_pid, "Uid")[0] == pwd.getpwnam("nobody").pw_uid
        with open(f"/proc/{api_pid}/maps") as f:
            maps = f.read()
        assert "libcurl" not in maps and "libssl" not in maps and "libmicrohttpd" in maps
        # Not dumpable: the kernel gives its /proc entries to root, not to its own uid.
        assert os.stat(f"/proc/{api_pid}/fd").st_uid == 0
    log = d.log_text()
    assert "serving /metrics on http://127.0.0.1:" in log
    assert "test-secret-key" not in later and "test-secret-key" not in log


def test_a_port_in_use_is_a_clear_error(daemon_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        d = daemon_factory({"workers.api.enabled": True, "api.listen": f"127.0.0.1:{port}",
                            "supervisor.crashloop_max_restarts": 1}).start(wait_running=False)
        wait_for(lambda: "cannot listen on 127.0.0.1:%d (api.listen)" % port in d.log_text(),
                 15, what="the listen error")
        # It fails at every start: a crash loop, while everything else runs on.
        d.wait_state("api", "FATAL")
        assert d.state("market-data") == "RUNNING"


def test_example_rules_pass_promtool():
    rules = os.path.join(ROOT, "etc", "prometheus-rules.yml")
    res = subprocess.run([PROMTOOL, "check", "rules", rules], capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout + res.stderr


def test_order_and_job_counters_move(daemon_factory):
    """Orders placed and refused, fills and scheduled job runs show in /metrics as they happen:
    the intents are committed as the strategy would (orderutil), the job is run by hand."""
    from orderutil import OrderRig
    port = free_port()
    rig = OrderRig(daemon_factory, {
        "workers.api.enabled": True, "api.listen": f"127.0.0.1:{port}",
        "jobs.defs": {"ckpt": {"schedule": "0 0 1 1 *", "worker": "maintenance",
                               "action": "checkpoint"}}}).start()

    def page(pred, what):
        return wait_for(lambda: (t := scrape(port)[2]) and "tradingd_orders_placed_total" in t
                        and pred(t) and t, 15, interval=0.2, what=what)
    before = page(lambda t: True, "order-execution's counters")
    promtool_check_metrics(before)
    placed = sample(before, "tradingd_orders_placed_total")
    refused = sample(before, "tradingd_order_refusals_total")
    assert 'tradingd_job_runs_total{job="ckpt"' not in before

    buy = rig.intent("KRW-BTC", "bid", "price", funds=20000)
    tiny = rig.intent("KRW-BTC", "bid", "price", funds=1000)  # under the minimum total
    assert rig.wait_intent(buy)[0] == "done" and rig.wait_intent(tiny)[0] == "refused"
    rig.d.ctl("job", "run", "ckpt", check=True)
    after = page(lambda t: 'tradingd_job_runs_total{job="ckpt",result="ok"}' in t and
                 sample(t, "tradingd_orders_placed_total") > placed and
                 sample(t, "tradingd_order_refusals_total") > refused,
                 "the order and job counters moved")
    promtool_check_metrics(after)
    assert sample(after, "tradingd_orders_placed_total") == placed + 1
    assert sample(after, "tradingd_order_refusals_total") == refused + 1
    assert sample(after, "tradingd_order_intents", state="done") == 1
    assert sample(after, "tradingd_order_intents", state="refused") == 1
    assert sample(after, "tradingd_fills_total", side="bid") == len(rig.fills()) >= 1
    assert sample(after, "tradingd_job_runs_total", job="ckpt", result="ok") == 1
    assert sample(after, "tradingd_jobs_total", result="ok") >= 1
