"""How the tree ends: SIGTERM/SIGINT stop one process at a time in reverse dependency order and
exit 0 with nothing left behind; a supervisor killed with SIGKILL takes every worker (and the
simulator) with it within a second; a worker that ignores SIGTERM is killed after the timeout."""
import os
import re
import signal
import time

import pytest

from conftest import descendants_of, pids_of, wait_gone

STOP_ORDER = ["strategy", "order-execution", "market-data", "maintenance", "notifier",
              "upbit-sim"]


def session_members(sid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().split(")")[-1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry))
    return found


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_everything_in_reverse_dependency_order(daemon_factory, signo):
    d = daemon_factory(overrides={"log_level": "debug"}).start()
    sup = d.proc.pid
    tree = descendants_of(sup)
    pids = pids_of(d.status())
    assert sorted(tree) == sorted(pids.values())
    assert os.path.exists(d.socket)

    d.proc.send_signal(signo)
    assert d.proc.wait(10) == 0
    # Nothing of the tree is left, not even a zombie: the supervisor reaped each child itself.
    for pid in tree:
        assert not os.path.exists(f"/proc/{pid}"), f"pid {pid} left behind"
    assert session_members(sup) == []
    assert not os.path.exists(d.socket), "control socket not removed"

    # The supervisor's own record: each stop begins only once the previous one has ended.
    log = d.log_text()
    events = re.findall(r"tradingd\[debug\]: ([a-z-]+): (RUNNING -> STOPPING|STOPPING -> STOPPED)$",
                        log, re.M)
    expected = []
    for name in STOP_ORDER:
        expected += [(name, "RUNNING -> STOPPING"), (name, "STOPPING -> STOPPED")]
    assert events == expected, events
    # Each worker saw the request and exited on its own, in the same order.
    exits = re.findall(r"^\S+ ([a-z-]+)\[info\]: exited cleanly$", log, re.M)
    assert exits == STOP_ORDER[:-1], (exits, [line for line in log.splitlines()
                                              if "market-data" in line][-12:])
    assert "every process stopped: exiting" in log


IPC_TICK = 8


def test_what_a_worker_sent_before_it_read_shutdown_is_no_protocol_violation(daemon_factory):
    # market-data's tick already on its way when SHUTDOWN came (here: sent as it stops).
    d = daemon_factory(overrides={"log_level": "debug"},
                       env={"TRADINGD_FAULT": f"market-data:send-at-stop:{IPC_TICK}"}).start()
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(10) == 0
    log = d.log_text()
    assert "market-data[warn]: fault injected: sending TICK at stop" in log, log[-3000:]
    assert "protocol violation" not in log, log[-3000:]
    exits = re.findall(r"^\S+ ([a-z-]+)\[info\]: exited cleanly$", log, re.M)
    assert exits == STOP_ORDER[:-1], exits


def test_kill_9_of_the_supervisor_takes_every_process_along(daemon_factory):
    d = daemon_factory().start()
    pids = pids_of(d.status())
    assert len(pids) == 6 and "upbit-sim" in pids
    os.kill(d.proc.pid, signal.SIGKILL)
    t0 = time.monotonic()
    left = wait_gone(list(pids.values()), timeout=1.0)
    assert left == [], f"alive {time.monotonic() - t0:.2f} s after the supervisor died: " \
        f"{[n for n, p in pids.items() if p in left]}"
    d.proc.wait(5)


def test_worker_ignoring_sigterm_is_killed_after_stop_timeout(daemon_factory):
    d = daemon_factory(overrides={"supervisor.stop_timeout_ms": 300,
                                  "log_level": "debug"}).start()
    pids = pids_of(d.status())
    # A stopped process neither reads the shutdown message nor handles SIGTERM.
    os.kill(pids["order-execution"], signal.SIGSTOP)
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(10) == 0
    took = time.monotonic() - t0
    assert 0.3 <= took < 3, took
    assert wait_gone(list(pids.values()), 1) == []
    log = d.log_text()
    assert f"order-execution: pid {pids['order-execution']} did not stop in time: SIGKILL" in log
    # The ones after it still stopped, in order, after it.
    assert log.index("order-execution: STOPPING -> STOPPED") < \
        log.index("market-data: RUNNING -> STOPPING")


@pytest.mark.parametrize("state,backoff_ms", [("BACKOFF", 60000), ("FATAL", 10)])
def test_sigterm_with_a_worker_in_backoff_or_fatal(daemon_factory, state, backoff_ms):
    d = daemon_factory(overrides={"supervisor.backoff_initial_ms": backoff_ms,
                                  "supervisor.backoff_max_ms": backoff_ms,
                                  "supervisor.crashloop_max_restarts": 1},
                       env={"TRADINGD_FAULT": "strategy:exit-at-start"}).start(wait_running=False)
    d.wait_state("strategy", state)
    pids = pids_of(d.status())
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(10) == 0
    assert time.monotonic() - t0 < 2, "the shutdown waited for the backoff"
    assert wait_gone(list(pids.values()), 1) == []
    assert not os.path.exists(d.socket)
