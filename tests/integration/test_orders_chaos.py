"""Chaos: during a simulated trading day at 1500x (the strategy's breakout entries at 09:00 KST,
its exits at the 23:00 close, and more intents committed by the test as a busier strategy
would), kill -9 order-execution (also at each compiled-in crash point, re-armed as the run
goes), the strategy, and the whole daemon, over 100 times. The simulator runs outside the
daemon, as the exchange does, on a timeline the restarted daemon resumes (clock.origin).
Afterwards every intent is over, placed at most once on the simulator, every simulator trade is
a fill, the positions equal the simulator's balances, and the strategy entered each market at
most once."""
import json
import math
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
RATE = 1500  # the 14 hours of the window in about 34 s
KILLS = 110
START_MS = 1767571140000  # 2026-01-04T23:59:00Z, 08:59 in Seoul
MARKETS = ["KRW-BTC", "KRW-ETH"]
CLOSE_MS = START_MS + 14 * 3600000 + 60000  # 23:00 in Seoul


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
                held = c.execute("SELECT volume_e8 FROM positions WHERE market = 'KRW-ETH'"
                                 ).fetchone()
                if held and held[0] > 2 * 100000 and self.rng.random() < 0.3:
                    row = ("ask", "market", None, held[0] // 3, None)
                else:
                    funds = self.rng.choice((10_000, 30_000, 3_000_000))  # big: several trades
                    row = ("bid", "price", None, None, funds * E8)
                cur = c.execute("INSERT INTO order_intents(market, side, ord_type, price_e8,"
                                " volume_e8, funds_e8, state, created_ms, updated_ms) VALUES"
                                " ('KRW-ETH', ?, ?, ?, ?, ?, 'pending', ?, ?)", row + (now, now))
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
              "default=1000"], accounts=["%s:%s:10000000000" % (AK, SK)],
             env={"TRADINGD_CLOCK": clock}) as sim:
        r = OrderRig(daemon_factory, {
            "clock.start": iso(START_MS), "clock.origin": iso(anchor), "clock.rate": RATE,
            "exchange.base_url": "http://127.0.0.1:%d" % sim.port,
            "sim.accounts": ["%s:%s:10000000000" % (AK, SK)],
            "orders.scan_interval_ms": 100,
            "market_data.markets": MARKETS,
            "market_data.stale_after_s": 3 * RATE,
            "market_data.backfill_max_minutes": 30,
            "market_data.candle_grace_ms": 60000,
            "strategy.markets": MARKETS,
            "strategy.check_interval_s": 120,
            "strategy.order_krw": 100000,
            "supervisor.crashloop_max_restarts": 100000,
            "supervisor.backoff_initial_ms": 10, "supervisor.backoff_max_ms": 50,
            "supervisor.backoff_reset_ms": 0,
        }, env={"TRADINGD_FAULT": "order-execution:crash-at:" + ",".join(POINTS)},
            exchange_port=sim.port)
        r.start()
        data = str(r.d.dir / "data")

        # Today's targets, then a price above them: the breakout the strategy enters on.
        def targets():
            with r.db() as c:
                got = {m: json.loads(st).get("target_e8", 0) for m, st in
                       c.execute("SELECT market, state FROM strategy_state")}
            return got if all(got.get(m, 0) > 0 for m in MARKETS) else None
        for m, t in wait_for(targets, 20, 0.02, what="today's targets").items():
            price = int(math.ceil(t / 1e8 * 1.02 / 1000) * 1000)
            assert sim.admin("POST", "/_sim/price", {"market": m, "price": price})[0] == 200
        feeder = Feeder(r.db_path)
        feeder.start()
        rng = random.Random(11)
        kills = {"order-execution": 0, "strategy": 0, "supervisor": 0}
        # A bound for a slow machine (ASan, tests in parallel); a fast one is done sooner.
        t_end = time.time() + 120
        try:
            # until 100+ kills and past the window's close (23:00 KST, 14 h after 09:00)
            close_real = anchor / 1000 + (CLOSE_MS + 5 * 60000 - START_MS) / 1000 / RATE
            while (sum(kills.values()) + fired(r) < KILLS or time.time() < close_real) and \
                    time.time() < t_end:
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
        assert len(feeder.ids) > 50, len(feeder.ids)
        with r.db() as c:
            ids = [i for (i,) in c.execute("SELECT id FROM order_intents")]
            entries = c.execute("SELECT market, day, count(*) FROM signals WHERE kind = 'entry'"
                                " GROUP BY market, day").fetchall()
            ours = c.execute("SELECT count(*) FROM order_intents WHERE signal_id IS NOT NULL"
                             ).fetchone()[0]
            exits = {m for (m,) in c.execute("SELECT market FROM signals WHERE kind = 'exit'")}
            strat = c.execute("SELECT i.id, i.market, i.side, i.state, i.reason, s.kind, s.day"
                              " FROM order_intents i JOIN signals s ON s.id = i.signal_id"
                              ).fetchall()
        assert entries and all(n == 1 for _m, _d, n in entries), entries
        # Each market entered was sold at the close (a market may see no entry: the strategy
        # enters no market while order-execution is down, and here it is down often; and it
        # flattens at the close what the test's own intents bought too).
        assert {m for m, _d, _n in entries} <= exits, (exits, entries, strat, r.positions())
        assert ours >= len(MARKETS), ours
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
