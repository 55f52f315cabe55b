"""A crash loop is never a silent, permanent stop: it is logged, alerted in the outbox, shown
as degraded, and then either retried after a cool-down or escalated to systemd."""
import os
import signal
import sqlite3
import time

from conftest import wait_for

BURST = {"supervisor.backoff_initial_ms": 10, "supervisor.backoff_max_ms": 20,
         "supervisor.backoff_reset_ms": 60000, "supervisor.crashloop_max_restarts": 3,
         "supervisor.crashloop_window_s": 60}


def alerts(d, kind):
    db = sqlite3.connect(f"file:{d.dir}/data/tradingd.db?mode=ro", uri=True)
    try:
        return db.execute("SELECT severity, source, text FROM notifications WHERE kind = ?"
                          " ORDER BY id", (kind,)).fetchall()
    finally:
        db.close()


def kill_until_fatal(d, name):
    """kill -9 the worker each time it is RUNNING again, until the supervisor gives up."""
    def step():
        st = d.status()
        if st is None:
            # No answer: with fatal_action "exit" the daemon may be gone already.
            return d.proc.poll() is not None
        st = st[name]
        if st["state"] == "FATAL":
            return True
        if st["state"] == "RUNNING" and st["pid"] > 0:
            try:
                os.kill(st["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass  # it died between the status and the kill: the next poll sees that
        return False
    wait_for(step, 30, interval=0.01, what=f"{name} FATAL")


def test_fatal_is_alerted_and_retried_after_the_cool_down(daemon_factory):
    d = daemon_factory({**BURST, "supervisor.fatal_retry_s": 2}).start()
    kill_until_fatal(d, "maintenance")
    st = d.status()["maintenance"]
    assert "retry in 2 s" in st["description"], st
    rows = alerts(d, "crash_loop")
    assert len(rows) == 1 and rows[0][0] == "critical" and rows[0][1] == "tradingd", rows
    assert "maintenance is in a crash loop" in rows[0][2]
    assert "maintenance: crash loop" in d.log_text()
    # The cool-down passes and the worker is back, and that is alerted too.
    d.wait_state("maintenance", "RUNNING", timeout=15)
    wait_for(lambda: alerts(d, "crash_loop_cleared"), 5, what="crash_loop_cleared alert")
    # Others were never touched.
    assert all(w["restarts"] == 0 for n, w in d.status().items() if n != "maintenance")


def test_a_second_crash_loop_waits_twice_as_long(daemon_factory):
    d = daemon_factory({**BURST, "supervisor.fatal_retry_s": 1}).start()
    kill_until_fatal(d, "notifier")
    d.wait_state("notifier", "RUNNING", timeout=15)
    kill_until_fatal(d, "notifier")
    assert "retry in 2 s" in d.status()["notifier"]["description"]
    assert len(alerts(d, "crash_loop")) == 2


def test_strategy_stops_new_entries_while_order_execution_is_fatal(daemon_factory):
    d = daemon_factory({**BURST, "supervisor.fatal_retry_s": 3}).start()

    def blocked():
        st = d.status()["strategy"].get("details") or {}
        return st.get("entries_blocked_by")
    wait_for(lambda: blocked() == [], 10, what="strategy status")
    kill_until_fatal(d, "order-execution")
    wait_for(lambda: blocked() == ["order-execution"], 10, what="strategy blocked")
    d.wait_state("order-execution", "RUNNING", timeout=20)
    wait_for(lambda: blocked() == [], 10, what="strategy unblocked")
    assert "order-execution is not running: new entries stopped" in d.log_text()


def test_escalation_exits_with_a_distinct_status(daemon_factory):
    d = daemon_factory({**BURST, "supervisor.fatal_action": "exit"}).start()
    kill_until_fatal(d, "maintenance")
    d.proc.wait(30)
    assert d.proc.returncode == 75, d.log_text()[-2000:]
    assert "exiting with status 75 (crash loop escalated)" in d.log_text()
    assert len(alerts(d, "crash_loop")) == 1
