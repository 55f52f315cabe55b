"""systemd's notify protocol against a fake NOTIFY_SOCKET (a path one and an abstract "@" one):
READY=1 once every process runs, STATUS=, STOPPING=1 on SIGTERM, RELOADING=1 then READY=1 on
SIGHUP, WATCHDOG=1 every WATCHDOG_USEC/2, every datagram from the main pid (NotifyAccess=main)
and none of it reaching the workers' environment."""
import os
import shutil
import signal
import socket
import struct
import tempfile
import threading
import time

import pytest

from conftest import pids_of, wait_for


class NotifySocket:
    """A datagram socket standing in for systemd's, recording who sent what. A thread reads it
    at once, as systemd does: the kernel queues only a few datagrams (net.unix.max_dgram_qlen)
    and a sender blocks when they are not read."""

    def __init__(self, directory, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        if abstract:
            name = f"tradingd-test-notify-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            path = os.path.join(directory, "notify.sock")
            self.sock.bind(path)
            os.chmod(path, 0o777)  # the daemon sends after dropping to nobody
            self.env = path
        self.sock.settimeout(0.05)
        self.messages = []  # (sender pid, text)
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while self.running:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except socket.timeout:
                continue
            except OSError:
                return
            pid = 0
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", payload[:12])[0]
            with self.lock:
                self.messages.append((pid, data.decode()))

    def clear(self):
        with self.lock:
            self.messages.clear()

    def senders(self):
        with self.lock:
            return {pid for pid, _ in self.messages}

    def texts(self):
        with self.lock:
            return [text for _, text in self.messages]

    def wait_for(self, text, timeout=10):
        return wait_for(lambda: text in self.texts(), timeout, what=f"{text!r} on NOTIFY_SOCKET")

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


@pytest.fixture
def notify():
    # Not under pytest's tmp dir, whose 0700 parents the daemon's user cannot cross.
    directory = tempfile.mkdtemp(prefix="tradingd-notify-")
    os.chmod(directory, 0o755)
    made = []

    def make(abstract=False):
        n = NotifySocket(directory, abstract)
        made.append(n)
        return n
    yield make
    for n in made:
        n.close()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_ready_status_and_stopping(daemon_factory, notify, abstract):
    n = notify(abstract)
    d = daemon_factory(env={"NOTIFY_SOCKET": n.env}).start()
    n.wait_for("READY=1")
    texts = n.texts()
    # STATUS= along the way, READY=1 only once all six run, and after the last STATUS says so.
    ready_at = texts.index("READY=1")
    statuses = [t for t in texts[:ready_at] if t.startswith("STATUS=")]
    assert statuses and statuses[-1] == "STATUS=6/6 running", texts
    assert texts.count("READY=1") == 1
    # All from the supervisor itself: NotifyAccess=main would drop anything else.
    assert n.senders() == {d.proc.pid}

    # The workers never saw the variable.
    for name, pid in pids_of(d.status()).items():
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read().split(b"\0")
        assert not any(e.startswith(b"NOTIFY_SOCKET=") for e in env), name

    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(10) == 0
    texts = n.texts()
    after = texts[texts.index("READY=1") + 1:]
    assert "STOPPING=1" in after, texts
    assert "READY=1" not in after


def test_ready_when_start_up_settles_with_a_fatal_worker(daemon_factory, notify):
    """A crash loop at boot is reported as degraded: READY=1 once every process is RUNNING or
    FATAL, never before, so that systemd does not time the start out and restart everything."""
    n = notify()
    d = daemon_factory(overrides={"supervisor.backoff_initial_ms": 10,
                                  "supervisor.backoff_max_ms": 20,
                                  "supervisor.crashloop_max_restarts": 1},
                       env={"NOTIFY_SOCKET": n.env, "TRADINGD_FAULT": "maintenance:exit-at-start"})
    d.start(wait_running=False)
    d.wait_state("maintenance", "FATAL")
    n.wait_for("READY=1")
    texts = n.texts()
    ready = texts.index("READY=1")
    assert any(t.startswith("STATUS=degraded: maintenance FATAL") and "5/6 running" in t
               for t in texts[:ready]), texts
    assert not any(t.startswith("STATUS=6/6") for t in texts), texts
    assert "started degraded: 1 of 6 processes FATAL" in d.log_text()


def test_watchdog_pings(daemon_factory, notify):
    n = notify()
    d = daemon_factory(env={"NOTIFY_SOCKET": n.env, "WATCHDOG_USEC": "200000"}).start()
    n.wait_for("READY=1")
    n.clear()
    t0 = time.monotonic()
    time.sleep(0.75)
    count = n.texts().count("WATCHDOG=1")
    elapsed = time.monotonic() - t0
    # Every 100 ms (half of 200 ms): about 7 in 0.75 s. Counted loosely: a loaded machine
    # (tests run four at a time) delays some, but never makes more than one per 100 ms.
    assert 3 <= count <= int(elapsed / 0.1) + 2, (count, elapsed)
    for name, pid in pids_of(d.status()).items():
        with open(f"/proc/{pid}/environ", "rb") as f:
            assert b"WATCHDOG_USEC=" not in f.read(), name


def test_watchdog_meant_for_another_pid_is_ignored(daemon_factory, notify):
    n = notify()
    daemon_factory(env={"NOTIFY_SOCKET": n.env, "WATCHDOG_USEC": "200000",
                        "WATCHDOG_PID": "1"}).start()
    n.wait_for("READY=1")
    time.sleep(0.4)
    assert "WATCHDOG=1" not in n.texts()


def test_reload_says_reloading_then_ready(daemon_factory, notify):
    n = notify()
    d = daemon_factory(env={"NOTIFY_SOCKET": n.env}).start()
    n.wait_for("READY=1")
    n.clear()
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "READY=1" in n.texts(), 5, what="READY=1 after the reload")
    texts = n.texts()
    assert "RELOADING=1" in texts and texts.index("RELOADING=1") < texts.index("READY=1"), texts
    assert d.status() is not None and d.proc.poll() is None

    # A bad config is refused: no RELOADING=1, nothing changes.
    n.clear()
    good = d.config_path.read_text()
    d.config_path.write_text(good.replace('"mode"', '"mdoe"', 1))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in d.log_text(), 5, what="the reload refused")
    time.sleep(0.1)
    assert "RELOADING=1" not in n.texts()
    d.config_path.write_text(good)
    d.wait_all_running()
