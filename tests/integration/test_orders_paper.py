"""Paper mode: the exchange's public price (a simulator outside the daemon, on a price set by
the test), fills made locally with the configured slippage and fee through the same orders,
fills and positions code; nothing is sent to the exchange's order API, no keys are needed."""
import time

from conftest import wait_for
from orderutil import OrderRig, Sim, E8

PRICE = 100_000_000  # KRW per BTC: tick 1000 KRW


def test_paper_fills_with_fee_and_slippage(daemon_factory):
    # 60x: the simulator shows trades often, so the price set is on the ticker soon
    with Sim(["--markets", "KRW-BTC,KRW-ETH", "--volatility", "0", "--clock-rate", "60"],
             admin=True,
             accounts=[]) as sim:
        assert sim.admin("POST", "/_sim/price", {"market": "KRW-BTC", "price": PRICE})[0] == 200
        wait_for(lambda: sim.get("/v1/ticker?markets=KRW-BTC").json()[0]["trade_price"] == PRICE,
                 30, 0.25, what="the set price on the ticker")
        r = OrderRig(daemon_factory, {"mode": "paper", "sim": None,
                                      "exchange.base_url": "http://127.0.0.1:%d" % sim.port,
                                      "orders.paper_slippage_bps": 20,
                                      "orders.paper_fee_bps": 5,
                                      "orders.limit_timeout_ms": 1000}).start()
        buy = r.intent("KRW-BTC", "bid", "price", funds=1_000_000)
        assert r.wait_intent(buy)[0] == "done"
        (tu, ou, m, side, price, vol, funds, fee), = r.fills()
        # 0.2 % worse, on the 1000 KRW grid, rounded against us: 100,200,000
        assert price == 100_200_000 * E8
        assert vol == 1_000_000 * E8 * E8 // price  # floor to 8 places
        assert funds == price * vol // E8
        assert fee == (funds * 5 + 5000) // 10000  # half-even of 5 bps (no tie here)
        pos = r.positions()["KRW-BTC"]
        assert pos[0] == vol and pos[1] == funds + fee and pos[3] == fee
        sell = r.intent("KRW-BTC", "ask", "market", volume=vol / E8)
        assert r.wait_intent(sell)[0] == "done"
        sold = [f for f in r.fills() if f[3] == "ask"][0]
        assert sold[4] == 99_800_000 * E8
        pos = r.positions()["KRW-BTC"]
        assert pos[0] == 0 and pos[1] == 0
        assert pos[2] == sold[6] - sold[7] - (funds + fee) < 0  # the round trip cost fees
        # a limit buy below the market waits, then its timeout cancels it unfilled
        low = r.intent("KRW-BTC", "bid", "limit", price=90_000_000, volume=0.001)
        st = r.wait_intent(low, timeout=20)
        assert st[0] == "done" and st[1] == "cancelled with nothing filled", st
        # a marketable limit sell fills at the market less slippage (above its limit)
        r.intent("KRW-BTC", "bid", "price", funds=10_000)
        ls = r.intent("KRW-BTC", "ask", "limit", price=99_000_000, volume=0.00001)
        assert r.wait_intent(ls)[0] == "done"
        assert [f for f in r.fills() if f[3] == "ask"][-1][4] == 99_800_000 * E8
        # the exchange never saw an order, nor a private request
        reqs = sim.requests()["requests"]
        assert not [q for q in reqs if q["path"].startswith(("/v1/order", "/v1/accounts"))]
        assert len(r.notifications("fill")) == 4
        # an intent Upbit would refuse (a sell by total) is refused once, with its alert
        bad = r.intent("KRW-BTC", "ask", "price", funds=10_000)
        st = r.wait_intent(bad)
        assert st[0] == "refused" and "cannot be filled" in st[1], st
        texts = [t for _k, t in r.notifications("order_refused")]
        assert texts == [f"order refused: intent {bad} KRW-BTC: paper fill impossible"], texts
        time.sleep(0)
