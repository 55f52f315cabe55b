"""Chaos: while intents keep coming, kill -9 order-execution (also at each compiled-in crash
point, re-armed as the run goes), the strategy, and the whole daemon, over 100 times. The
simulator runs outside the daemon, as the exchange does, on a timeline the restarted daemon
resumes (clock.origin). Afterwards every intent is over, placed at most once on the simulator,
every simulator trade is a fill, and the positions equal the simulator's balances."""
import glob
import os
import random
import signal
import sqlite3
import threading
import time

from conftest import pid_alive, wait_for
from orderutil import OrderRig, E8
from simutil import Sim, AK, SK

POINTS = ["picked-up", "after-sending", "after-post", "after-reply", "between-fills"]
RATE = 300
KILLS = 110
START_MS = 1750730400000  # 2025-06-24T02:00:00Z, 11:00 in Seoul


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + \
        ".%03dZ" % (ms % 1000)


class Feeder(threading.Thread):
    """Commits intents as a strategy would: mostly buys, some sells of part of the position."""

    def __init__(self, db_path):
        super().__init__(daemon=True)
        self.db_path, self.stop, self.ids, self.rng = db_path, False, [], random.Random(7)

    def run(self):
        c = sqlite3.connect(self.db_path, timeout=30)
        while not self.stop:
            now = int(time.time() * 1000)
            try:
                held = c.execute("SELECT volume_e8 FROM positions WHERE market = 'KRW-BTC'"
                                 ).fetchone()
                if held and held[0] > 2 * 100000 and self.rng.random() < 0.3:
                    row = ("ask", "market", None, held[0] // 3, None)
                else:
                    funds = self.rng.choice((10_000, 30_000, 15_000_000))  # big: several trades
                    row = ("bid", "price", None, None, funds * E8)
                cur = c.execute("INSERT INTO order_intents(market, side, ord_type, price_e8,"
                                " volume_e8, funds_e8, state, created_ms, updated_ms) VALUES"
                                " ('KRW-BTC', ?, ?, ?, ?, ?, 'pending', ?, ?)", row + (now, now))
                c.commit()
                self.ids.append(cur.lastrowid)
            except sqlite3.OperationalError:
                pass  # busy beyond 30 s would be a finding of its own; the check catches it
            time.sleep(0.15)
        c.close()


def fired(r):
    return r.d.log_text().count("fault injected: crash at ")


def test_chaos_kills_lose_and_double_nothing(daemon_factory):
    anchor = int(time.time() * 1000)
    clock = "%d:%d:%g" % (START_MS, anchor, RATE)
    with Sim(["--markets", "KRW-BTC,KRW-ETH", "--rate", "order=1000", "--rate",
              "default=1000"], accounts=["%s:%s:100000000000" % (AK, SK)],
             env={"TRADINGD_CLOCK": clock}) as sim:
        r = OrderRig(daemon_factory, {
            "clock.start": iso(START_MS), "clock.origin": iso(anchor), "clock.rate": RATE,
            "exchange.base_url": "http://127.0.0.1:%d" % sim.port,
            "sim.accounts": ["%s:%s:100000000000" % (AK, SK)],
            "orders.scan_interval_ms": 100,
            "supervisor.crashloop_max_restarts": 100000,
            "supervisor.backoff_initial_ms": 10, "supervisor.backoff_max_ms": 50,
            "supervisor.backoff_reset_ms": 0,
        }, env={"TRADINGD_FAULT": "order-execution:crash-at:" + ",".join(POINTS)},
            exchange_port=sim.port)
        r.start()
        data = str(r.d.dir / "data")
        feeder = Feeder(r.db_path)
        feeder.start()
        rng = random.Random(11)
        kills = {"order-execution": 0, "strategy": 0, "supervisor": 0}
        t_end = time.time() + 60
        try:
            while sum(kills.values()) + fired(r) < KILLS and time.time() < t_end:
                # the crash points fire once per marker: remove them so they fire again
                if rng.random() < 0.3:
                    for f in glob.glob(os.path.join(data, "crash-at-*.done")):
                        os.unlink(f)
                target = rng.choices(list(kills), weights=(70, 18, 12))[0]
                st = r.d.status()
                if target == "supervisor":
                    os.killpg(r.d.proc.pid, signal.SIGKILL)
                    r.d.proc.wait()
                    r.d.log.close()
                    r.d.start(wait_running=False)
                    wait_for(lambda: r.d.state("order-execution") == "RUNNING", 30,
                             what="order-execution back after a daemon kill")
                elif st and st[target]["pid"] > 0 and pid_alive(st[target]["pid"]):
                    os.kill(st[target]["pid"], signal.SIGKILL)
                else:
                    time.sleep(0.05)
                    continue
                kills[target] += 1
                time.sleep(rng.uniform(0.02, 0.25))
        finally:
            feeder.stop = True
            feeder.join()
        r.d.wait_all_running(30)
        log = r.d.log_text()
        crashed = {p: log.count("fault injected: crash at " + p) for p in POINTS}
        # a crash point is a kill -9 too (SIGKILL raised at that instant)
        assert sum(kills.values()) + sum(crashed.values()) >= 100, (kills, crashed)
        assert all(n > 0 for n in crashed.values()), crashed

        def all_over():
            with r.db() as c:
                return c.execute("SELECT count(*) FROM order_intents WHERE state IN"
                                 " ('pending', 'sending', 'unknown', 'open')").fetchone()[0] == 0
        wait_for(all_over, 60, 0.2, what="every intent over")
        ids = feeder.ids
        assert len(ids) > 50, len(ids)
        by_intent = {}
        for o in r.sim_orders()["orders"]:
            by_intent.setdefault(int(o["identifier"].split("-")[2]), []).append(o)
        with r.db() as c:
            states = dict(c.execute("SELECT id, state FROM order_intents"))
        for iid in ids:
            placed = by_intent.get(iid, [])
            assert len(placed) <= 1, (iid, placed)
            if (states[iid] == "done") != (len(placed) == 1):
                with r.db() as c:
                    info = (c.execute("SELECT * FROM order_intents WHERE id = ?", (iid,)).fetchall(),
                            c.execute("SELECT * FROM order_attempts WHERE intent_id = ?", (iid,)).fetchall(),
                            c.execute("SELECT * FROM orders WHERE intent_id = ?", (iid,)).fetchall())
                open("/tmp/x/log", "w").write(r.d.log_text())
                raise AssertionError((iid, states[iid], placed, info, r.sim_orders()["count"]))
        r.assert_matches_sim()
        print("kills", kills, "crash points", crashed, "intents", len(ids),
              "orders", sum(len(v) for v in by_intent.values()))
