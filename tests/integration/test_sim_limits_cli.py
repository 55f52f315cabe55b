"""upbit-sim rate limits (Remaining-Req, 429, 418 escalation), request recording, command
line (--help, bad arguments, loopback only), TRADINGD_CLOCK and a clean SIGTERM exit."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simutil import Sim, bin_path, align_second  # noqa: E402


def burst(sim, n, path="/v1/ticker?markets=KRW-BTC"):
    return [sim.get(path) for _ in range(n)]


def test_429_then_418_with_growing_ban():
    with Sim(["--ban-after", "3", "--ban-ms", "1000"]) as sim:
        align_second()
        rs = burst(sim, 14)
        secs = [int(re.search(r"sec=(\d+)", r.header("Remaining-Req")).group(1)) for r in rs[:10]]
        assert [r.status for r in rs[:10]] == [200] * 10
        assert secs == list(range(9, -1, -1))
        assert [r.status for r in rs[10:13]] == [429] * 3
        assert rs[10].body == b"Too many API requests."
        assert rs[10].header("Remaining-Req") == "group=ticker; min=1800; sec=0"
        ban = rs[13]
        assert ban.status == 418
        assert ban.header("Retry-After") == "1"
        assert ban.json()["error"]["block_ms"] == 1000
        # banned in every group for this client until it ends
        assert sim.get("/v1/market/all").status == 418
        time.sleep(1.1)
        assert sim.get("/v1/market/all").status == 200
        # a second offence doubles the ban
        align_second()
        rs = burst(sim, 14)
        assert rs[-1].status == 418 and rs[-1].json()["error"]["block_ms"] == 2000
        assert rs[-1].header("Retry-After") == "2"
        st, _ = sim.admin("DELETE", "/_sim/ratelimit")
        assert st == 200 and sim.get("/v1/market/all").status == 200
        # per-second rate per group as seen by the recorder
        reqs = sim.requests(group="ticker")["requests"]
        assert len(reqs) == 28 and {r["status"] for r in reqs} == {200, 429, 418}


def test_order_group_limit():
    with Sim() as sim:
        align_second()
        rs = [sim.private("POST", "/v1/orders", body={"market": "KRW-BTC"}) for _ in range(9)]
        assert [r.status for r in rs[:8]] == [400] * 8
        assert rs[8].status == 429
        assert re.match(r"group=order; min=1800; sec=0", rs[8].header("Remaining-Req"))
        assert sim.private("GET", "/v1/accounts").header("Remaining-Req").startswith("group=default;")


def test_request_recording():
    with Sim() as sim:
        sim.get("/v1/market/all")
        sim.private("POST", "/v1/orders", body={"market": "KRW-BTC", "side": "bid", "ord_type": "price",
                                                "price": "10000", "identifier": "rec-1"})
        sim.get("/v1/candles/minutes/1?market=KRW-BTC&count=2")
        log = sim.requests()
        rs = log["requests"]
        assert [r["path"] for r in rs] == ["/v1/market/all", "/v1/orders", "/v1/candles/minutes/1"]
        assert rs[1]["identifier"] == "rec-1" and rs[1]["status"] == 201 and rs[1]["group"] == "order"
        assert rs[2]["query"] == "market=KRW-BTC&count=2" and rs[2]["group"] == "candle"
        assert rs[0]["seq"] < rs[1]["seq"] < rs[2]["seq"]
        assert abs(rs[0]["recv_ms"] - time.time() * 1000) < 10000
        later = sim.requests(since=rs[1]["seq"])["requests"]
        assert [r["path"] for r in later] == ["/v1/candles/minutes/1"]
        assert log["capacity"] == 16384


def test_recorder_is_bounded():
    with Sim(["--record-capacity", "16"]) as sim:
        for _ in range(20):
            sim.get("/v1/orderbook/instruments?markets=KRW-BTC")
            time.sleep(0.1)
        log = sim.requests()
        assert len(log["requests"]) == 16 and log["dropped"] == 4
        assert log["requests"][0]["seq"] == 5


def run(*args, env=None):
    e = dict(os.environ)
    e.pop("TRADINGD_CLOCK", None)
    e.update(env or {})
    return subprocess.run([bin_path("upbit-sim")] + list(args), capture_output=True, timeout=20, env=e)


def test_help_lists_every_option():
    p = run("--help")
    assert p.returncode == 0
    out = p.stdout.decode()
    for opt in ("--listen", "--admin", "--account", "--seed", "--markets", "--markets-count",
                "--clock-start", "--clock-rate", "--candles", "--ban-after", "--ban-ms",
                "--history-minutes", "--allow-remote", "--dup-identifier-error", "--port-file"):
        assert opt in out, opt


def test_bad_arguments_exit_2_with_one_line():
    for args in (["--bogus"], ["--listen", "nope"], ["--listen", "10.1.2.3:80"],
                 ["--seed", "x"], ["--clock-rate", "0"], ["--clock-start", "yesterday"],
                 ["--markets", "BTC"], ["--account", "onlypart"], ["--markets-count", "999"],
                 ["--rate", "nosuch=3"], ["extra"], ["--candles", "/nonexistent/file.csv"]):
        p = run(*args)
        err = p.stderr.decode().strip()
        assert p.returncode == (1 if args[0] == "--candles" else 2), (args, err)
        assert len(err.splitlines()) == 1 and err.startswith("upbit-sim: "), (args, err)
    p = run("--listen", "8.8.8.8:0")
    assert "--allow-remote" in p.stderr.decode()


def test_sigterm_and_sigint_exit_0():
    for sig in (signal.SIGTERM, signal.SIGINT):
        sim = Sim()
        assert sim.get("/v1/market/all").status == 200
        assert sim.stop(sig) == 0


def test_clock_env_and_cli_override():
    start = 1736899200000  # 2025-01-15T00:00:00Z
    env = {"TRADINGD_CLOCK": "%d:%d:%s" % (start, int(time.time() * 1000), "1")}
    with Sim(env=env) as sim:
        st, h = sim.admin("GET", "/_sim/health")
        assert abs(h["clock_ms"] - start) < 5000
        c = sim.get("/v1/candles/minutes/1?market=KRW-BTC").json()[0]
        assert c["candle_date_time_utc"].startswith("2025-01-1")
    with Sim(["--clock-start", "2024-06-01T00:00:00+09:00", "--clock-rate", "600"], env=env) as sim:
        st, h = sim.admin("GET", "/_sim/health")
        assert h["clock_rate"] == 600
        assert abs(h["clock_ms"] - 1717167600000) < 600 * 5000


def test_markets_count_and_port_file(tmp_path):
    pf = tmp_path / "port"
    with Sim(["--markets-count", "200", "--history-minutes", "30", "--history-days", "5",
              "--port-file", str(pf), "--rate", "ticker=100"]) as sim:
        markets = sim.get("/v1/market/all").json()
        assert len(markets) == 200 and markets[5]["market"] == "KRW-C001"
        q = ",".join(m["market"] for m in markets)
        t = sim.get("/v1/ticker?markets=" + q)
        assert t.status == 200 and len(t.json()) == 200
        assert int(pf.read_text().split()[0]) == sim.port
