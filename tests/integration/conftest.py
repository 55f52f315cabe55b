"""Shared fixtures of the integration tests: the binaries under test, and a real tradingd
started on a config of its own in a temporary directory, with its log checked afterwards."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pathlib

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, os.environ.get("TD_BIN", "bin"))
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
WORKERS = ["notifier", "maintenance", "market-data", "order-execution", "strategy"]


def ipc_version():
    """IPC_VERSION as ipc/ipc.h says: the tests follow the header, not a copy of it."""
    with open(os.path.join(ROOT, "ipc", "ipc.h")) as f:
        for line in f:
            if line.startswith("#define IPC_VERSION "):
                return int(line.split()[2])
    raise AssertionError("no IPC_VERSION in ipc/ipc.h")


def binary(name):
    return os.path.join(BIN, name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def descendants_of(pid):
    """Every live process whose parent chain reaches pid."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().split(")")[-1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


class Daemon:
    """One tradingd with its own config, data dir and control socket."""

    def __init__(self, overrides=None, env=None):
        # Not under pytest's 0700 tmp dir: the workers run as nobody and must reach the data.
        tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="tradingd-test-"))
        self.dir = tmp_path
        self.sim_port = free_port()
        self.config = {
            "mode": "sim",
            "user": "nobody",
            "data_dir": str(tmp_path / "data"),
            "run_dir": str(tmp_path / "run"),
            "log_level": "info",
            "supervisor": {
                "heartbeat_interval_ms": 200,
                "heartbeat_timeout_ms": 1500,
                "stop_timeout_ms": 3000,
                "backoff_initial_ms": 50,
                "backoff_max_ms": 1000,
            },
            "sim": {"listen": f"127.0.0.1:{self.sim_port}",
                    "accounts": ["test-access-key:test-secret-key:10000000"]},
            "market_data": {"markets": ["KRW-BTC", "KRW-ETH"]},
        }
        for key, value in (overrides or {}).items():
            node = self.config
            parts = key.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            if value is None:
                node.pop(parts[-1], None)
            else:
                node[parts[-1]] = value
        os.chmod(tmp_path, 0o755)
        self.config_path = tmp_path / "tradingd.json"
        self.config_path.write_text(json.dumps(self.config, indent=2))
        self.socket = str(tmp_path / "run" / "tradingd.sock")
        self.log_path = tmp_path / "tradingd.log"
        self.env = dict(os.environ, **(env or {}))
        self.proc = None

    def start(self, wait_running=True, timeout=15, wrapper=()):
        """wrapper: a command line that runs tradingd, such as setpriv with its options."""
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([*wrapper, binary("tradingd"), "-c", str(self.config_path)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)
        if wait_running:
            self.wait_all_running(timeout)
        return self

    def ctl(self, *args, check=False):
        res = subprocess.run([binary("tradectl"), "-s", self.socket, *args],
                             capture_output=True, text=True, timeout=20)
        if check:
            assert res.returncode == 0, f"tradectl {args}: {res.returncode} {res.stderr}"
        return res

    def status(self):
        res = self.ctl("--json", "status")
        if res.returncode != 0:
            return None
        return {w["name"]: w for w in json.loads(res.stdout)["workers"]}

    def state(self, name):
        st = self.status()
        return st[name]["state"] if st and name in st else None

    def wait_all_running(self, timeout=15):
        def ready():
            st = self.status()
            return st if st and all(w["state"] == "RUNNING" for w in st.values()) and \
                all(n in st for n in WORKERS) else None
        try:
            return wait_for(ready, timeout, what="every process RUNNING")
        except AssertionError as e:
            raise AssertionError(f"{e}\nstatus: {self.status()}\n"
                                 f"log:\n{self.log_text()[-3000:]}") from None

    def wait_state(self, name, state, timeout=15):
        return wait_for(lambda: self.state(name) == state, timeout,
                        what=f"{name} in state {state}")

    def log_text(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def kill_everything(self):
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def assert_clean_log(self):
        text = self.log_text()
        for mark in SANITIZER_MARKS:
            assert mark not in text, f"sanitizer report in the daemon log:\n{text[-4000:]}"


@pytest.fixture
def daemon_factory():
    made = []

    def make(overrides=None, env=None):
        d = Daemon(overrides, env)
        made.append(d)
        return d
    yield make
    for d in made:
        d.stop()
        d.kill_everything()
        d.assert_clean_log()
        shutil.rmtree(d.dir, ignore_errors=True)


@pytest.fixture
def daemon(daemon_factory):
    return daemon_factory().start()


PROCESSES = WORKERS + ["upbit-sim"]


def proc_argv(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode() for a in f.read().split(b"\0")[:-1]]


def proc_ids(pid, field):
    """The real, effective, saved and filesystem ids of pid ("Uid" or "Gid")."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError(f"no {field} line for pid {pid}")


def pids_of(status):
    """name -> pid of every process in a status() answer that has one."""
    return {name: w["pid"] for name, w in status.items() if w["pid"] > 0}


def wait_gone(pids, timeout=5.0):
    """Waits until none of pids is alive; returns those still alive (empty on success)."""
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if pid_alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.005)
        alive = [p for p in alive if pid_alive(p)]
    return alive
