"""The routing table: a worker that sends what it may not send, or speaks another protocol
version, is killed and restarted and the log says why; READY may come after start-up work."""
import time

from conftest import ipc_version, wait_for

# ipc/ipc.h: IPC_TICK is 8; only market-data may send it.
IPC_TICK = 8


def test_a_forbidden_message_is_a_protocol_violation(daemon_factory):
    d = daemon_factory(env={"TRADINGD_FAULT": f"notifier:send-type:{IPC_TICK}"})
    d.start(wait_running=False)
    wait_for(lambda: "notifier: protocol violation: sent TICK, which it may not send"
             in d.log_text(), 10, what="the violation in the log")
    wait_for(lambda: (d.status() or {}).get("notifier", {}).get("restarts", 0) >= 1, 10,
             what="notifier restarted")
    assert "protocol violation (signal 9)" in (d.status()["notifier"]["last_exit"] or "") or \
        "protocol violation" in d.log_text()
    assert "stopped answering heartbeats" not in d.log_text()


def test_a_protocol_mismatch_in_ready_is_logged_as_that(daemon_factory):
    d = daemon_factory(env={"TRADINGD_FAULT": "maintenance:ready-version:1"})
    d.start(wait_running=False)
    wanted = ("maintenance: protocol violation: it speaks IPC protocol 1, this supervisor "
              f"{ipc_version()}")
    wait_for(lambda: wanted in d.log_text(), 10, what="the mismatch in the log")
    assert "stopped answering heartbeats" not in d.log_text()
    assert d.state("maintenance") != "RUNNING"


def test_ready_after_start_up_work(daemon_factory):
    d = daemon_factory(env={"TRADINGD_FAULT": "order-execution:ready-after:1500"})
    t0 = time.monotonic()
    d.start(wait_running=False)
    wait_for(lambda: d.state("market-data") == "RUNNING", 10, what="market-data RUNNING")
    assert d.state("order-execution") == "STARTING"
    d.wait_state("order-execution", "RUNNING", timeout=10)
    assert time.monotonic() - t0 >= 1.4
    assert d.status()["order-execution"]["restarts"] == 0


def test_ready_later_than_the_timeout_is_killed(daemon_factory):
    d = daemon_factory({"supervisor.ready_timeout_ms": 500, "supervisor.backoff_initial_ms": 10},
                       env={"TRADINGD_FAULT": "maintenance:ready-after:5000"})
    d.start(wait_running=False)
    wait_for(lambda: "maintenance: pid" in d.log_text() and "did not become ready in time"
             in d.log_text(), 10, what="the ready timeout")
    wait_for(lambda: "ready timeout" in (d.status()["maintenance"]["last_exit"] or ""), 10,
             what="last_exit says ready timeout")
