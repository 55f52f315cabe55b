"""Restarts for real: each process killed with SIGKILL comes back with a new pid; a worker that
dies at every start ends FATAL in a crash loop without disturbing the others; a stopped
(SIGSTOP) worker misses its heartbeats and is killed and restarted."""
import os
import re
import signal
import subprocess
import time

from conftest import PROCESSES, WORKERS, binary, pid_alive, wait_for

FAST = {
    "supervisor.backoff_initial_ms": 20,
    "supervisor.backoff_max_ms": 100,
}


def test_kill_9_of_each_process_in_turn(daemon_factory):
    d = daemon_factory(overrides=FAST).start()
    for name in PROCESSES:
        before = d.status()
        old = before[name]["pid"]
        os.kill(old, signal.SIGKILL)

        def back():
            st = d.status()
            w = st[name]
            return st if w["state"] == "RUNNING" and w["pid"] not in (0, old) else None
        st = wait_for(back, 10, what=f"{name} RUNNING again with a new pid")
        w = st[name]
        assert not pid_alive(old)
        assert w["restarts"] == before[name]["restarts"] + 1, w
        assert w["last_exit"] == "signal 9", w
        # Nobody else was touched.
        for other in PROCESSES:
            if other != name:
                assert st[other]["pid"] == before[other]["pid"], other
                assert st[other]["restarts"] == before[other]["restarts"], other
    # And the log says what happened to each.
    log = d.log_text()
    for name in PROCESSES:
        assert f"{name}: signal 9 after" in log, name


def test_worker_dying_at_every_start_ends_fatal(daemon_factory):
    d = daemon_factory(overrides=dict(FAST, **{"supervisor.crashloop_max_restarts": 2,
                                               "supervisor.crashloop_window_s": 60}),
                       env={"TRADINGD_FAULT": "strategy:exit-at-start"})
    d.start(wait_running=False)
    d.wait_state("strategy", "FATAL", timeout=10)
    st = d.status()
    w = st["strategy"]
    assert w["pid"] == 0
    assert w["restarts"] == 2, w  # the third exit within the window is the loop
    assert w["last_exit"] == "exit 1", w
    assert "crash loop" in w["description"], w
    for name in PROCESSES:
        if name != "strategy":
            # The others start on their own time (order-execution after its reconcile).
            d.wait_state(name, "RUNNING", timeout=10)
            assert d.status()[name]["restarts"] == 0, d.status()[name]

    # FATAL stays FATAL: no further attempt is made.
    time.sleep(0.3)
    again = d.status()["strategy"]
    assert again["state"] == "FATAL" and again["restarts"] == 2

    # tradectl shows it, and status still succeeds (it is a report, not a failure).
    res = d.ctl("status")
    assert res.returncode == 0, res.stderr
    line = next(l for l in res.stdout.splitlines() if l.startswith("strategy "))
    assert line[33:43].rstrip() == "FATAL", line
    assert "crash loop" in line[43:], line
    res = d.ctl("status", "strategy")
    assert res.returncode == 0 and res.stdout.count("\n") == 1 and "FATAL" in res.stdout
    assert "strategy: crash loop" in d.log_text()

    # Asked to start again, it runs into the same fault, and the reply says so (it comes once
    # the start has failed); it ends FATAL once more.
    res = d.ctl("start", "strategy")
    assert res.returncode == 1, res
    assert re.fullmatch(r"strategy: ERROR \(not started: (BACKOFF|FATAL) \(.*exit 1.*\)\)\n",
                        res.stdout), res
    wait_for(lambda: d.status()["strategy"]["restarts"] > 2 or
             d.state("strategy") == "FATAL", 10, what="strategy failing again")
    d.wait_state("strategy", "FATAL", timeout=10)


def test_backoff_doubles_between_quick_failures(daemon_factory):
    d = daemon_factory(overrides={"supervisor.backoff_initial_ms": 100,
                                  "supervisor.backoff_max_ms": 400,
                                  "supervisor.crashloop_max_restarts": 4},
                       env={"TRADINGD_FAULT": "notifier:exit-at-start"})
    d.start(wait_running=False)
    d.wait_state("notifier", "FATAL", timeout=10)
    # "restart in N ms" is logged as the description of each BACKOFF; the log keeps the exits.
    starts = [l for l in d.log_text().splitlines() if "notifier: started, pid" in l]
    assert len(starts) == 5, starts  # the first start and 4 restarts

    def stamp(line):
        hms = line.split("T", 1)[1].split("Z", 1)[0]
        h, m, s = hms.split(":")
        return (int(h) * 60 + int(m)) * 60 + float(s)
    gaps = [stamp(b) - stamp(a) for a, b in zip(starts, starts[1:])]
    # 100, 200, 400, 400 ms (capped), each plus the time to start and fail.
    for gap, want in zip(gaps, [0.1, 0.2, 0.4, 0.4]):
        assert want - 0.005 <= gap <= want + 0.4, gaps


def test_stopped_worker_is_killed_as_hung_and_restarted(daemon_factory):
    d = daemon_factory(overrides=dict(FAST, **{"supervisor.heartbeat_interval_ms": 100,
                                               "supervisor.heartbeat_timeout_ms": 500})).start()
    old = d.status()["market-data"]["pid"]
    os.kill(old, signal.SIGSTOP)
    t0 = time.monotonic()

    def back():
        w = d.status()["market-data"]
        return w if w["state"] == "RUNNING" and w["pid"] not in (0, old) else None
    w = wait_for(back, 10, what="market-data restarted after it hung")
    took = time.monotonic() - t0
    assert 0.4 <= took <= 5, took
    assert not pid_alive(old)
    assert "hung" in w["last_exit"] and "signal 9" in w["last_exit"], w
    assert w["restarts"] == 1
    assert "market-data: pid %d stopped answering heartbeats" % old in d.log_text()
    st = d.status()
    for name in WORKERS:
        assert st[name]["state"] == "RUNNING", name


def test_restart_at_once_after_a_healthy_run_backoff_after_a_quick_one(daemon_factory):
    d = daemon_factory(overrides={"supervisor.backoff_initial_ms": 3000,
                                  "supervisor.backoff_max_ms": 3000,
                                  "supervisor.backoff_reset_ms": 300}).start()
    time.sleep(0.4)  # longer than backoff_reset_ms: the run was healthy
    old = d.status()["notifier"]["pid"]
    os.kill(old, signal.SIGKILL)
    t0 = time.monotonic()
    w = wait_for(lambda: (w := d.status()["notifier"])["state"] == "RUNNING" and
                 w["pid"] not in (0, old) and w, 5, what="notifier back at once")
    assert time.monotonic() - t0 < 1.5, "waited for the backoff after a healthy run"
    assert w["restarts"] == 1

    # Killed again at once: a quick failure, which waits backoff_initial_ms.
    os.kill(w["pid"], signal.SIGKILL)
    d.wait_state("notifier", "BACKOFF", timeout=5)
    st = d.status()["notifier"]
    assert st["restarts"] == 2 and "restart in 3000 ms" in st["description"], st
    res = d.ctl("status", "notifier", check=True)
    assert res.stdout[33:43].rstrip() == "BACKOFF" and "signal 9" in res.stdout


def test_a_stop_during_a_restart_wins(daemon_factory):
    d = daemon_factory(overrides=dict(FAST, **{"supervisor.stop_timeout_ms": 20000})).start()
    old = d.status()["notifier"]["pid"]
    # Frozen, the notifier cannot act on its SIGTERM: the restart stays in STOPPING.
    os.kill(old, signal.SIGSTOP)
    try:
        restart = subprocess.Popen([binary("tradectl"), "-s", d.socket, "restart", "notifier"],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: d.state("notifier") == "STOPPING", 10, what="the restart stopping")
        stop = subprocess.Popen([binary("tradectl"), "-s", d.socket, "stop", "notifier"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: "the pending restart is cancelled by a stop" in d.log_text(), 10,
                 what="the stop cancelling the restart")
    finally:
        os.kill(old, signal.SIGCONT)
    assert stop.wait(20) == 0, stop.stdout.read()
    assert restart.wait(20) != 0, restart.stdout.read()
    assert not pid_alive(old)
    # It stays stopped: nothing starts it again behind the operator's back.
    time.sleep(0.5)
    w = d.status()["notifier"]
    assert w["state"] == "STOPPED" and w["pid"] == 0, w
    d.ctl("start", "notifier", check=True)
    assert d.state("notifier") == "RUNNING"
