"""market-data under the faults of FAULT_MATRIX N1, N2, E1-E3 and D1, injected by simulators it
shares a 60x clock with (a simulated minute per real second). After each fault the worker is
the same process, never went over 10 requests a second per quotation group, raised the stale
alert while prices were missing and cleared it, and its candles equal the simulator's history
with no duplicate and no fillable hole."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simutil import (MINUTE_MS, MarketDataRig, Sim, max_overlap, shared_clock,  # noqa: E402
                     transport_log_lines, wait_until)

import pytest  # noqa: E402

RATE = 60


@pytest.fixture
def clock():
    return shared_clock(RATE)


def start_sim(clock):
    return Sim(["--markets", "KRW-BTC,KRW-ETH"], admin=True, env={"TRADINGD_CLOCK": clock})


@pytest.fixture
def sim(clock):
    with start_sim(clock) as s:
        yield s


def add_fault(sim, rule):
    st, body = sim.admin("POST", "/_sim/faults", rule)
    assert st == 201, body
    return body


def ready_rig(daemon_factory, sims, clock, overrides=None):
    """A rig whose first sync is done and whose prices are fresh."""
    rig = MarketDataRig(daemon_factory, sims, clock, overrides).start()
    rig.wait_synced_now()
    assert wait_until(rig.all_fresh, 5, 0.05), rig.stale_flags()
    return rig


def assert_recovers(rig, sim, timeout=20):
    """Prices fresh again, candles synced to now and equal to the sim's, the rates kept, the
    same worker process."""
    assert wait_until(rig.all_fresh, timeout, 0.05), \
        "%r\n%s" % (rig.stale_flags(), rig.daemon.log_text()[-3000:])
    rig.wait_synced_now(timeout)
    rig.assert_candles_match(sim)
    rig.assert_rates()
    rig.assert_survived()


def stale_then_fresh(rig):
    """Each market got a stale row, and a fresh row after its last stale one."""
    rows = rig.notifications({"market_data_stale", "market_data_fresh"})
    for m in rig.markets:
        kinds = [k for k, t in rows if (" %s " % m) in t]
        assert "market_data_stale" in kinds, (m, rows)
        assert kinds[-1] == "market_data_fresh", (m, rows)


def test_network_down_then_backfill(daemon_factory, sim, clock):
    rig = ready_rig(daemon_factory, [sim], clock)
    down_ms = rig.now_ms()
    assert sim.admin("POST", "/_sim/network", {"state": "down"})[0] == 200
    assert wait_until(rig.all_stale, 5, 0.05), rig.stale_flags()
    time.sleep(max(0, 5 - (rig.now_ms() - down_ms) / 1000 / RATE))  # five simulated minutes
    up_ms = rig.now_ms()
    assert sim.admin("POST", "/_sim/network", {"state": "up"})[0] == 200
    assert_recovers(rig, sim)
    stale_then_fresh(rig)
    # The outage's minutes were backfilled (the sim has trades in most of them).
    with rig.db() as db:
        gap = db.execute("SELECT count(*) FROM candles WHERE unit = 1 AND start_ms >= ? AND"
                         " start_ms < ?", (down_ms // MINUTE_MS * MINUTE_MS + MINUTE_MS,
                                           up_ms // MINUTE_MS * MINUTE_MS)).fetchone()[0]
    assert gap >= 2 * 3, gap
    # Refused connects opened the breakers; the first answer after the outage closed them.
    kinds = [k for k, _ in rig.notifications({"breaker_open", "breaker_closed"})]
    assert "breaker_open" in kinds and kinds[-1] == "breaker_closed", kinds
    # The refused connects are warnings, not routine info.
    lines = transport_log_lines(rig.daemon.log_text(), "connect")
    assert set(lines) == {"warn"}, lines


def test_dns_failure(daemon_factory, clock):
    rig = MarketDataRig(daemon_factory, [], clock, {
        "exchange.base_url": "http://tradingd-unresolvable.invalid:1"}).start()

    def breaker_open():
        g = rig.group("ticker")
        return g["breakers"][0]["state"] == "open" and g["breakers"][0]["opened"] >= 1
    assert wait_until(breaker_open, 10, 0.05), rig.group("ticker")
    assert wait_until(rig.all_stale, 5, 0.05), rig.stale_flags()
    kinds = {k for k, _ in rig.notifications()}
    assert {"market_data_stale", "breaker_open"} <= kinds, kinds
    d = rig.details()
    assert d["counters"]["ticker_ok"] == 0 and d["counters"]["ticker_failed"] >= 1
    assert d["counters"]["candles_stored"] == 0
    with rig.db() as db:
        assert db.execute("SELECT count(*) FROM candles").fetchone()[0] == 0
    time.sleep(1)
    rig.assert_survived()
    # A name that does not resolve is a warning, and it names the host.
    lines = transport_log_lines(rig.daemon.log_text(), "dns")
    assert set(lines) == {"warn"}, lines
    assert all("http://tradingd-unresolvable.invalid:1/v1/" in line for line in lines["warn"])


@pytest.mark.parametrize("rate", [0.5, 1.0])
def test_5xx_retried_until_data(daemon_factory, sim, clock, rate):
    rig = ready_rig(daemon_factory, [sim], clock)
    ok0 = rig.details()["counters"]["ticker_ok"]
    seq = sim.requests()["last_seq"]
    # At half rate only the tickers fail, so that the sim's seeded fault RNG gives them the
    # same sequence of errors every run (the breaker opens on 5 in a row, or 10 in 30 s).
    add_fault(sim, {"action": "status", "status": [500, 503, 504], "rate": rate,
                    "duration_ms": 3000, **({"group": "ticker"} if rate < 1 else {})})
    t0 = time.time()
    if rate < 1:
        # Retries get through: prices still come while half the answers are errors (until
        # 10 failures within 30 s open the breaker, by design).
        assert wait_until(lambda: rig.details()["counters"]["ticker_ok"] >= ok0 + 1, 3, 0.05), \
            [r["status"] for r in sim.requests(since=seq)["requests"] if r["group"] == "ticker"]
    else:
        assert wait_until(rig.all_stale, 3, 0.05), rig.stale_flags()
    time.sleep(max(0, 3 - (time.time() - t0)))
    assert_recovers(rig, sim)
    ticker = [r["status"] for r in sim.requests(since=seq)["requests"]
              if r["path"] == "/v1/ticker"]
    assert sum(s >= 500 for s in ticker) >= 3
    if rate < 1:
        # An error answer was followed by a good one while the fault lasted.
        during = [r["status"] for r in sim.requests(since=seq)["requests"]
                  if r["path"] == "/v1/ticker" and r["recv_ms"] < t0 * 1000 + 2900]
        first_err = next(i for i, s in enumerate(during) if s >= 500)
        assert 200 in during[first_err:], during
    if rate == 1.0:
        stale_then_fresh(rig)


def test_429_then_418_ban(daemon_factory, sim, clock):
    rig = ready_rig(daemon_factory, [sim], clock)
    add_fault(sim, {"action": "status", "status": 429, "count": 4})
    assert wait_until(lambda: sum(g["n_429"] for g in rig.details()["upbit"]["groups"].values())
                      >= 4, 5, 0.05)
    seq = sim.requests()["last_seq"]
    add_fault(sim, {"action": "ban", "ms": 3000})
    ban_end = time.time() + 3

    def blocked():
        g = rig.group("ticker")
        return g["n_418"] >= 1 and g["blocked_by_418"] and g["blocked_ms"] > 0
    assert wait_until(blocked, 3, 0.02), rig.group("ticker")
    assert wait_until(rig.all_stale, 3, 0.05), rig.stale_flags()
    assert "blocked" in {k for k, _ in rig.notifications()}
    time.sleep(max(0, ban_end - time.time()))
    assert_recovers(rig, sim)
    stale_then_fresh(rig)
    # The client honoured Retry-After: once answered 418, a group waited out the ban.
    reqs = sim.requests(since=seq)["requests"]
    for g in ("ticker", "candle"):
        n418 = sum(r["status"] == 418 for r in reqs if r["group"] == g)
        assert 1 <= n418 <= (1 if g == "ticker" else 4), (g, n418)
    d = rig.details()["upbit"]["groups"]
    assert d["ticker"]["n_418"] >= 1 and sum(g["n_429"] for g in d.values()) >= 4
    # The ban's end is alerted as its clear.
    assert wait_until(lambda: "blocked_cleared" in {k for k, _ in rig.notifications()}, 5,
                      0.05), rig.notifications()


def sample_ticker_queue(rig, seconds):
    """The most ticker calls in flight and queued seen in the client over that time."""
    most_in_flight = most_queued = 0
    end = time.time() + seconds
    while time.time() < end:
        g = rig.group("ticker")
        most_in_flight = max(most_in_flight, g["in_flight"])
        most_queued = max(most_queued, g["queued"])
        time.sleep(0.03)
    return most_in_flight, most_queued


def test_latency_above_request_timeout(daemon_factory, sim, clock):
    rig = ready_rig(daemon_factory, [sim], clock)
    seq = sim.requests()["last_seq"]
    add_fault(sim, {"action": "latency", "ms": 1500, "duration_ms": 3000})
    in_flight, queued = sample_ticker_queue(rig, 3)
    assert in_flight <= 1 and queued <= 1, (in_flight, queued)
    assert wait_until(rig.all_stale, 2, 0.05), rig.stale_flags()
    assert_recovers(rig, sim)
    stale_then_fresh(rig)
    reqs = sim.requests(since=seq)["requests"]
    # One call at a time: a new try starts only once the client gave up on the last.
    assert max_overlap(reqs, "/v1/ticker") <= 2
    slow = [r for r in reqs if r["path"] == "/v1/ticker" and r["duration_ms"] >= 1400]
    assert 1 <= len(slow) <= 5, len(slow)
    lines = transport_log_lines(rig.daemon.log_text(), "timeout")
    assert set(lines) == {"warn"}, lines


def test_hang_until_released(daemon_factory, sim, clock):
    rig = ready_rig(daemon_factory, [sim], clock)
    seq = sim.requests()["last_seq"]
    add_fault(sim, {"action": "hang"})
    in_flight, queued = sample_ticker_queue(rig, 3)
    assert in_flight <= 1 and queued <= 1, (in_flight, queued)
    assert rig.all_stale(), rig.stale_flags()
    sim.admin("DELETE", "/_sim/faults")  # answers the held requests, late
    assert_recovers(rig, sim)
    stale_then_fresh(rig)
    held = [r for r in sim.requests(since=seq)["requests"]
            if r["path"] == "/v1/ticker" and r["fault"] == "hang"]
    # Three seconds of a 1 s request timeout: a handful of tries, not 10 a second.
    assert 1 <= len(held) <= 6, len(held)


MALFORMED = ["truncated", "wrong_types", "missing_fields", "nan", "huge", "garbage", "empty"]


@pytest.mark.parametrize("mode", MALFORMED)
def test_malformed_rejected(daemon_factory, sim, clock, mode):
    rig = ready_rig(daemon_factory, [sim], clock)
    inv0 = rig.details()["upbit"]["invalid"]
    price0 = {m: float(v["price"]) for m, v in rig.details()["markets"].items()}
    add_fault(sim, {"rules": [
        {"action": "malformed", "mode": mode, "mb": 1, "path_prefix": "/v1/ticker", "count": 3},
        {"action": "malformed", "mode": mode, "mb": 1, "path_prefix": "/v1/candles",
         "count": 3}]})

    def counted():
        inv = rig.details()["upbit"]["invalid"]
        return inv["ticker"] >= inv0["ticker"] + 3 and inv["candles"] >= inv0["candles"] + 3
    assert wait_until(counted, 8, 0.05), rig.details()["upbit"]["invalid"]
    assert sim.admin("GET", "/_sim/faults")[1]["rules"] == []
    assert_recovers(rig, sim)
    d = rig.details()
    for m, v in d["markets"].items():
        assert float(v["price"]) > 0 and abs(float(v["price"]) / price0[m] - 1) < 0.5
    assert d["counters"]["candle_store_errors"] == 0
    # Alerts about bad data are rate-limited: the first report, not one per response.
    inv_rows = rig.notifications({"invalid_data"})
    assert 1 <= len(inv_rows) <= 4, inv_rows
    faults = [r["fault"] for r in sim.requests()["requests"] if r["fault"]]
    assert faults.count("malformed:" + mode) == 6


def test_failover_and_back(daemon_factory, clock):
    with start_sim(clock) as primary, start_sim(clock) as fallback:
        rig = ready_rig(daemon_factory, [primary, fallback], clock)
        p_url, f_url = ("http://127.0.0.1:%d" % s.port for s in (primary, fallback))
        assert rig.group("ticker")["base"] == p_url
        assert fallback.requests()["requests"] == []
        assert primary.admin("POST", "/_sim/network", {"state": "down"})[0] == 200
        t_down = time.time()
        assert wait_until(lambda: rig.group("ticker")["base"] == f_url, 8, 0.05), \
            rig.group("ticker")
        seq = fallback.requests()["last_seq"]
        # Fresh prices come from the fallback while the primary is down.
        assert wait_until(lambda: rig.all_fresh() and
                          len(fallback.requests(since=seq)["requests"]) >= 5, 5, 0.05)
        assert "failover" in {k for k, _ in rig.notifications()}
        # Up again before the breaker's first cool-down ends (3 s, exchange.probe_max_ms): its
        # probe finds it up.
        time.sleep(max(0, 2.5 - (time.time() - t_down)))
        assert primary.admin("POST", "/_sim/network", {"state": "up"})[0] == 200
        assert wait_until(lambda: rig.group("ticker")["base"] == p_url and
                          rig.group("candle")["base"] == p_url, 15, 0.1), \
            rig.details()["upbit"]["groups"]
        pseq = primary.requests()["last_seq"]
        assert wait_until(lambda: len([r for r in primary.requests(since=pseq)["requests"]
                                       if r["status"] == 200]) >= 5, 5, 0.05)
        fseq = fallback.requests()["last_seq"]
        time.sleep(0.5)
        assert [r["path"] for r in fallback.requests(since=fseq)["requests"]
                if r["path"] == "/v1/ticker"] == []
        texts = [t for k, t in rig.notifications({"failover"})]
        assert any("primary" in t for t in texts), texts
        assert_recovers(rig, primary)
        rig.assert_candles_match(fallback)
        rig.assert_rates([primary, fallback])
