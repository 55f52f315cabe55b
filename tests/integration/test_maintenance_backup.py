"""Maintenance on the real daemon and a real SQLite file: an online backup while the test keeps
committing orders (the copy passes integrity_check and holds every order committed before its
snapshot), a restore round trip, a backup onto a full tmpfs, rotation, and a prune that never
touches orders."""
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import wait_for  # noqa: E402

import pytest  # noqa: E402

DAY_MS = 86400 * 1000


def db_path(d):
    return str(d.dir / "data" / "tradingd.db")


def connect(d):
    db = sqlite3.connect(db_path(d), timeout=10, isolation_level=None)
    db.execute("PRAGMA busy_timeout=10000")
    return db


def insert_order(db, n, created_ms=None):
    now = created_ms if created_ms is not None else int(time.time() * 1000)
    db.execute("BEGIN IMMEDIATE")
    cur = db.execute(
        "INSERT INTO order_intents(market, side, ord_type, price_e8, volume_e8, state,"
        " created_ms, updated_ms) VALUES('KRW-BTC', 'bid', 'limit', 100000000, 1000, 'done',"
        " ?, ?)", (now, now))
    db.execute(
        "INSERT INTO orders(uuid, intent_id, identifier, market, side, ord_type, price_e8,"
        " volume_e8, state, created_ms, updated_ms) VALUES(?, ?, ?, 'KRW-BTC', 'bid', 'limit',"
        " 100000000, 1000, 'done', ?, ?)", (f"order-{n}", cur.lastrowid, f"id-{n}", now, now))
    db.execute("COMMIT")


def fill_candles(db, n, start_ms=0):
    """n minute candles from start_ms: pages for the backup to copy step by step."""
    db.execute("BEGIN")
    db.executemany(
        "INSERT OR REPLACE INTO candles VALUES('KRW-XRP', 1, ?, 1, 1, 1, 1, 1, 1, ?, ?)",
        [(start_ms + i * 60000, start_ms + i * 60000, start_ms) for i in range(n)])
    db.execute("COMMIT")


def backup(d):
    res = d.ctl("--json", "backup")
    return res, json.loads(res.stdout) if res.stdout.strip() else None


def backup_rows(d):
    res = d.ctl("--json", "backups", check=True)
    return json.loads(res.stdout)["backups"]


def test_backup_while_writers_commit(daemon_factory):
    d = daemon_factory({"maintenance.backup_pages_per_step": 2}).start()
    db = connect(d)
    fill_candles(db, 3000)
    committed = []
    stop = threading.Event()

    def writer():
        w = connect(d)
        n = 0
        while not stop.is_set():
            insert_order(w, n)
            committed.append(n)
            n += 1
        w.close()

    t = threading.Thread(target=writer)
    t.start()
    try:
        wait_for(lambda: len(committed) > 20, 10, what="the writer running")
        before = len(committed)
        res, reply = backup(d)
        after = len(committed)
    finally:
        stop.set()
        t.join()
    assert res.returncode == 0, (res.stdout, res.stderr, d.log_text()[-2000:])
    assert reply["results"][0]["result"] == "ok", reply
    # The writer went on committing while the copy was made: the backup never held it up.
    assert after > before, (before, after)
    rows = backup_rows(d)
    assert len(rows) == 1 and rows[0]["verified"], (rows, d.log_text()[-3000:])
    copy = sqlite3.connect(f"file:{rows[0]['file']}?mode=ro", uri=True)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    got = {r[0] for r in copy.execute("SELECT uuid FROM orders")}
    assert len(got) == rows[0]["orders"] == copy.execute(
        "SELECT count(*) FROM order_intents").fetchone()[0]
    # Every order committed before the backup began is there, and the copy is a prefix of
    # the commits: nothing after its snapshot, no hole before it.
    top = max(int(u.split("-")[1]) for u in got)
    assert top + 1 >= before
    assert got == {f"order-{i}" for i in range(top + 1)}
    assert copy.execute("SELECT count(*) FROM candles WHERE market = 'KRW-XRP'"
                        ).fetchone()[0] == 3000
    copy.close()
    assert os.stat(rows[0]["file"]).st_size == rows[0]["size"]
    # Nothing but the backup itself in the directory: no temporary left.
    assert os.listdir(os.path.dirname(rows[0]["file"])) == [os.path.basename(rows[0]["file"])]
    db.close()


def test_restore_round_trip_and_refusals(daemon_factory):
    d = daemon_factory().start()
    db = connect(d)
    insert_order(db, 1)
    db.close()
    res, reply = backup(d)
    assert res.returncode == 0, (res.stdout, res.stderr)
    path = backup_rows(d)[0]["file"]
    db = connect(d)
    insert_order(db, 2)
    db.close()

    # A foreign file, an unrecorded copy and a changed file are refused; nothing is stopped.
    foreign = d.dir / "foreign.db"
    sqlite3.connect(str(foreign)).execute("CREATE TABLE t(x)").connection.commit()
    res = d.ctl("restore", str(foreign))
    assert res.returncode == 1 and "not one of our backups" in res.stderr, res.stderr
    copy = d.dir / "copy.db"
    copy.write_bytes(open(path, "rb").read())
    res = d.ctl("restore", str(copy))
    assert res.returncode == 1 and "not one of our backups" in res.stderr, res.stderr
    res = d.ctl("restore", str(d.dir / "missing.db"))
    assert res.returncode == 1 and "no such file" in res.stderr, res.stderr
    assert all(w["state"] == "RUNNING" for w in d.status().values())

    pids = {n: w["pid"] for n, w in d.status().items()}
    res = d.ctl("restore", path)
    assert res.returncode == 0, (res.stdout, res.stderr, d.log_text()[-3000:])
    assert "kept as" in res.stdout
    st = d.wait_all_running(20)
    # The workers were stopped and started again (the simulator, the exchange, was not).
    for name in ("maintenance", "order-execution", "strategy", "notifier", "market-data"):
        assert st[name]["pid"] != pids[name], name
    assert st["upbit-sim"]["pid"] == pids["upbit-sim"]
    db = connect(d)
    uuids = {r[0] for r in db.execute("SELECT uuid FROM orders")}
    assert uuids == {"order-1"}, uuids
    # The restore is on record, and the backups list survived it.
    assert db.execute("SELECT count(*) FROM notifications WHERE kind = 'restore'").fetchone()[0]
    assert db.execute("SELECT count(*) FROM backups WHERE file = ?", (path,)).fetchone()[0] == 1
    db.close()
    aside = [f for f in os.listdir(d.dir / "data") if ".before-restore-" in f]
    assert len(aside) == 1, os.listdir(d.dir / "data")
    old = sqlite3.connect(str(d.dir / "data" / aside[0]))
    assert {r[0] for r in old.execute("SELECT uuid FROM orders")} == {"order-1", "order-2"}
    old.close()


def test_backup_onto_a_full_filesystem_fails_cleanly(daemon_factory):
    d = daemon_factory()
    target = d.dir / "small"
    target.mkdir()
    d.config["maintenance"] = {"backup_dir": str(target)}
    d.config_path.write_text(json.dumps(d.config))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0777", "tmpfs",
                              str(target)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        d.start()
        db = connect(d)
        fill_candles(db, 8000)  # well over 256 KB
        db.close()
        res, reply = backup(d)
        assert res.returncode == 1, (res.stdout, res.stderr)
        assert reply["results"][0]["result"] == "transient"
        assert "full" in reply["results"][0]["message"], reply
        assert os.listdir(target) == [], os.listdir(target)
        db = connect(d)
        row = db.execute("SELECT verified, error FROM backups").fetchone()
        assert row[0] == 0 and "full" in row[1], row
        alert = db.execute("SELECT severity, text FROM notifications WHERE kind ="
                           " 'backup_failed'").fetchone()
        assert alert and alert[0] == "critical", alert
        # The daemon goes on, and the database is whole.
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        insert_order(db, 7)
        db.close()
        assert all(w["state"] == "RUNNING" for w in d.status().values())
        assert backup_rows(d)[0]["verified"] is False
        d.stop()
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def ms(text):
    import datetime
    return int(datetime.datetime.fromisoformat(text).timestamp() * 1000)


def test_rotation_keeps_exactly_the_daily_and_weekly(daemon_factory):
    d = daemon_factory({"clock": {"start": "2026-01-07T12:00:00+00:00", "rate": 1},
                        "maintenance.keep_daily": 3, "maintenance.keep_weekly": 2})
    # A second directory (another disk in production), writable by the daemon's user.
    second = d.dir / "second"
    second.mkdir()
    os.chown(second, 65534, 65534)
    d.config["maintenance"]["copy_dir"] = str(second)
    d.config_path.write_text(json.dumps(d.config))
    d.start()
    bdir = d.dir / "data" / "backups"
    old = {
        "A": "2026-01-06T10:00:00+00:00",  # Tue: the newest of its day
        "B": "2026-01-06T08:00:00+00:00",  # Tue, earlier: not the day's newest
        "C": "2026-01-05T10:00:00+00:00",  # Mon: third day
        "D": "2026-01-04T10:00:00+00:00",  # Sun: newest of the week before
        "E": "2026-01-03T10:00:00+00:00",  # Sat, same week as D
        "F": "2025-12-28T10:00:00+00:00",  # a third week: beyond keep_weekly
        "G": "2025-12-17T10:00:00+00:00",
    }
    db = connect(d)
    for name, when in old.items():
        f = bdir / f"old-{name}.db"
        f.write_bytes(b"x")
        db.execute("INSERT INTO backups(file, size, created_ms, verified) VALUES(?, 1, ?, 1)",
                   (str(f), ms(when)))
    db.close()
    res, reply = backup(d)
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert "4 old removed" in reply["results"][0]["message"], reply
    kept = sorted(os.listdir(bdir))
    assert [k for k in kept if k.startswith("old-")] == ["old-A.db", "old-C.db", "old-D.db"]
    assert len(kept) == 4 and any(k.startswith("tradingd-20260107T12") for k in kept), kept
    rows = backup_rows(d)
    assert len(rows) == 4
    # The new backup was copied to the second directory and checked there.
    new = [r for r in rows if "tradingd-2026" in r["file"]][0]
    assert new["copy_file"] == str(second / os.path.basename(new["file"])) and not new["error"]
    assert os.listdir(second) == [os.path.basename(new["file"])]
    assert open(new["copy_file"], "rb").read() == open(new["file"], "rb").read()


def test_cleanup_prunes_but_never_orders(daemon_factory):
    d = daemon_factory({"clock": {"start": "2026-03-01T00:00:30+00:00", "rate": 1},
                        "maintenance.candle_retention_days": 10,
                        "maintenance.notification_retention_days": 5,
                        "maintenance.prune_batch": 50}).start()
    now = ms("2026-03-01T00:00:00+00:00")
    db = connect(d)
    fill_candles(db, 500, start_ms=now - 20 * DAY_MS)  # old
    fill_candles(db, 100, start_ms=now - DAY_MS)  # recent
    for i in range(30):
        insert_order(db, i, created_ms=now - 400 * DAY_MS)
    db.execute("INSERT INTO notifications(created_ms, severity, source, kind, text,"
               " delivered_ms) VALUES(?, 'info', 't', 'old_delivered', 'x', ?)",
               (now - 30 * DAY_MS, now - 30 * DAY_MS))
    db.execute("INSERT INTO notifications(created_ms, severity, source, kind, text)"
               " VALUES(?, 'info', 't', 'old_undelivered', 'x')", (now - 30 * DAY_MS,))
    versions = db.execute("SELECT count(*) FROM config_versions").fetchone()[0]
    # The monitor's samples of the day before: strategy's restart counter went from 2 to 5.
    for at, restarts in ((now - DAY_MS + 1000, 2), (now - 1000, 5), (now + 1000, 9)):
        db.execute("INSERT INTO metric_samples(sampled_ms, name, pid, state, cpu_pct, rss_kb,"
                   " fds, restarts) VALUES(?, 'strategy', 1, 'RUNNING', 0, 0, 0, ?)",
                   (at, restarts))
    db.close()
    res = d.ctl("cleanup")
    assert res.returncode == 0, (res.stdout, res.stderr, d.log_text()[-2000:])
    for step in ("backup", "prune", "checkpoint", "daily_summary"):
        assert step in res.stdout
    db = connect(d)
    assert db.execute("SELECT count(*) FROM candles WHERE market = 'KRW-XRP'").fetchone()[0] == 100
    assert db.execute("SELECT count(*) FROM orders").fetchone()[0] == 30
    assert db.execute("SELECT count(*) FROM order_intents").fetchone()[0] == 30
    assert db.execute("SELECT count(*) FROM config_versions").fetchone()[0] == versions
    kinds = {r[0] for r in db.execute("SELECT kind FROM notifications")}
    assert "old_delivered" not in kinds and "old_undelivered" in kinds, kinds
    summary = db.execute("SELECT text FROM notifications WHERE kind = 'daily_summary'"
                         ).fetchone()
    assert summary and "2026-02-28" in summary[0] and "trades" in summary[0], summary
    assert "3 worker restarts" in summary[0], summary
    db.close()


def test_damaged_database_is_not_traded_on_until_restored(daemon_factory):
    d = daemon_factory().start()
    db = connect(d)
    fill_candles(db, 4000)
    db.close()
    res, _ = backup(d)
    assert res.returncode == 0, res.stderr
    path = backup_rows(d)[0]["file"]
    assert d.stop() == 0
    # The last page holds candles: its b-tree page type becomes nonsense.
    size = os.path.getsize(db_path(d))
    page = sqlite3.connect(db_path(d)).execute("PRAGMA page_size").fetchone()[0]
    with open(db_path(d), "r+b") as f:
        f.seek(size - page)
        f.write(b"\xff" * 16)
    d.start(wait_running=False)
    # The workers that do not trade start (the notifier after its rescan)...
    for name in ("maintenance", "notifier"):
        d.wait_state(name, "RUNNING", timeout=15)
    st = d.status()
    # ...and the trading ones are held back.
    for name in ("market-data", "order-execution", "strategy"):
        assert st[name]["state"] == "STOPPED", st[name]
    assert "fails quick_check" in d.log_text() and "tradectl restore" in d.log_text()
    res = d.ctl("start", "strategy")
    assert res.returncode == 1 and "integrity check" in res.stderr, res.stderr
    assert d.state("strategy") == "STOPPED"
    db = connect(d)
    assert db.execute("SELECT count(*) FROM notifications WHERE kind = 'db_integrity'"
                      ).fetchone()[0] == 1
    db.close()
    res = d.ctl("restore", path)
    assert res.returncode == 0, (res.stdout, res.stderr, d.log_text()[-3000:])
    d.wait_all_running(20)
    db = connect(d)
    assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    db.close()


def test_restore_then_reconcile_recovers_orders_placed_after_the_backup(daemon_factory):
    """Orders placed after the backup are on the exchange, not in the restored database: the
    start-up reconcile finds them by this database's identifier prefix and records them, with
    their fills once and the positions with them."""
    from orderutil import OrderRig
    r = OrderRig(daemon_factory, {"orders.balance_interval_ms": 200}).start()
    before = r.intent("KRW-BTC", "bid", "price", funds=20000)
    assert r.wait_intent(before)[0] == "done"
    res, _reply = backup(r.d)
    assert res.returncode == 0, (res.stdout, res.stderr)
    path = backup_rows(r.d)[0]["file"]
    buy = r.intent("KRW-BTC", "bid", "price", funds=30000)
    assert r.wait_intent(buy)[0] == "done"
    vol = r.positions()["KRW-BTC"][0]
    sell = r.intent("KRW-BTC", "ask", "market", volume=vol / 3 / 1e8)
    assert r.wait_intent(sell)[0] == "done"
    lost = {o["uuid"]: o for o in r.sim_orders_of(buy) + r.sim_orders_of(sell)}
    assert len(lost) == 2

    res = r.d.ctl("restore", path)
    assert res.returncode == 0, (res.stdout, res.stderr, r.d.log_text()[-3000:])
    r.d.wait_all_running(20)
    with r.db() as c:
        rows = {u: (i, ident) for u, i, ident in c.execute(
            "SELECT uuid, intent_id, identifier FROM orders")}
        for u, o in lost.items():
            assert u in rows and rows[u][1] == o["identifier"], (u, rows)
            st, reason = c.execute("SELECT state, reason FROM order_intents WHERE id = ?",
                                   (rows[u][0],)).fetchone()
            assert st == "done" and rows[u][0] in (buy, sell), (st, reason)
    # Every trade of the simulator is a fill once; positions equal its balances.
    r.assert_matches_sim()
    texts = [t for _k, t in r.notifications("orders_recovered")]
    assert len(texts) == 1 and texts[0].startswith("2 orders recovered from the exchange"), texts
    # The restore is looked after once: a later start does not list the exchange again.
    with r.db() as c:
        note = c.execute("SELECT max(id) FROM notifications WHERE kind = 'restore'").fetchone()
        assert c.execute("SELECT restore_note FROM exec_recovery").fetchone() == note
    # A new intent after the recovery gets a fresh id and is placed once.
    again = r.intent("KRW-BTC", "bid", "price", funds=10000)
    assert again > max(buy, sell)
    assert r.wait_intent(again)[0] == "done"
    assert len(r.sim_orders_of(again)) == 1
    r.assert_matches_sim()


def test_copied_back_by_hand_then_the_reconcile_job_recovers(daemon_factory):
    """A backup copied into place by hand is no recorded restore: the start does not list the
    exchange, the reconcile action does. The exchange runs outside the daemon, as it does."""
    import shutil
    from orderutil import OrderRig
    from simutil import Sim, AK, SK
    with Sim(["--markets", "KRW-BTC,KRW-ETH"]) as sim:
        r = OrderRig(daemon_factory, {
            "exchange.base_url": "http://127.0.0.1:%d" % sim.port,
            "sim.accounts": ["%s:%s:10000000" % (AK, SK)],
            "jobs": {"defs": {"recon": {"schedule": "0 0 1 1 *", "worker": "order-execution",
                                        "action": "reconcile"}}}}, exchange_port=sim.port)
        r.start()
        res, _reply = backup(r.d)
        assert res.returncode == 0, (res.stdout, res.stderr)
        path = backup_rows(r.d)[0]["file"]
        buy = r.intent("KRW-BTC", "bid", "price", funds=30000)
        assert r.wait_intent(buy)[0] == "done"
        uuid = r.sim_orders_of(buy)[0]["uuid"]
        assert r.d.stop() == 0
        data = r.d.dir / "data"
        for suffix in ("-wal", "-shm"):
            if (data / ("tradingd.db" + suffix)).exists():
                (data / ("tradingd.db" + suffix)).unlink()
        # A new file renamed into place: this process's own old connections keep the old one.
        shutil.copy(path, data / "tradingd.db.copy")
        os.replace(data / "tradingd.db.copy", data / "tradingd.db")
        r.d.start()
        with r.db() as c:
            assert c.execute("SELECT count(*) FROM orders WHERE uuid = ?", (uuid,)).fetchone() \
                == (0,)
        r.d.ctl("job", "run", "recon", check=True)
        wait_for(lambda: r.notifications("orders_recovered"), 20, 0.05,
                 what="the recovery by the reconcile job")
        with r.db() as c:
            assert c.execute("SELECT intent_id FROM orders WHERE uuid = ?", (uuid,)).fetchone() \
                == (buy,)
        r.assert_matches_sim()


def test_checkpoint_with_a_long_reader_is_passive_not_failed(daemon_factory):
    d = daemon_factory().start()
    db = connect(d)
    insert_order(db, 1)
    # A reader in the middle of a long read: TRUNCATE cannot reset the WAL under it.
    reader = connect(d)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM orders").fetchone()
    insert_order(db, 2)
    try:
        res = d.ctl("cleanup")
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert res.returncode == 0, res.stdout.splitlines()
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("checkpoint")]
    assert line and "passive: readers kept the WAL from being truncated" in line[0], res.stdout
    db.close()
