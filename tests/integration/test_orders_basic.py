"""order-execution against the daemon's simulator: a market buy and sell become one order each,
every trade one fill, positions the simulator's balances; refusals end the intent at once."""
from orderutil import OrderRig, dec, E8


def test_buy_then_sell_matches_the_simulator(daemon_factory):
    r = OrderRig(daemon_factory).start()
    buy = r.intent("KRW-BTC", "bid", "price", funds=20000)
    assert r.wait_intent(buy)[0] == "done"
    vol = r.positions()["KRW-BTC"][0]
    assert vol > 0
    sell = r.intent("KRW-BTC", "ask", "market", volume=vol / 2 / E8)
    assert r.wait_intent(sell)[0] == "done"
    r.assert_matches_sim()
    assert len(r.sim_orders_of(buy)) == 1 and len(r.sim_orders_of(sell)) == 1
    assert [a[2] for a in r.attempts(buy)] == ["placed"]
    pos = r.positions()["KRW-BTC"]
    assert pos[3] > 0  # fees of both sides
    assert len(r.notifications("fill")) >= 2
    # the sell realised funds - fee - half the cost (average cost, exact)
    with r.db() as c:
        real = c.execute("SELECT sum(realized_e8) FROM fills WHERE side = 'ask'").fetchone()[0]
    assert real == pos[2]


def test_refusals_one_attempt_each(daemon_factory):
    r = OrderRig(daemon_factory).start()
    poor = r.intent("KRW-BTC", "bid", "price", funds=50_000_000)
    tiny = r.intent("KRW-BTC", "bid", "price", funds=1000)
    odd = r.intent("KRW-BTC", "bid", "limit", price=1000.5, volume=10)
    want = {poor: "insufficient_funds", tiny: "under_min_total", odd: "invalid_price"}
    for iid, name in want.items():
        st, reason, attempts = r.wait_intent(iid)
        assert st == "refused" and reason.startswith(name) and attempts == 1, (iid, st, reason)
        assert [a[2] for a in r.attempts(iid)] == ["refused"]
    texts = [t for _k, t in r.notifications("order_refused")]
    assert len(texts) == 3 and all("order refused" in t for t in texts), texts
    assert r.sim_orders()["count"] == 0


def test_tradectl_orders_trades_pnl(daemon_factory):
    import json
    r = OrderRig(daemon_factory).start()
    buy = r.intent("KRW-BTC", "bid", "price", funds=20000)
    assert r.wait_intent(buy)[0] == "done"
    vol = r.positions()["KRW-BTC"][0]
    sell = r.intent("KRW-BTC", "ask", "market", volume=vol / E8)
    refused = r.intent("KRW-BTC", "bid", "price", funds=1000)
    assert r.wait_intent(sell)[0] == "done" and r.wait_intent(refused)[0] == "refused"

    def ctl_json(*args):
        res = r.d.ctl("--json", *args)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)
    orders = ctl_json("orders")["orders"]
    assert [o["intent"] for o in orders] == [refused, sell, buy]
    assert orders[2]["funds"] == "20000" and orders[2]["state"] == "done"
    assert orders[0]["state"] == "refused" and "under_min_total" in orders[0]["reason"]
    assert orders[0]["order_uuid"] is None
    assert ctl_json("orders", "--open")["orders"] == []
    trades = ctl_json("trades", "--days", "2")["trades"]
    fills = r.fills()
    assert sorted(t["trade_uuid"] for t in trades) == sorted(f[0] for f in fills)
    assert sum(dec(t["fee"]) for t in trades) == sum(f[7] for f in fills)
    pnl = ctl_json("pnl")
    pos = r.positions()["KRW-BTC"]
    assert len(pnl["days"]) == 1 and dec(pnl["days"][0]["realized"]) == pos[2]
    assert dec(pnl["days"][0]["fees"]) == pos[3] and pnl["period_days"] == 7
    # everything sold: realised = what the sell brought less what the buy cost, fees included
    assert pos[0] == 0 and pos[1] == 0
    text = r.d.ctl("trades").stdout
    assert text.splitlines()[0].split()[:3] == ["market", "side", "price"] and "KRW-BTC" in text
    bad = r.d.ctl("orders", "--days", "0")
    assert bad.returncode == 2 and "--days needs a number of days" in bad.stderr
    assert r.d.ctl("trades", "--open").returncode == 2
