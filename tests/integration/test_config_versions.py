"""Configuration versions on the real daemon: one row per applied change (none for an unchanged
reload), no secret stored, history and diff, a refused bad file, a rollback by hand that puts
the secrets of the file in force back, the rollback by itself after a change that makes a
worker crash-loop, and the watch of the file."""
import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import wait_for  # noqa: E402

SECRET = "test-secret-key"


def versions(d):
    db = sqlite3.connect(str(d.dir / "data" / "tradingd.db"), timeout=10)
    rows = db.execute("SELECT id, text, hash, reason, uid FROM config_versions ORDER BY id"
                      ).fetchall()
    db.close()
    return rows


def refused(d):
    db = sqlite3.connect(str(d.dir / "data" / "tradingd.db"), timeout=10)
    row = db.execute("SELECT text FROM notifications WHERE kind = 'config_refused'").fetchone()
    db.close()
    return row


def write(d, config):
    d.config = config
    d.config_path.write_text(json.dumps(config, indent=2))


def test_versions_history_diff_refusal_and_rollback(daemon_factory):
    d = daemon_factory().start()
    # The daemon (an unprivileged user) rewrites the file on a rollback: its directory must
    # let it, as /etc/tradingd must in production (docs/operations.md).
    os.chmod(d.dir, 0o777)
    assert len(versions(d)) == 1
    for _ in range(3):
        d.ctl("reload", check=True)
    assert len(versions(d)) == 1, "an unchanged reload added a version"

    cfg = json.loads(d.config_path.read_text())
    cfg["log_level"] = "debug"
    cfg["market_data"]["stale_after_s"] = 30
    write(d, cfg)
    d.ctl("reload", check=True)
    rows = versions(d)
    assert len(rows) == 2 and rows[1][3] == "reload" and rows[1][4] == 0, rows
    for _, text, _, _, _ in rows:
        assert SECRET not in text and "(secret)" in text
    db = open(d.dir / "data" / "tradingd.db", "rb").read()
    assert SECRET.encode() not in db

    hist = json.loads(d.ctl("--json", "config", "history", check=True).stdout)["versions"]
    assert [v["version"] for v in hist] == [1, 2] and hist[1]["in_force"], hist
    diff = d.ctl("config", "diff", "1", "2", check=True).stdout.splitlines()
    # Versions are the file as written: a key it did not have before is an addition.
    assert sorted(diff) == ["+ market_data.stale_after_s: 30",
                            '~ log_level: "info" -> "debug"'], diff
    shown = d.ctl("config", "show", check=True).stdout
    assert '"debug"' in shown and SECRET not in shown

    # A bad file is refused, by file:line:col and key, and changes nothing.
    d.config_path.write_text(d.config_path.read_text().replace('"log_level"', '"log_levl"'))
    res = d.ctl("reload")
    assert res.returncode == 1 and "log_levl" in res.stderr, res.stderr
    assert len(versions(d)) == 2
    write(d, cfg)

    # The workers restarted by the reload write at their start; a rollback that meets their
    # lock is run again by the supervisor until it lands.
    res = d.ctl("config", "rollback", "1")
    assert res.returncode == 0, (res.stdout, res.stderr)
    back = json.loads(d.config_path.read_text())
    assert back["log_level"] == "info"
    assert back["sim"]["accounts"] == [f"test-access-key:{SECRET}:10000000"]
    rows = versions(d)
    assert len(rows) == 3 and rows[2][2] == rows[0][2] and rows[2][3] == "rollback to 1"
    assert d.ctl("config", "diff", "1", "3", check=True).stdout.strip() == "no difference"
    assert d.ctl("config", "diff", "1", "99").returncode == 1
    d.wait_all_running()


def test_crash_loop_after_a_change_is_rolled_back(daemon_factory):
    d = daemon_factory({"supervisor.crashloop_max_restarts": 2,
                        "supervisor.backoff_initial_ms": 20,
                        "supervisor.backoff_max_ms": 100,
                        "config_watch": {"enabled": True, "settle_ms": 200}}).start()
    os.chmod(d.dir, 0o777)
    good = json.loads(d.config_path.read_text())
    bad = json.loads(json.dumps(good))
    # A valid file whose backup_dir cannot be made: maintenance refuses to start.
    bad["maintenance"] = {"backup_dir": "/proc/no-such-dir/backups"}
    # A broken file seen by the watch is refused, said so, and changes nothing.
    d.config_path.write_text('{"mode": "sim",')
    wait_for(lambda: refused(d), 15, what="the broken file refused")
    assert len(versions(d)) == 1
    # The watch picks the change up by itself, once the file has settled.
    write(d, bad)
    try:
        wait_for(lambda: len(versions(d)) == 2, 15, what="the watched change applied")
        wait_for(lambda: len(versions(d)) == 3, 20, what="the automatic rollback")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{versions(d)}\n{d.log_text()[-4000:]}") from None
    rows = versions(d)
    assert rows[2][3] == "automatic rollback after a crash loop" and rows[2][2] == rows[0][2]
    assert "backup_dir" not in json.loads(d.config_path.read_text()).get("maintenance", {})
    d.wait_all_running(20)
    db = sqlite3.connect(str(d.dir / "data" / "tradingd.db"), timeout=10)
    alert = db.execute("SELECT severity, text FROM notifications WHERE kind ="
                       " 'config_rollback'").fetchone()
    db.close()
    assert alert and alert[0] == "critical", alert
    assert 'the change was: + maintenance: {"backup_dir":"/proc/no-such-dir/backups"}' in \
        alert[1], alert
