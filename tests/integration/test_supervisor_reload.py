"""SIGHUP and tradectl reload on a running tree: supervision settings take effect without
restarting anybody, and a healthy worker is never taken for hung because the heartbeat changed."""
import json
import os
import signal
import time

from conftest import PROCESSES, WORKERS, wait_for


def rewrite(d, **supervisor):
    cfg = json.loads(d.config_path.read_text())
    cfg["supervisor"].update(supervisor)
    d.config_path.write_text(json.dumps(cfg, indent=2))


def test_shorter_heartbeat_after_reload_kills_nobody(daemon_factory):
    d = daemon_factory(overrides={"supervisor.heartbeat_interval_ms": 1000,
                                  "supervisor.heartbeat_timeout_ms": 5000}).start()
    before = {n: w["pid"] for n, w in d.status().items()}
    rewrite(d, heartbeat_interval_ms=100, heartbeat_timeout_ms=300)
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reloaded" in d.log_text(), 5, what="the reload")
    time.sleep(1.5)  # five new timeouts, one and a half old periods
    st = d.status()
    for name in PROCESSES:
        assert st[name]["pid"] == before[name] and st[name]["restarts"] == 0, st[name]
    assert "stopped answering heartbeats" not in d.log_text()


def test_new_heartbeat_timeout_applies_after_reload(daemon_factory):
    d = daemon_factory(overrides={"supervisor.heartbeat_interval_ms": 1000,
                                  "supervisor.heartbeat_timeout_ms": 30000}).start()
    rewrite(d, heartbeat_interval_ms=100, heartbeat_timeout_ms=400)
    assert d.ctl("reload", check=True).stdout == "reloaded\n"
    old = d.status()["strategy"]["pid"]
    os.kill(old, signal.SIGSTOP)
    t0 = time.monotonic()
    w = wait_for(lambda: (w := d.status()["strategy"])["state"] == "RUNNING" and
                 w["pid"] not in (0, old) and w, 10, what="strategy restarted as hung")
    assert time.monotonic() - t0 < 3  # the old 30 s timeout would not have fired
    assert w["last_exit"] == "hung (signal 9)"
    st = d.status()
    assert all(st[n]["restarts"] == 0 for n in WORKERS if n != "strategy")


def test_reload_refused_during_shutdown(daemon_factory):
    d = daemon_factory(overrides={"supervisor.stop_timeout_ms": 1000,
                                  "log_level": "debug"}).start()
    # order-execution cannot stop by itself: the shutdown waits for its timeout.
    os.kill(d.status()["order-execution"]["pid"], signal.SIGSTOP)
    d.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "strategy: STOPPING -> STOPPED" in d.log_text(), 5,
             what="strategy stopped by the shutdown")
    res = d.ctl("reload")
    assert res.returncode == 1 and "shutting down" in res.stderr, res
    d.proc.send_signal(signal.SIGHUP)
    assert d.proc.wait(10) == 0
    log = d.log_text()
    assert log.count("strategy: started, pid") == 1, log
    assert "reloaded" not in log


def test_reload_keeps_an_operator_stop_and_applies_enabled_changes(daemon_factory):
    d = daemon_factory().start()
    d.ctl("stop", "strategy", check=True)
    d.wait_state("strategy", "STOPPED")
    # Disable maintenance in the file, then reload: it stops; strategy stays stopped.
    d.config.setdefault("workers", {})["maintenance"] = {"enabled": False}
    d.config_path.write_text(json.dumps(d.config))
    d.ctl("reload", check=True)
    d.wait_state("maintenance", "STOPPED")
    time.sleep(0.3)
    assert d.state("strategy") == "STOPPED"
    # Enable it again: it starts; strategy still stays where the operator put it.
    d.config["workers"]["maintenance"] = {"enabled": True}
    d.config_path.write_text(json.dumps(d.config))
    d.ctl("reload", check=True)
    d.wait_state("maintenance", "RUNNING")
    assert d.state("strategy") == "STOPPED"


def test_a_reload_that_cannot_be_recorded_is_refused(daemon_factory):
    """The new version is stored before it is applied: while another connection holds the
    write lock longer than the supervisor waits, the reload is refused and the old config stays
    in force; once the lock is gone the same reload is recorded, then applied."""
    import sqlite3
    d = daemon_factory(overrides={"supervisor.heartbeat_interval_ms": 200,
                                  "supervisor.heartbeat_timeout_ms": 1500}).start()
    rewrite(d, stop_timeout_ms=1234)
    db = sqlite3.connect(d.dir / "data" / "tradingd.db", timeout=0, isolation_level=None)
    versions = db.execute("SELECT count(*) FROM config_versions").fetchone()[0]
    db.execute("BEGIN IMMEDIATE")
    try:
        res = d.ctl("reload")
    finally:
        db.execute("ROLLBACK")
    assert res.returncode == 1, res
    assert "cannot record the config version" in res.stdout + res.stderr, res
    assert "reload refused, the config in force is kept" in d.log_text()
    assert db.execute("SELECT count(*) FROM config_versions").fetchone()[0] == versions
    # After a wait that timed out, the supervisor does not wait again for busy_ms (300 ms).
    time.sleep(0.5)
    assert d.ctl("reload", check=True).stdout == "reloaded\n"
    rows = db.execute("SELECT text FROM config_versions ORDER BY id").fetchall()
    assert len(rows) == versions + 1 and '"stop_timeout_ms": 1234' in rows[-1][0]
    db.close()
