"""The database on disk: data_dir is 0700 and the database with its WAL and SHM 0600, owned by
the user the daemon drops to, also when an older build left them readable by others; a worker
started on a database whose schema version is not this build's refuses it and says why."""
import os
import sqlite3
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import wait_for  # noqa: E402

NOBODY = 65534
FILES = ("tradingd.db", "tradingd.db-wal", "tradingd.db-shm")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def assert_owner_only(daemon):
    data = daemon.dir / "data"
    assert mode(data) == 0o700, oct(mode(data))
    for name in FILES:
        # WAL and SHM exist while the supervisor and market-data have the database open.
        path = data / name
        assert path.exists(), f"{name} missing: {sorted(os.listdir(data))}"
        assert mode(path) == 0o600, f"{name} is {oct(mode(path))}"
        if os.geteuid() == 0:
            assert os.stat(path).st_uid == NOBODY, f"{name} owned by {os.stat(path).st_uid}"


def test_new_data_dir_and_database_are_owner_only(daemon_factory):
    old = os.umask(0o022)  # what SQLite would otherwise give group and others
    try:
        d = daemon_factory().start()
    finally:
        os.umask(old)
    assert_owner_only(d)


def test_readable_leftovers_are_tightened(daemon_factory):
    d = daemon_factory()
    data = d.dir / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    with sqlite3.connect(str(data / "tradingd.db")) as db:  # an empty database, schema 0
        db.execute("PRAGMA user_version=0")
    os.chmod(data / "tradingd.db", 0o644)
    d.start()
    assert_owner_only(d)


def test_worker_refuses_a_schema_it_was_not_built_for(daemon_factory):
    d = daemon_factory({"supervisor.crashloop_max_restarts": 2,
                        "supervisor.crashloop_window_s": 60}).start()
    db_path = str(d.dir / "data" / "tradingd.db")
    with sqlite3.connect(db_path, timeout=5) as db:
        build = db.execute("PRAGMA user_version").fetchone()[0]
        db.execute("PRAGMA user_version=%d" % (build + 7))
    d.ctl("restart", "market-data")  # it fails to start: the reply says so
    want = "has schema version %d but this build needs %d" % (build + 7, build)
    wait_for(lambda: want in d.log_text(), 10, what="the schema refusal in the log")
    d.wait_state("market-data", "FATAL", timeout=15)
    # The others, which opened the database before, keep running.
    st = d.status()
    assert all(w["state"] == "RUNNING" for n, w in st.items() if n != "market-data"), st
