"""Prices come back within 5 s of the exchange coming back after a long outage: the breaker's
probe interval is capped (exchange.probe_max_ms, 3 s) instead of doubling to 60 s, and the
probes stay far below the per-group rate limits. The breakers run on real time, so the outage
is a real 20 s (20 simulated minutes): long enough for the old doubling (5, 10, 20 s) to leave
the next probe 16 s away when the exchange returns."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simutil import (MarketDataRig, Sim, rate_peaks, shared_clock,  # noqa: E402
                     transport_log_lines, wait_until)

import pytest  # noqa: E402

RATE = 60
OUTAGE_S = 20
PROBE_MAX_MS = 3000
RECOVERY_S = 5


def prices_fresh(rig, after_trade):
    """Every market fresh in market-data's status, with a trade newer than after_trade."""
    md = rig.details().get("markets", {})
    return all(m in md and md[m]["stale"] is False and md[m]["last_trade_ms"] > after_trade[m]
               for m in rig.markets)


def ticker_requests(sim, seq):
    return [r for r in sim.requests(since=seq)["requests"] if r["path"] == "/v1/ticker"]


@pytest.mark.parametrize("fault", ["network_down", "reset"])
def test_prices_return_quickly_after_long_outage(daemon_factory, fault):
    clock = shared_clock(RATE)
    with Sim(["--markets", "KRW-BTC,KRW-ETH"], admin=True, env={"TRADINGD_CLOCK": clock}) as sim:
        rig = MarketDataRig(daemon_factory, [sim], clock).start()
        assert wait_until(rig.all_fresh, 10, 0.05), rig.stale_flags()
        seq = sim.requests()["last_seq"]
        t_down = time.time()
        # network_down: the API port is closed, so connects are refused (the sim cannot see
        # them). reset: every request reaches the sim and is dropped, so it counts the tries.
        if fault == "network_down":
            assert sim.admin("POST", "/_sim/network", {"state": "down"})[0] == 200
        else:
            assert sim.admin("POST", "/_sim/faults", {"action": "reset"})[0] == 201
        assert wait_until(rig.all_stale, 5, 0.05), rig.stale_flags()
        time.sleep(max(0, OUTAGE_S - (time.time() - t_down)))

        ticker = rig.group("ticker")["breakers"][0]
        assert ticker["state"] in ("open", "half-open"), ticker
        # A probe every 3 s at most, however long the outage: several reopenings by now.
        assert ticker["retry_in_ms"] <= PROBE_MAX_MS, ticker
        assert ticker["opened"] >= 3, ticker
        last_trade = {m: v["last_trade_ms"] for m, v in rig.details()["markets"].items()}

        t_up = time.time()
        if fault == "network_down":
            assert sim.admin("POST", "/_sim/network", {"state": "up"})[0] == 200
        else:
            assert sim.admin("DELETE", "/_sim/faults")[0] == 200
        # Generous wait so that a slow run reports its time rather than a bare timeout.
        assert wait_until(lambda: prices_fresh(rig, last_trade), 30, 0.02), \
            "%r\n%s" % (rig.details().get("markets"), rig.daemon.log_text()[-3000:])
        recovered_s = time.time() - t_up
        first_ok = min(r["recv_ms"] for r in ticker_requests(sim, seq) if r["status"] == 200)
        print("%s: fresh prices %.2f s after the exchange came back; first answered ticker "
              "request after %.2f s" % (fault, recovered_s, first_ok / 1000 - t_up))
        assert recovered_s < RECOVERY_S, recovered_s

        # The rate limits held throughout, and the outage cost a handful of probes, not a
        # request per poll: 5 failures open the breaker, then one probe per cap at most.
        reqs = sim.requests(since=seq)["requests"]
        peaks = rate_peaks(reqs)
        assert all(v <= 10 for v in peaks.values()), peaks
        if fault == "reset":
            during = [r for r in reqs if r["recv_ms"] < t_up * 1000]
            for group in ("ticker", "candle"):
                n = sum(r["group"] == group for r in during)
                assert 3 <= n <= 12 + OUTAGE_S * 1000 // PROBE_MAX_MS, (group, n)
        rig.assert_survived()

        # Each failure is a warning, but one line per group per 10 s carries the count: the
        # outage does not flood the log.
        lines = transport_log_lines(rig.daemon.log_text(),
                                    "connect" if fault == "network_down" else "reset")
        assert set(lines) == {"warn"}, lines
        assert len(lines["warn"]) <= 3 * (OUTAGE_S // 10 + 2), lines["warn"]
        assert any("more transport failures in group ticker" in line for line in lines["warn"])
