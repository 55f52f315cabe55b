"""market-data against a simulator it shares a 60x clock with: candles land in SQLite equal to
the simulator's history (no duplicate, no fillable hole), the request rate stays within Upbit's
limits, and a market without prices is declared stale, then fresh again."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simutil import MINUTE_MS, MarketDataRig, Sim, shared_clock, wait_until  # noqa: E402

import pytest  # noqa: E402

RATE = 60  # a simulated minute per real second


@pytest.fixture
def clock():
    return shared_clock(RATE)


@pytest.fixture
def sim(clock):
    with Sim(["--markets", "KRW-BTC,KRW-ETH,KRW-XRP"], admin=True,
             env={"TRADINGD_CLOCK": clock}) as s:
        yield s


def test_candles_equal_sim_history(daemon_factory, sim, clock):
    rig = MarketDataRig(daemon_factory, [sim], clock).start()
    rig.wait_synced_now()
    first = rig.synced()
    # Let a few more minutes close and be synced incrementally.
    assert wait_until(lambda: rig.synced_to(first[("KRW-BTC", 1)] + 4 * MINUTE_MS), 10, 0.1)
    rig.wait_synced_now()
    # 120 backfilled minutes (a few have no trade) and 30 days per market at least.
    rig.assert_candles_match(sim, min_rows=2 * (100 + 30))
    c, rows = rig.counters_and_rows()
    d = rig.details()
    # One process wrote every row; nothing was fetched twice in steady state.
    assert c["candles_stored"] == rows and c["candle_duplicates"] == 0
    assert c["candle_store_errors"] == 0 and c["candle_failures"] == 0
    assert c["ticker_ok"] > 0 and c["ticker_failed"] == 0
    for m in rig.markets:
        assert float(d["markets"][m]["price"]) > 0 and not d["markets"][m]["stale"]
    groups = d["upbit"]["groups"]
    assert all(g["n_429"] == 0 and g["n_418"] == 0 for g in groups.values())
    rig.assert_rates()
    assert all(r["status"] == 200 for r in sim.requests()["requests"])
    rig.assert_survived()


def test_stale_alert_raised_and_cleared(daemon_factory, sim, clock):
    rig = MarketDataRig(daemon_factory, [sim], clock).start()
    assert wait_until(rig.all_fresh, 5, 0.05), rig.stale_flags()
    assert rig.notifications({"market_data_stale", "market_data_fresh"}) == []
    # Prices stop: every ticker answer is a 503, the candles keep flowing.
    st, _ = sim.admin("POST", "/_sim/faults",
                      {"action": "status", "status": 503, "path_prefix": "/v1/ticker"})
    assert st == 201
    assert wait_until(rig.all_stale, 8, 0.05), rig.stale_flags()
    stale = rig.notifications({"market_data_stale"})
    assert sorted(re.search(r"KRW-\w+", t).group() for _, t in stale) == sorted(rig.markets)
    assert rig.notifications({"market_data_fresh"}) == []
    # Prices return.
    sim.admin("DELETE", "/_sim/faults")
    assert wait_until(rig.all_fresh, 15, 0.05), rig.stale_flags()
    # Exactly one stale then one fresh row per market, in that order.
    for m in rig.markets:
        kinds = [k for k, t in rig.notifications({"market_data_stale", "market_data_fresh"})
                 if re.search(r"\b%s\b" % m, t)]
        assert kinds == ["market_data_stale", "market_data_fresh"], (m, kinds)
    rig.wait_synced_now()
    rig.assert_candles_match(sim)
    rig.assert_rates()
    rig.assert_survived()
