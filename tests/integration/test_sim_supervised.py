"""The daemon's upbit-sim is supervised like a worker: it says READY over its socket once HTTP
answers, it answers the heartbeat, and a SIGSTOPped one (which still completes TCP handshakes)
is found by the heartbeat, killed and restarted."""
import http.client
import json
import os
import signal
import socket
import time

from conftest import PROCESSES, pid_alive, proc_argv, wait_for, wait_gone

HEARTBEAT = {
    "supervisor.heartbeat_interval_ms": 100,
    "supervisor.heartbeat_timeout_ms": 1000,
    "supervisor.backoff_initial_ms": 20,
    "supervisor.backoff_max_ms": 100,
}


def health(port, timeout=5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/_sim/health")
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def test_sim_answers_heartbeats_and_is_restarted_when_stopped(daemon_factory):
    d = daemon_factory(overrides=HEARTBEAT).start()
    before = d.status()
    old = before["upbit-sim"]["pid"]
    assert proc_argv(old)[1:3] == ["--ipc-fd", "3"]
    # Alive and pinged: several timeouts pass and nobody calls it hung.
    time.sleep(2.0)
    st = d.status()["upbit-sim"]
    assert st["pid"] == old and st["state"] == "RUNNING" and st["restarts"] == 0, st

    os.kill(old, signal.SIGSTOP)
    t0 = time.monotonic()
    # Stopped, its port still completes the handshake: only an answered PING shows life.
    with socket.create_connection(("127.0.0.1", d.sim_port), timeout=2):
        pass

    def back():
        w = d.status()["upbit-sim"]
        return w if w["state"] == "RUNNING" and w["pid"] not in (0, old) else None
    w = wait_for(back, 15, what="upbit-sim restarted after it hung")
    took = time.monotonic() - t0
    # At least the timeout less one interval; at most the timeout plus a generous margin.
    assert 0.8 <= took <= 1.0 + 8, took
    assert not pid_alive(old)
    assert "hung" in w["last_exit"] and "signal 9" in w["last_exit"], w
    assert w["restarts"] == 1, w
    assert f"upbit-sim: pid {old} stopped answering heartbeats: killing it" in d.log_text()
    assert health(d.sim_port)[0] == 200
    # Nothing else was touched.
    st = d.status()
    for name in PROCESSES:
        assert st[name]["state"] == "RUNNING", (name, st[name])
        if name != "upbit-sim":
            assert st[name]["pid"] == before[name]["pid"], (name, st[name],
                                                            d.log_text()[-3000:])
    # The workers that depend on the simulator were told it was down and back (PEER_STATE),
    # and took it without a complaint.
    assert "unexpected PEER_STATE" not in d.log_text()


def test_running_means_http_answers(daemon_factory):
    """READY is sent once the port serves: the first status that says RUNNING (polled as fast
    as tradectl answers) finds /_sim/health answering at once."""
    d = daemon_factory().start()
    for _ in range(3):
        old = d.status()["upbit-sim"]["pid"]
        d.ctl("restart", "upbit-sim", check=True)
        w = wait_for(lambda: (w := d.status()["upbit-sim"])["state"] == "RUNNING" and
                     w["pid"] not in (0, old) and w, 15, interval=0.001,
                     what="upbit-sim RUNNING again")
        status, body = health(d.sim_port, timeout=2)
        assert status == 200 and body["ok"] is True and body["port"] == d.sim_port, body
        assert w["restarts"] == 0  # asked-for restarts are not crashes


def test_stop_and_start_through_the_socket(daemon_factory):
    d = daemon_factory().start()
    old = d.status()["upbit-sim"]["pid"]
    assert d.ctl("stop", "upbit-sim", check=True).stdout == "upbit-sim: stopped\n"
    d.wait_state("upbit-sim", "STOPPED")
    assert wait_gone([old], 5) == []
    w = d.status()["upbit-sim"]
    # SHUTDOWN (and SIGTERM, whichever it sees first) made it exit cleanly, not a SIGKILL.
    assert w["last_exit"] == "exit 0", w
    log = d.log_text()
    assert "upbit-sim[info]: shutting down" in log, log[-3000:]

    assert d.ctl("start", "upbit-sim", check=True).stdout == "upbit-sim: started\n"
    d.wait_state("upbit-sim", "RUNNING")
    assert d.status()["upbit-sim"]["pid"] not in (0, old)
    assert health(d.sim_port)[0] == 200


def test_sim_logs_like_every_other_process(daemon):
    """The line that says where the simulator listens is a log line in the daemon's format."""
    port = daemon.sim_port
    wait_for(lambda: f"upbit-sim[notice]: listening on 127.0.0.1:{port}, 2 markets"
             in daemon.log_text(), 5, what="the sim's listening line")
    assert not any(l.startswith("upbit-sim ") for l in daemon.log_text().splitlines())
