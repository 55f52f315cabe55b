"""The strategy worker against a real simulator on a fast shared clock: the volatility breakout
enters once per market when the price crosses the target inside the Asia/Seoul window, exits
at a per-market stop-loss or at the window's close, obeys the kill switch across a daemon restart, never enters twice after
a restart, pauses itself at the daily loss limit; a plugin of another interface version is
refused."""
import contextlib
import json
import math
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from conftest import ROOT  # noqa: E402
from simutil import Sim, e8, shared_clock, wait_until  # noqa: E402

# 2026-01-05T08:59:00+09:00: a minute before the window opens and the Upbit day begins.
START_MS = 1767571140000
DAY = "2026-01-05"
MARKETS = ["KRW-BTC", "KRW-ETH"]
RATE = 300
PLUGINS = os.path.join(ROOT, os.environ.get("TD_BIN", "bin").replace("bin", "build"),
                       "tests", "plugins")


def rig(daemon_factory, sim, clock, overrides=None):
    cfg = {"mode": "paper", "sim": None,
           "exchange.base_url": "http://127.0.0.1:%d" % sim.port,
           "market_data.markets": MARKETS,
           "market_data.ticker_interval_ms": 200,
           "market_data.stale_after_s": 2 * RATE,
           "market_data.backfill_max_minutes": 60,
           "market_data.candle_grace_ms": 60000,
           "exchange.request_timeout_ms": 1000,
           "strategy.markets": MARKETS,
           "strategy.window_open": "09:00",
           "strategy.window_close": "10:00",
           "strategy.check_interval_s": 60,
           "strategy.order_krw": 100000}
    cfg.update(overrides or {})
    return daemon_factory(cfg, env={"TRADINGD_CLOCK": clock})


@contextlib.contextmanager
def db_of(d, ro=True):
    path = str(d.dir / "data" / "tradingd.db")
    db = sqlite3.connect("file:%s%s" % (path, "?mode=ro" if ro else ""), uri=True, timeout=5)
    try:
        yield db
    finally:
        db.close()


def intents(d, side):
    with db_of(d) as db:
        return db.execute("SELECT i.market, i.ord_type, i.price_e8, i.volume_e8, i.funds_e8,"
                          " s.kind, s.day FROM order_intents i JOIN signals s ON"
                          " s.id = i.signal_id WHERE i.side = ? ORDER BY i.id",
                          (side,)).fetchall()


def targets(d):
    """{market: target_e8} of today's checkpoints, once both markets have one."""
    with db_of(d) as db:
        rows = db.execute("SELECT market, state FROM strategy_state").fetchall()
    got = {}
    for market, state in rows:
        s = json.loads(state)
        if s.get("day") == DAY and s.get("target_e8", 0) > 0:
            got[market] = s["target_e8"]
    return got if set(got) == set(MARKETS) else None


def strategy_details(d):
    res = d.ctl("--json", "status", "strategy")
    if res.returncode != 0:
        return {}
    return json.loads(res.stdout)["workers"][0].get("details") or {}


def push_above(sim, tg):
    """Moves each market's walk 2% above its target (KRW tick 1,000 above 2,000,000)."""
    for m, t in tg.items():
        price = int(math.ceil(t / 1e8 * 1.02 / 1000) * 1000)
        st, _ = sim.admin("POST", "/_sim/price", {"market": m, "price": price})
        assert st == 200, st


def refused_for(d, words):
    det = strategy_details(d).get("markets", {})
    return all(words in det.get(m, {}).get("last_refusal", "") for m in MARKETS)


def test_breakout_day_pause_restart_stop_loss_and_window_close(daemon_factory):
    clock = shared_clock(RATE, START_MS)
    with Sim(["--markets", ",".join(MARKETS)], admin=True, env={"TRADINGD_CLOCK": clock}) as sim:
        # KRW-ETH's entry carries its own parameter: a 5% stop-loss.
        d = rig(daemon_factory, sim, clock, {"strategy.markets": [
            "KRW-BTC", "KRW-ETH:volatility_breakout:stop_loss_pct=5"]}).start()
        # The kill switch first: paused, it survives a restart of the whole daemon.
        d.ctl("pause", check=True)
        assert json.loads(d.ctl("--json", "status").stdout)["paused"] is True
        assert d.stop() == 0
        d.start()
        st = json.loads(d.ctl("--json", "status").stdout)
        assert st["paused"] is True, st
        tg = wait_until(lambda: targets(d), 20)
        assert tg, (strategy_details(d), d.log_text()[-3000:])
        push_above(sim, tg)
        assert wait_until(lambda: refused_for(d, "paused"), 10), strategy_details(d)
        assert intents(d, "bid") == []
        assert json.loads(d.ctl("--json", "status").stdout)["window_open"] is True
        d.ctl("resume", check=True)
        # Exactly one entry per market: a market buy by total for order_krw.
        got = wait_until(lambda: (lambda r: r if len(r) >= 2 else None)(intents(d, "bid")), 10)
        assert got, (strategy_details(d), d.log_text()[-3000:])
        assert sorted(r[0] for r in got) == MARKETS
        for market, ord_type, price, volume, funds, kind, day in got:
            assert (ord_type, price, volume, funds, kind, day) == \
                ("price", None, None, 100000 * 10**8, "entry", DAY), got
        # A restarted strategy carries on: still above the target, it does not enter again.
        checks = strategy_details(d)["counters"]["checks"]
        d.ctl("restart", "strategy", check=True)
        assert wait_until(lambda: strategy_details(d).get("counters", {}).get("checks", 0) >= 2
                          and strategy_details(d)["counters"]["ticks"] > 0, 10), checks
        assert len(intents(d, "bid")) == 2
        # order-execution fills them (paper mode) and books the positions; the window's close
        # then sells each whole position at market, once.
        def positions():
            with db_of(d) as db:
                got = dict(db.execute("SELECT market, volume_e8 FROM positions WHERE"
                                      " volume_e8 > 0").fetchall())
            return got if set(got) == set(MARKETS) else None
        vols = wait_until(positions, 10)
        assert vols, d.log_text()[-3000:]
        pos = json.loads(d.ctl("--json", "positions", check=True).stdout)["positions"]
        assert {p["market"]: e8(p["volume"]) for p in pos} == vols, pos
        # 10% under its entry, KRW-ETH is stopped out at once; KRW-BTC waits for the close.
        with db_of(d) as db:
            cost, vol = db.execute("SELECT cost_e8, volume_e8 FROM positions WHERE market ="
                                   " 'KRW-ETH'").fetchone()
        st, _ = sim.admin("POST", "/_sim/price",
                          {"market": "KRW-ETH", "price": int(cost / vol * 0.9 / 1000) * 1000})
        assert st == 200
        asks = wait_until(lambda: (lambda r: r if len(r) >= 2 else None)(intents(d, "ask")),
                          30)
        assert asks, (strategy_details(d), d.log_text()[-3000:])
        assert [(r[0], r[1], r[3], r[5]) for r in asks] == \
            [("KRW-ETH", "market", vols["KRW-ETH"], "stop"),
             ("KRW-BTC", "market", vols["KRW-BTC"], "exit")], asks
        assert wait_until(lambda: json.loads(d.ctl("--json", "status").stdout)["window_open"]
                          is False, 10)
        time.sleep(0.3)
        assert len(intents(d, "ask")) == 2 and len(intents(d, "bid")) == 2


def test_no_entry_while_order_execution_is_down_nor_past_the_loss_limit(daemon_factory):
    clock = shared_clock(RATE, START_MS)
    with Sim(["--markets", ",".join(MARKETS)], admin=True, env={"TRADINGD_CLOCK": clock}) as sim:
        d = rig(daemon_factory, sim, clock, {"strategy.daily_loss_limit_krw": 10000}).start()
        d.ctl("stop", "order-execution", check=True)
        tg = wait_until(lambda: targets(d), 20)
        assert tg, (strategy_details(d), d.log_text()[-3000:])
        push_above(sim, tg)
        assert wait_until(lambda: refused_for(d, "order-execution or market-data is not"
                                                 " running"), 10), strategy_details(d)
        assert intents(d, "bid") == []
        # A losing fill of today, as order-execution records it: -12,000 KRW realised (its fee
        # in). With order-execution back, the limit pauses trading before any entry.
        with db_of(d, ro=False) as db:
            db.execute("INSERT INTO fills VALUES('t-1', 'o-1', 'KRW-BTC', 'ask', 1, 1, 1,"
                       " ?, ?, ?, ?, ?)", (60 * 10**8, -12000 * 10**8, START_MS + 120000, DAY,
                                           START_MS))
            db.commit()
        d.ctl("start", "order-execution", check=True)
        assert wait_until(lambda: json.loads(d.ctl("--json", "status").stdout)["paused"], 10)
        with db_of(d) as db:
            paused, reason, by = db.execute("SELECT paused, reason, changed_by FROM"
                                            " trading_control").fetchone()
            alerts = db.execute("SELECT severity, text FROM notifications WHERE source ="
                                " 'strategy' AND kind = 'daily_loss_limit'").fetchall()
        assert paused == 1 and by == "strategy" and "-12000" in reason, reason
        assert len(alerts) == 1 and alerts[0][0] == "critical", alerts
        assert wait_until(lambda: refused_for(d, "paused"), 10), strategy_details(d)
        assert intents(d, "bid") == []
        # pause --cancel-open has order-execution cancel its open orders, and says so when
        # order-execution cannot.
        res = d.ctl("pause", "--cancel-open")
        assert res.returncode == 0 and "cancelling every open order" in res.stdout, res
        assert wait_until(lambda: "pause --cancel-open: run" in d.log_text(), 10)
        assert "failed" not in [ln for ln in d.log_text().splitlines()
                                if "pause --cancel-open: run" in ln][0]
        d.ctl("stop", "order-execution", check=True)
        res = d.ctl("pause", "--cancel-open")
        assert res.returncode == 1 and "NOT cancelled" in res.stderr + res.stdout, res


def test_plugin_versions(daemon_factory):
    wrong = os.path.join(PLUGINS, "strategy_wrong_version.so")
    good = os.path.join(PLUGINS, "strategy_good.so")
    assert os.path.exists(wrong) and os.path.exists(good), "make unit builds the plugins"
    d = daemon_factory({"strategy.markets": ["KRW-BTC:" + wrong],
                        "supervisor.crashloop_max_restarts": 1}).start(wait_running=False)
    assert wait_until(lambda: "interface version 42, but this tradingd needs version 1"
                      in d.log_text(), 10), d.log_text()[-3000:]
    assert d.state("strategy") != "RUNNING"
    d2 = daemon_factory({"strategy.markets": ["KRW-ETH:" + good]}).start()
    assert wait_until(lambda: "KRW-ETH: strategy test_plugin (plugin)" in d2.log_text(), 10)
    det = wait_until(lambda: strategy_details(d2).get("markets", {}).get("KRW-ETH"), 10)
    assert det and det["strategy"] == "test_plugin" and det["traded"] is True, det


def test_an_order_recovered_after_a_restore_is_the_days_entry(daemon_factory):
    clock = shared_clock(RATE, START_MS)
    with Sim(["--markets", ",".join(MARKETS)], admin=True, env={"TRADINGD_CLOCK": clock}) as sim:
        # The window opens at 09:40 (8 s after the day's start at this rate): no price of the
        # random walk can be entered before the test has set the scene.
        d = rig(daemon_factory, sim, clock, {"strategy.window_open": "09:40",
                                             "strategy.window_close": "10:30"}).start()
        # A restored backup lacks the signal of this morning's KRW-BTC buy; order-execution's
        # recovery writes the order it finds on the exchange as an intent without a signal.
        at = START_MS + 61000
        with db_of(d, ro=False) as db:
            db.execute("INSERT INTO order_intents(market, side, ord_type, funds_e8, state,"
                       " reason, attempts, created_ms, updated_ms) VALUES('KRW-BTC', 'bid',"
                       " 'price', ?, 'done', 'recovered from the exchange', 1, ?, ?)",
                       (100000 * 10**8, at, at))
            db.commit()
        assert intents(d, "bid") == []
        tg = wait_until(lambda: targets(d), 20)
        assert tg, (strategy_details(d), d.log_text()[-3000:])
        push_above(sim, tg)
        got = wait_until(lambda: intents(d, "bid") or None, 25)
        assert got and [r[0] for r in got] == ["KRW-ETH"], (got, strategy_details(d))
        # Both markets stay above their targets through more checks: KRW-BTC never enters.
        checks = strategy_details(d)["counters"]["checks"]
        assert wait_until(lambda: strategy_details(d)["counters"]["checks"] >= checks + 2, 10)
        assert [r[0] for r in intents(d, "bid")] == ["KRW-ETH"]
