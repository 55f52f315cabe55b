"""Another process holds the database's write lock for longer than the heartbeat timeout while
market-data is storing candles and raising alerts: no worker is taken for hung (each wait for
the lock is a fifth of the timeout, and the loop answers heartbeats between two waits), and
every write that met the lock lands once it is released: the candles of the minutes that
closed meanwhile and the alerts, with the time they were raised."""
import json
import os
import re
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import binary  # noqa: E402
from simutil import (MINUTE_MS, MarketDataRig, Sim, shared_clock, sim_candles,  # noqa: E402
                     wait_until)

RATE = 60  # a simulated minute per real second
HOLD_S = 5.0  # conftest's heartbeat_timeout_ms is 1500


def all_workers(daemon):
    res = daemon.ctl("--json", "status")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["workers"]


def test_write_lock_held_past_the_heartbeat_timeout(daemon_factory):
    clock = shared_clock(RATE)
    with Sim(["--markets", "KRW-BTC,KRW-ETH"], admin=True, env={"TRADINGD_CLOCK": clock}) as sim:
        rig = MarketDataRig(daemon_factory, [sim], clock).start()
        rig.wait_synced_now(20)
        assert wait_until(rig.all_fresh, 10, 0.05), rig.stale_flags()
        busy_before = rig.details()["counters"]["candle_store_busy"]
        assert busy_before == 0

        # Prices stop, so that both markets go stale (an alert each) while the lock is held.
        st, _ = sim.admin("POST", "/_sim/faults",
                          {"action": "status", "status": 503, "path_prefix": "/v1/ticker"})
        assert st == 201
        lock = sqlite3.connect(rig.db_path, timeout=10, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        lock.execute("INSERT INTO config_versions(applied_ms, path, text) "
                     "VALUES(0, 'test', 'holding the write lock')")
        locked_ms = rig.now_ms()
        time.sleep(HOLD_S)

        # Still locked: market-data met the lock, kept its alerts, and answers its status.
        d = rig.details()
        assert d["counters"]["candle_store_busy"] > 0, d["counters"]
        assert d["outbox"]["waiting"] >= 1, d["outbox"]
        assert rig.all_stale(), rig.stale_flags()
        assert rig.notifications({"market_data_stale"}) == []
        release_ms = rig.now_ms()
        lock.execute("ROLLBACK")
        lock.close()

        # The alerts land, with the time they were raised, and reach the notifier.
        assert wait_until(lambda: len(rig.notifications({"market_data_stale"})) == 2, 10), \
            rig.daemon.log_text()[-3000:]
        with rig.db() as db:
            stale = db.execute("SELECT id, created_ms, text FROM notifications WHERE kind ="
                               " 'market_data_stale' ORDER BY id").fetchall()
        assert sorted(re.search(r"KRW-\w+", t).group() for _, _, t in stale) == \
            sorted(rig.markets)
        for _, created, _ in stale:
            assert locked_ms <= created <= release_ms, (locked_ms, created, release_ms)
        assert wait_until(lambda: all("alert #%d [warning] from market-data" % i in
                                      rig.daemon.log_text() for i, _, _ in stale), 10), \
            rig.daemon.log_text()[-3000:]
        # Status details are refreshed with the heartbeat: they may lag a moment behind.
        assert wait_until(lambda: rig.details()["outbox"]["waiting"] == 0, 5), rig.details()
        ob = rig.details()["outbox"]
        assert ob["deferred"] >= 2 and ob["lost"] == 0, ob

        # The minutes that closed during the lock are stored after it, and nothing is missing.
        sim.admin("DELETE", "/_sim/faults")
        rig.wait_synced_now(20)
        first = locked_ms // MINUTE_MS * MINUTE_MS + MINUTE_MS
        waited = 0
        with rig.db() as db:
            for m in rig.markets:
                want = [t for t in sim_candles(sim, m, 1) if first <= t < release_ms - MINUTE_MS]
                rows = dict(db.execute("SELECT start_ms, stored_ms FROM candles WHERE"
                                       " market = ? AND unit = 1 AND start_ms >= ? AND"
                                       " start_ms < ?", (m, first, release_ms - MINUTE_MS)))
                assert sorted(rows) == sorted(want), (m, rows, want)
                assert all(stored >= release_ms for stored in rows.values()), \
                    (m, release_ms, rows)
                waited += len(rows)
        assert waited >= 2, "too few minutes closed during the lock to tell"
        rig.assert_candles_match(sim)

        # Nobody was taken for hung.
        log = rig.daemon.log_text()
        assert "stopped answering heartbeats" not in log and "hung" not in log, log[-3000:]
        assert "database is locked" in log
        for w in all_workers(rig.daemon):
            assert w["state"] == "RUNNING" and w["restarts"] == 0 and w["last_exit"] is None, \
                (w["name"], w["last_exit"], [line for line in log.splitlines()
                                             if w["name"] in line][-15:])
        rig.assert_survived()
        rig.daemon.stop()


def hold_write_lock(d):
    db = sqlite3.connect(str(d.dir / "data" / "tradingd.db"), timeout=10, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    return db


def test_an_operator_command_waits_out_a_short_lock_and_says_so_of_a_long_one(daemon_factory):
    d = daemon_factory().start()
    # The kill switch while a worker holds the lock for a second: it lands once the lock goes.
    lock = hold_write_lock(d)
    t0 = time.monotonic()
    pause = subprocess.Popen([binary("tradectl"), "-s", d.socket, "pause"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    assert pause.poll() is None, pause.communicate()
    lock.execute("ROLLBACK")
    lock.close()
    out, err = pause.communicate(timeout=10)
    assert pause.returncode == 0 and "trading paused" in out, (out, err)
    assert time.monotonic() - t0 >= 1.0
    with sqlite3.connect(f"file:{d.dir}/data/tradingd.db?mode=ro", uri=True) as db:
        assert db.execute("SELECT paused FROM trading_control").fetchone() == (1,)
    # Held past the supervisor's budget of 5 s: refused, saying why, and nothing changed.
    lock = hold_write_lock(d)
    try:
        res = d.ctl("resume")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert res.returncode != 0 and "database is locked (tried for 5000 ms" in res.stderr, res
    with sqlite3.connect(f"file:{d.dir}/data/tradingd.db?mode=ro", uri=True) as db:
        assert db.execute("SELECT paused FROM trading_control").fetchone() == (1,)
    # A read-only command is never held up by a writer (WAL).
    lock = hold_write_lock(d)
    try:
        assert d.ctl("--json", "positions").returncode == 0
    finally:
        lock.execute("ROLLBACK")
        lock.close()
