"""market-data's test-only trace for the tick-to-order benchmark: each ticker reply's arrival
in CLOCK_MONOTONIC microseconds with its markets and prices, the clock the simulator's
recorder uses, so that the two can be subtracted."""
import http.client
import json
import time

from conftest import wait_for


def test_trace_ticks_records_each_reply_in_the_recorders_clock(daemon_factory):
    t0 = int(time.monotonic() * 1e6)
    d = daemon_factory({"market_data.markets": ["KRW-BTC", "KRW-ETH"],
                        "market_data.ticker_interval_ms": 100},
                       env={"TRADINGD_FAULT": "market-data:trace-ticks"}).start()
    path = d.dir / "data" / "tick-trace.txt"

    def lines():
        if not path.exists():
            return None
        rows = [ln.split() for ln in path.read_text().splitlines()]
        return rows if len({r[1] for r in rows}) == 2 and len(rows) >= 6 else None
    rows = wait_for(lines, 15, 0.05, what="traced ticker replies")
    stamps = [int(r[0]) for r in rows]
    assert stamps == sorted(stamps) and stamps[0] >= t0 and stamps[-1] <= time.monotonic() * 1e6
    assert {r[1] for r in rows} == {"KRW-BTC", "KRW-ETH"}
    assert all(int(r[2]) > 0 for r in rows)
    # Each traced reply answers a request the simulator recorded earlier on the same clock.
    conn = http.client.HTTPConnection("127.0.0.1", d.sim_port, timeout=10)
    conn.request("GET", "/_sim/requests?limit=100000")
    rec = json.loads(conn.getresponse().read())
    conn.close()
    asked = sorted(r["recv_mono_us"] for r in rec["requests"] if r["path"] == "/v1/ticker")
    assert asked and asked[0] < stamps[0]
