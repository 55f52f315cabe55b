"""Reconciliation against the daemon's simulator: an order placed behind the daemon's back shows
as a balance mismatch (alerted, not corrected); a resting limit order is polled until it fills;
one that outlives orders.limit_timeout_ms is cancelled; an open order survives a restart."""
import json

from conftest import wait_for
from orderutil import OrderRig, E8, dec
from simutil import auth_header


def sim_private_post(r, body):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", r.d.sim_port, timeout=10)
    try:
        h = {"Authorization": auth_header(list(body.items())),
             "Content-Type": "application/json; charset=utf-8"}
        conn.request("POST", "/v1/orders", body=json.dumps(body), headers=h)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_mismatch_is_alerted_not_corrected(daemon_factory):
    r = OrderRig(daemon_factory).start()
    iid = r.intent("KRW-BTC", "bid", "price", funds=10000)
    assert r.wait_intent(iid)[0] == "done"
    before = r.positions()["KRW-BTC"]
    st, body = sim_private_post(r, {"market": "KRW-BTC", "side": "bid", "ord_type": "price",
                                    "price": "20000"})
    assert st == 201, body
    wait_for(lambda: r.notifications("balance_mismatch"), 15, what="a mismatch alert")
    text = r.notifications("balance_mismatch")[0][1]
    assert "BTC: positions " in text and "exchange " in text, text
    assert r.positions()["KRW-BTC"] == before  # never papered over
    with r.db() as c:
        bal = c.execute("SELECT balance_e8 FROM balances WHERE currency = 'BTC'").fetchone()[0]
    assert bal == dec(r.sim_balances()["BTC"]["balance"])
    # alerted once while it lasts, and again at start (before READY, nudged after it)
    n = len(r.notifications("balance_mismatch"))
    wait_for(lambda: (r.d.status()["order-execution"].get("details") or {}).get(
        "orders", {}).get("balance_mismatch") is True, 10, what="the mismatch in status")
    r.d.ctl("restart", "order-execution", check=True)
    r.d.wait_state("order-execution", "RUNNING")
    wait_for(lambda: len(r.notifications("balance_mismatch")) == n + 1, 15,
             what="the mismatch alerted again after the restart")
    assert "protocol violation" not in r.d.log_text()


def test_limit_polled_until_filled_and_timeout_cancels(daemon_factory):
    # 60x: the simulator's trades come often enough to reach a resting order at once; the
    # timeout is 5 minutes of daemon time, 5 s of real time.
    r = OrderRig(daemon_factory, {"orders.limit_timeout_ms": 300000,
                                  "clock.start": "2026-06-24T03:00:00Z",
                                  "clock.rate": 60}).start()
    px = r.sim_admin("GET", "/v1/ticker?markets=KRW-ETH")[1][0]["trade_price"]
    far = r.intent("KRW-BTC", "bid", "limit", price=1_000_000, volume=0.01)
    rest = r.intent("KRW-ETH", "bid", "limit", price=round(px * 0.9, -3), volume=0.01)
    wait_for(lambda: r.intent_row(rest)[0] == "open", 15, what="a resting order")
    # an open order survives a restart of order-execution: found open, polled on
    r.d.ctl("restart", "order-execution", check=True)
    assert r.sim_admin("POST", "/_sim/price", {"market": "KRW-ETH",
                                               "price": px * 0.8})[0] == 200
    st = r.wait_intent(rest)
    assert st[:2] == ("done", "filled"), (st, open("/tmp/x/log", "w").write(r.d.log_text()))
    st = r.wait_intent(far, timeout=30)
    assert st[:2] == ("done", "cancelled with nothing filled"), st
    sim = {o["identifier"]: o for o in r.sim_orders()["orders"]}
    assert [o["state"] for i, o in sim.items() if i.split("-")[2] == str(far)] == ["cancel"]
    assert len(r.sim_orders_of(rest)) == 1
    r.assert_matches_sim()
    eth = r.positions()["KRW-ETH"]
    assert eth[0] == int(0.01 * E8)


def test_ready_at_the_deadline_when_the_exchange_hangs(daemon_factory):
    from simutil import Sim, AK, SK
    with Sim(["--markets", "KRW-BTC,KRW-ETH"], admin=True,
             accounts=["%s:%s:10000000" % (AK, SK)]) as sim:
        r = OrderRig(daemon_factory, {"exchange.base_url": "http://127.0.0.1:%d" % sim.port,
                                      "supervisor.ready_timeout_ms": 2000,
                                      "exchange.request_timeout_ms": 800},
                     exchange_port=sim.admin_port).start()
        st, _ = sim.admin("POST", "/_sim/faults", {"action": "hang", "phase": "after",
                                                    "path_prefix": "/v1/order"})
        assert st == 201
        iid = r.intent("KRW-BTC", "bid", "price", funds=10000)
        wait_for(lambda: r.intent_row(iid)[0] == "unknown", 15, what="an unknown outcome")
        old = r.d.status()["order-execution"]["pid"]
        r.d.ctl("restart", "order-execution", check=True)
        w = r.d.status()["order-execution"]
        assert w["state"] == "RUNNING" and w["pid"] != old and w["restarts"] == 0, w
        assert "start-up reconcile still running after 1000 ms: READY" in r.d.log_text()
        assert r.intent_row(iid)[0] == "unknown"
        assert sim.admin("DELETE", "/_sim/faults")[0] == 200
        assert r.wait_intent(iid, timeout=30)[0] == "done"
        assert len(r.sim_orders_of(iid)) == 1
        r.assert_matches_sim()


def test_pause_cancel_open_cancels_resting_orders(daemon_factory):
    r = OrderRig(daemon_factory).start()
    low = [r.intent("KRW-BTC", "bid", "limit", price=1_000_000, volume=0.01),
           r.intent("KRW-ETH", "bid", "limit", price=100_000, volume=0.1)]
    for iid in low:
        wait_for(lambda: r.intent_row(iid)[0] == "open", 15, what="resting orders")
    res = r.d.ctl("pause", "--cancel-open")
    assert res.returncode == 0, res.stderr
    for iid in low:
        st = r.wait_intent(iid)
        assert st[:2] == ("done", "cancelled with nothing filled"), st
        assert [o["state"] for o in r.sim_orders_of(iid)] == ["cancel"]
    wait_for(lambda: "2 orders cancelled" in r.d.log_text(), 10, what="the job's result")
    r.assert_matches_sim()
