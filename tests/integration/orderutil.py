"""Helpers for the order-execution tests: a sim-mode tradingd whose intents the test writes
into the database itself (the strategy is not what is tested), and checks against the
simulator's own order list and balances."""
import json
import os
import sqlite3
import time

from conftest import wait_for
from simutil import Sim  # noqa: F401  (re-exported for the tests)

E8 = 100000000
ORDER_CFG = {
    "orders.scan_interval_ms": 200,
    "orders.balance_interval_ms": 500,
    "exchange.request_timeout_ms": 1500,
    "exchange.connect_timeout_ms": 500,
    "market_data.markets": ["KRW-BTC", "KRW-ETH"],
}


class OrderRig:
    def __init__(self, daemon_factory, overrides=None, env=None, exchange_port=None):
        """exchange_port: a simulator outside the daemon that the checks ask instead of the
        daemon's own."""
        self.exchange_port = exchange_port
        cfg = dict(ORDER_CFG)
        cfg.update(overrides or {})
        self.d = daemon_factory(cfg, env=env)
        self.db_path = str(self.d.dir / "data" / "tradingd.db")

    def start(self, **kw):
        self.d.start(**kw)
        return self

    def db(self):
        c = sqlite3.connect(self.db_path, timeout=10)
        c.execute("PRAGMA busy_timeout=10000")
        return c

    def intent(self, market, side, ord_type, price=None, volume=None, funds=None):
        """Commits a pending intent as the strategy would; amounts in KRW/coins (exact)."""
        def e8(x):
            return None if x is None else int(round(x * E8))
        now = int(time.time() * 1000)
        with self.db() as c:
            cur = c.execute("INSERT INTO order_intents(market, side, ord_type, price_e8,"
                            " volume_e8, funds_e8, state, created_ms, updated_ms)"
                            " VALUES(?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                            (market, side, ord_type, e8(price), e8(volume), e8(funds), now,
                             now))
            return cur.lastrowid

    def intent_row(self, iid):
        with self.db() as c:
            return c.execute("SELECT state, reason, attempts FROM order_intents WHERE id = ?",
                             (iid,)).fetchone()

    def wait_intent(self, iid, states=("done", "refused", "failed"), timeout=20):
        def over():
            r = self.intent_row(iid)
            return r if r and r[0] in states else None
        try:
            return wait_for(over, timeout, 0.05, what="intent %d over" % iid)
        except AssertionError:
            raise AssertionError("intent %d: %r\n%s" % (iid, self.intent_row(iid),
                                                        self.d.log_text()[-4000:])) from None

    def attempts(self, iid):
        with self.db() as c:
            return c.execute("SELECT attempt, identifier, state, error FROM order_attempts"
                             " WHERE intent_id = ? ORDER BY attempt", (iid,)).fetchall()

    def sim_admin(self, method, path, body=None):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.exchange_port or self.d.sim_port,
                                          timeout=10)
        try:
            h = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers=h)
            r = conn.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data else None)
        finally:
            conn.close()

    def fault(self, rule):
        st, body = self.sim_admin("POST", "/_sim/faults", rule)
        assert st == 201, body

    def sim_orders(self):
        st, body = self.sim_admin("GET", "/_sim/orders")
        assert st == 200, body
        return body

    def sim_orders_of(self, iid):
        """The simulator's orders whose identifier belongs to intent iid."""
        return [o for o in self.sim_orders()["orders"]
                if o.get("identifier") and o["identifier"].split("-")[2] == str(iid)]

    def sim_balances(self):
        st, body = self.sim_admin("GET", "/_sim/accounts")
        assert st == 200, body
        acc = body["accounts"][0]["assets"]
        return {a["currency"]: a for a in acc}

    def positions(self):
        with self.db() as c:
            return {m: (v, cost, real, fees) for m, v, cost, real, fees in c.execute(
                "SELECT market, volume_e8, cost_e8, realized_e8, fees_e8 FROM positions")}

    def fills(self):
        with self.db() as c:
            return c.execute("SELECT trade_uuid, order_uuid, market, side, price_e8, volume_e8,"
                             " funds_e8, fee_e8 FROM fills ORDER BY trade_ms").fetchall()

    def notifications(self, kind=None):
        with self.db() as c:
            rows = c.execute("SELECT kind, text FROM notifications WHERE source ="
                             " 'order-execution' ORDER BY id").fetchall()
        return [r for r in rows if kind is None or r[0] == kind]

    def assert_matches_sim(self):
        """Every sim trade is a fill, nothing more; positions equal the sim's balances."""
        sim = self.sim_orders()["orders"]
        trades = {t["uuid"]: (o, t) for o in sim for t in o.get("trades", [])}
        fills = {f[0]: f for f in self.fills()}
        assert set(trades) == set(fills), (sorted(set(trades) ^ set(fills)),
                                           self.d.log_text()[-3000:])
        for u, (o, t) in trades.items():
            f = fills[u]
            assert f[1] == o["uuid"] and f[4] == dec(t["price"]) and \
                f[5] == dec(t["volume"]) and f[6] == dec(t["funds"]), (f, t)
        for o in sim:
            fees = sum(fills[t["uuid"]][7] for t in o.get("trades", []))
            assert fees == dec(o["paid_fee"]), (o, fees)
        bal = self.sim_balances()
        for m, (vol, *_rest) in self.positions().items():
            cur = m.split("-")[1]
            have = dec(bal[cur]["balance"]) + dec(bal[cur]["locked"]) if cur in bal else 0
            assert vol == have, (m, vol, bal.get(cur))


def dec(s):
    """An exact decimal string as integer units of 1e-8."""
    s = str(s)
    neg = s.startswith("-")
    s = s.lstrip("-")
    whole, _, frac = s.partition(".")
    frac = (frac + "0" * 8)[:8]
    v = int(whole or "0") * E8 + int(frac)
    return -v if neg else v


def env_crash(point):
    return {"TRADINGD_FAULT": "order-execution:crash-at:" + point}


def pid_of(d, name):
    return d.status()[name]["pid"]


os.environ.setdefault("TD_ORDERS", "1")
