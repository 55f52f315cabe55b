"""A whole trading day on the test clock against the simulator (mode sim): the volatility
breakout is bought once per market when the price crosses the target, sold at the window's
close (23:00 KST), and positions, fees and realised PnL equal the simulator's account to the
won."""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from conftest import wait_for  # noqa: E402
from orderutil import OrderRig, dec  # noqa: E402

DAY = "2026-01-05"
MARKETS = ["KRW-BTC", "KRW-ETH"]
RATE = 1500  # 14 hours of window in about 34 s
START_KRW = 10000000


def test_whole_trading_day(daemon_factory):
    rig = OrderRig(daemon_factory, {
        "clock.start": "2026-01-05T08:59:00+09:00",
        "clock.rate": RATE,
        "market_data.markets": MARKETS,
        "market_data.stale_after_s": 3 * RATE,
        "market_data.backfill_max_minutes": 30,
        "market_data.candle_grace_ms": 60000,
        "strategy.markets": MARKETS,
        "strategy.check_interval_s": 120,
        "strategy.order_krw": 100000,
    }).start()
    d = rig.d

    def rows(sql, *args):
        with rig.db() as c:
            return c.execute(sql, args).fetchall()

    def targets():
        got = {}
        for market, state in rows("SELECT market, state FROM strategy_state"):
            s = json.loads(state)
            if s.get("day") == DAY and s.get("target_e8", 0) > 0:
                got[market] = s["target_e8"]
        return got if set(got) == set(MARKETS) else None

    tg = wait_for(targets, 20, 0.02, what="today's targets")
    for m, t in tg.items():
        price = int(math.ceil(t / 1e8 * 1.02 / 1000) * 1000)
        st, body = rig.sim_admin("POST", "/_sim/price", {"market": m, "price": price})
        assert st == 200, body

    def intents(side):
        return rows("SELECT i.market, i.state, s.kind FROM order_intents i JOIN signals s"
                    " ON s.id = i.signal_id WHERE i.side = ? ORDER BY i.id", side)

    def all_done(side):
        r = intents(side)
        return r if len(r) == len(MARKETS) and all(x[1] == "done" for x in r) else None

    bids = wait_for(lambda: all_done("bid"), 20, 0.05, what="entries done")
    assert sorted(b[0] for b in bids) == MARKETS and {b[2] for b in bids} == {"entry"}
    assert all(v > 0 for v, *_ in rig.positions().values()), rig.positions()
    asks = wait_for(lambda: all_done("ask"), 50, 0.05, what="exits at the window's close")
    assert sorted(a[0] for a in asks) == MARKETS and {a[2] for a in asks} == {"exit"}
    assert json.loads(d.ctl("--json", "status").stdout)["window_open"] is False

    # Once per market on the exchange itself: one buy, one sell.
    sim = rig.sim_orders()["orders"]
    assert sorted((o["market"], o["side"]) for o in sim) == \
        sorted((m, s) for m in MARKETS for s in ("bid", "ask")), sim
    rig.assert_matches_sim()
    pos = rig.positions()
    assert all(v == 0 for v, *_ in pos.values()), pos
    # Realised PnL and fees to the won (exactly, in fact): the KRW the account gained or lost.
    bal = rig.sim_balances()
    krw = dec(bal["KRW"]["balance"]) + dec(bal["KRW"]["locked"])
    realized = sum(r for _v, _c, r, _f in pos.values())
    assert realized == krw - START_KRW * 10**8, (realized, krw, pos)
    fees = sum(f for *_x, f in pos.values())
    assert fees == sum(dec(o["paid_fee"]) for o in sim), (fees, sim)
