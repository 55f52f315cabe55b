"""market-data killed with SIGKILL in the middle of a backfill, and the whole daemon restarted:
the candle table ends up equal to the simulator's history with no duplicate and no hole, and a
restart resumes from candle_sync instead of fetching the whole backfill window again."""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simutil import MINUTE_MS, MarketDataRig, Sim, shared_clock, wait_until  # noqa: E402

import pytest  # noqa: E402

RATE = 60
MARKETS = ("KRW-BTC", "KRW-ETH", "KRW-XRP")


@pytest.fixture
def clock():
    return shared_clock(RATE)


@pytest.fixture
def sim(clock):
    with Sim(["--markets", ",".join(MARKETS)], admin=True, env={"TRADINGD_CLOCK": clock}) as s:
        yield s


def test_kill9_during_backfill(daemon_factory, sim, clock):
    # A day of minutes: 8 pages a market at 8 pages a second for the whole candle group.
    rig = MarketDataRig(daemon_factory, [sim], clock, {"market_data.backfill_max_minutes": 1440},
                        markets=MARKETS).start()
    victim = None

    def half_synced():
        """A market with 200+ minutes stored but its minute sync not finished."""
        with rig.db() as db:
            rows = dict(db.execute("SELECT market, count(*) FROM candles WHERE unit = 1"
                                   " GROUP BY market"))
        synced = rig.synced()
        return next((m for m in MARKETS if rows.get(m, 0) >= 200 and (m, 1) not in synced),
                    None)
    victim = wait_until(half_synced, 10, 0.01)
    assert victim, rig.synced()
    os.kill(rig.pid, signal.SIGKILL)
    w = wait_until(lambda: (lambda w: w if w["state"] == "RUNNING" and w["pid"] != rig.pid
                            else None)(rig.worker("market-data")), 10, 0.02)
    assert w and w["restarts"] == rig.restarts + 1, w
    assert "market-data" in rig.daemon.log_text()
    rig.pid, rig.restarts = w["pid"], w["restarts"]
    rig.wait_synced_now(20)
    rig.assert_candles_match(sim, min_rows=len(MARKETS) * 1300)
    # The new process fetched the unfinished market's pages again and stored none twice.
    c = rig.details()["counters"]
    assert c["candle_duplicates"] >= 200 and c["candle_store_errors"] == 0, c
    rig.assert_rates()
    rig.assert_survived()


def test_daemon_restart_resumes_from_candle_sync(daemon_factory, sim, clock):
    rig = MarketDataRig(daemon_factory, [sim], clock, {"market_data.backfill_max_minutes": 1440},
                        markets=MARKETS[:2]).start()
    rig.wait_synced_now(20)
    rig.assert_candles_match(sim, min_rows=2 * 1300)
    assert rig.daemon.stop() == 0
    rows_before = rig.candle_rows()
    before = rig.synced()
    stopped_ms = rig.now_ms()
    seq = sim.requests()["last_seq"]
    time.sleep(2)  # two simulated minutes without the daemon
    rig.start()
    rig.wait_synced_now(10)
    after = rig.synced()
    assert all(after[k] > before[k] for k in before if k[1] == 1)
    reqs = [r for r in sim.requests(since=seq)["requests"] if r["group"] == "candle"]
    # Only the minutes missed since the stop were asked for, and no day again (same day).
    assert not [r for r in reqs if r["path"] == "/v1/candles/days"], reqs
    missed = (rig.now_ms() - min(before[(m, 1)] for m in rig.markets)) // MINUTE_MS + 1
    asked = sum(int(re.search(r"count=(\d+)", r["query"]).group(1)) for r in reqs)
    assert 0 < asked <= len(rig.markets) * (missed + 2), (asked, missed, reqs)
    assert len(reqs) <= len(rig.markets) * (missed + 2)
    c, rows_after = rig.counters_and_rows()
    # Every row the new process stored was new: none of the old ones was fetched again.
    assert c["candle_duplicates"] == 0 and c["candles_stored"] >= 2, c
    assert rows_after == rows_before + c["candles_stored"]
    assert stopped_ms < after[("KRW-BTC", 1)]
    rig.assert_candles_match(sim, min_rows=2 * 1300)
    rig.assert_rates()
    rig.assert_survived()
