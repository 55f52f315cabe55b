"""start, stop and restart answer only once the processes have really stopped or are running (or
have failed, or the daemon is shutting down), and say which. A worker that ignores SIGTERM (it is
SIGSTOPped) is SIGKILLed after supervisor.stop_timeout_ms, and tradectl waits for that reply
beyond its own reply timeout, because the daemon first tells it how long the wait may take."""
import json
import os
import re
import signal
import socket
import subprocess
import time

from conftest import binary, pid_alive

STOP_TIMEOUT_MS = 2500
# A SIGSTOPped worker must be left to the stop timeout, not found hung by the heartbeats first.
SLOW_STOP = {"supervisor.stop_timeout_ms": STOP_TIMEOUT_MS,
             "supervisor.heartbeat_timeout_ms": 120000}


def ctl(daemon, *args, timeout_ms=None):
    env = dict(os.environ)
    env.pop("TRADECTL_TIMEOUT_MS", None)
    if timeout_ms:
        env["TRADECTL_TIMEOUT_MS"] = str(timeout_ms)
    t0 = time.monotonic()
    res = subprocess.run([binary("tradectl"), "-s", daemon.socket, *args], capture_output=True,
                         text=True, timeout=60, env=env)
    return res, time.monotonic() - t0


def port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_stop_and_start_of_the_simulator_answer_when_done(daemon):
    old = daemon.status()["upbit-sim"]["pid"]
    res, _ = ctl(daemon, "stop", "upbit-sim")
    assert (res.returncode, res.stdout) == (0, "upbit-sim: stopped\n"), res
    # Right after the reply: STOPPED, the process gone, its port closed.
    sim = daemon.status()["upbit-sim"]
    assert sim["state"] == "STOPPED" and sim["pid"] == 0, sim
    assert not pid_alive(old)
    assert not port_open(daemon.sim_port)

    res, _ = ctl(daemon, "--json", "start", "upbit-sim")
    assert res.returncode == 0, res
    result = json.loads(res.stdout)["results"][0]
    assert result["result"] == "started" and result["state"] == "RUNNING", result
    # RUNNING for the simulator means its port accepts connections: it does, at once.
    assert port_open(daemon.sim_port)
    assert daemon.status()["upbit-sim"]["pid"] == result["pid"] not in (0, old)


def test_stop_waits_for_the_sigkill_beyond_tradectls_own_timeout(daemon_factory):
    d = daemon_factory(overrides=SLOW_STOP).start()
    pid = d.status()["strategy"]["pid"]
    os.kill(pid, signal.SIGSTOP)  # SIGTERM stays pending: only the SIGKILL ends it
    # tradectl would give up on a silent daemon after 1 s; this one says it needs longer.
    res, elapsed = ctl(d, "stop", "strategy", timeout_ms=1000)
    assert res.returncode == 0, res
    assert res.stdout == f"strategy: stopped (SIGKILL: it did not exit within " \
                         f"{STOP_TIMEOUT_MS} ms)\n", res
    assert elapsed >= STOP_TIMEOUT_MS / 1000 - 0.1, elapsed
    st = d.status()["strategy"]
    assert st["state"] == "STOPPED" and st["pid"] == 0 and not pid_alive(pid), st
    line = d.ctl("status", "strategy", check=True).stdout
    assert re.fullmatch(r"STOPPED   stop timeout \(signal 9\), \d+:\d\d:\d\d ago",
                        line[33:].rstrip()), line


def test_restart_waits_for_the_stop_then_the_start(daemon_factory):
    d = daemon_factory(overrides=SLOW_STOP).start()
    pid = d.status()["strategy"]["pid"]
    os.kill(pid, signal.SIGSTOP)
    res, elapsed = ctl(d, "restart", "strategy", timeout_ms=1000)
    assert (res.returncode, res.stdout) == (0, "strategy: restarted\n"), res
    assert elapsed >= STOP_TIMEOUT_MS / 1000 - 0.1, elapsed
    st = d.status()["strategy"]
    assert st["state"] == "RUNNING" and st["pid"] not in (0, pid), st
    assert not pid_alive(pid)


def test_a_start_that_fails_says_how(daemon_factory):
    d = daemon_factory(overrides={"supervisor.crashloop_max_restarts": 3},
                       env={"TRADINGD_FAULT": "strategy:exit-at-start"})
    d.start(wait_running=False)
    d.wait_state("strategy", "FATAL")
    # Each start runs into the fault: the reply comes once it has failed, and says how.
    res, _ = ctl(d, "--json", "start", "strategy")
    assert res.returncode == 1, res
    result = json.loads(res.stdout)["results"][0]
    assert "result" not in result and result["pid"] == 0, result
    assert result["state"] in ("BACKOFF", "FATAL"), result
    assert re.fullmatch(r"not started: (BACKOFF \(exit 1; restart in \d+ ms\)|"
                        r"FATAL \(crash loop: .*\))", result["error"]), result
    d.wait_state("strategy", "FATAL")
    res, _ = ctl(d, "restart", "strategy", "notifier")
    assert res.returncode == 1, res
    lines = res.stdout.splitlines()
    assert re.fullmatch(r"strategy: ERROR \(not restarted: (BACKOFF|FATAL) \(.*\)\)", lines[0]), \
        res
    assert lines[1:] == ["notifier: restarted"], res


def stop_waiting(d, cmd, name):
    """SIGSTOPs name, so that its stop takes until the SIGKILL, and starts tradectl CMD NAME,
    which waits for it; returns once name is STOPPING."""
    os.kill(d.status()[name]["pid"], signal.SIGSTOP)
    waiting = subprocess.Popen([binary("tradectl"), "-s", d.socket, cmd, name],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    d.wait_state(name, "STOPPING")
    return waiting


def test_a_restart_cut_short_by_the_shutdown_says_so(daemon_factory):
    d = daemon_factory(overrides=SLOW_STOP).start()
    waiting = stop_waiting(d, "restart", "strategy")
    d.proc.send_signal(signal.SIGTERM)
    out, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 1, (out, err)
    assert out == "strategy: ERROR (not restarted: stopped before it was running (the daemon " \
                  "is shutting down))\n", (out, err)
    assert d.proc.wait(30) == 0


def test_others_are_served_while_a_stop_is_waited_for(daemon_factory):
    """While one client waits for a slow stop, others are served at once."""
    d = daemon_factory(overrides=SLOW_STOP).start()
    waiting = stop_waiting(d, "stop", "strategy")
    res, elapsed = ctl(d, "stop", "maintenance")
    assert (res.returncode, res.stdout) == (0, "maintenance: stopped\n"), res
    assert d.state("strategy") == "STOPPING"
    assert waiting.poll() is None
    out, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 0 and out.startswith("strategy: stopped (SIGKILL"), (out, err)


def test_a_stop_that_ends_with_the_daemon_is_still_answered(daemon_factory):
    """The simulator stops last at shutdown: its waiting stop is answered as the daemon exits."""
    d = daemon_factory(overrides=SLOW_STOP).start()
    waiting = stop_waiting(d, "stop", "upbit-sim")
    d.proc.send_signal(signal.SIGTERM)
    out, err = waiting.communicate(timeout=30)
    assert (waiting.returncode, out) == \
        (0, f"upbit-sim: stopped (SIGKILL: it did not exit within {STOP_TIMEOUT_MS} ms)\n"), err
    assert d.proc.wait(30) == 0
