"""bin/tradectl against a fake daemon on a temporary Unix socket.

The fake checks the one request line tradectl sends and answers as told: a reply, silence, garbage,
a close, a huge line. Covers the status columns, --json, exit codes 0/1/2/3 with one stderr line,
--help, the reply timeout and malformed replies. Binaries come from $TD_BIN (default "bin").
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, os.environ.get("TD_BIN", "bin"))
TRADECTL = os.path.join(BIN, "tradectl")

COMMANDS = ["status", "start", "stop", "restart", "reload", "shutdown", "pid", "version"]

WORKERS = [
    {"name": "market-data", "state": "RUNNING", "pid": 4242, "uptime_s": 192, "restarts": 0,
     "last_exit": None, "description": "", "details": {"markets": 3}},
    {"name": "strategy", "state": "BACKOFF", "pid": 0, "uptime_s": 0, "restarts": 2,
     "last_exit": "exit 1", "description": "exited: exit 1", "details": {}},
    {"name": "order-execution", "state": "FATAL", "pid": 0, "uptime_s": 0, "restarts": 6,
     "last_exit": "signal 9", "description": "crash loop: 6 restarts in 60 s", "details": {}},
    {"name": "notifier", "state": "STARTING", "pid": 4250, "uptime_s": 0, "restarts": 0,
     "last_exit": None, "description": "", "details": {}},
    {"name": "maintenance", "state": "STOPPED", "pid": 0, "uptime_s": 0, "restarts": 0,
     "last_exit": None, "description": "", "details": {}},
    {"name": "upbit-sim", "state": "RUNNING", "pid": 4100, "uptime_s": 93784, "restarts": 0,
     "last_exit": None, "description": "", "details": {}},
]
DAEMON = {"pid": 4000, "uptime_s": 93790, "version": "0.1.0", "mode": "sim"}
STATUS_LINES = [
    ("market-data", "RUNNING", "pid 4242, uptime 0:03:12"),
    ("strategy", "BACKOFF", "exited: exit 1"),
    ("order-execution", "FATAL", "crash loop: 6 restarts in 60 s"),
    ("notifier", "STARTING", "pid 4250"),
    ("maintenance", "STOPPED", "Not started"),
    ("upbit-sim", "RUNNING", "pid 4100, uptime 1 day, 2:03:04"),
]


def read_line(conn, limit=1 << 20):
    conn.settimeout(5)
    data = b""
    while b"\n" not in data and len(data) < limit:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class FakeDaemon:
    """Accepts connections on path; each is handled by handler(fake, conn) in a thread."""

    def __init__(self, path, handler):
        self.path = path
        self.handler = handler
        self.requests = []
        self.raw = []
        self.connections = 0
        self.stop = threading.Event()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            try:
                self.handler(self, conn)
            except OSError:
                pass
            finally:
                conn.close()

    def take_request(self, conn):
        line = read_line(conn)
        self.raw.append(line)
        self.requests.append(json.loads(line))
        return self.requests[-1]

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def replying(obj_or_bytes):
    """A handler that reads the request and answers with obj (as one JSON line) or raw bytes."""
    def handler(fake, conn):
        fake.take_request(conn)
        if isinstance(obj_or_bytes, bytes):
            conn.sendall(obj_or_bytes)
        else:
            conn.sendall(json.dumps(obj_or_bytes).encode() + b"\n")
    return handler


def status_handler(fake, conn):
    req = fake.take_request(conn)
    names = req["args"]
    workers = [w for w in WORKERS if not names or w["name"] in names]
    unknown = [n for n in names if n not in [w["name"] for w in WORKERS]]
    if unknown:
        reply = {"ok": False, "error": "no such process: " + unknown[0]}
    else:
        reply = {"ok": True, "workers": workers, "daemon": DAEMON}
    conn.sendall(json.dumps(reply).encode() + b"\n")


@pytest.fixture
def tmp():
    # Short, so that socket paths fit in sun_path.
    d = tempfile.mkdtemp(prefix="tdctl", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def fake(tmp):
    started = []

    def start(handler, name="td.sock"):
        f = FakeDaemon(os.path.join(tmp, name), handler)
        started.append(f)
        return f

    yield start
    for f in started:
        f.close()


def run(*args, env=None, cwd=None, timeout=30):
    assert os.access(TRADECTL, os.X_OK), f"{TRADECTL} missing: build it first (make)"
    full_env = dict(os.environ)
    full_env.pop("TRADINGD_CONFIG", None)
    full_env.pop("TRADECTL_TIMEOUT_MS", None)
    if env:
        full_env.update(env)
    return subprocess.run([TRADECTL, *args], capture_output=True, text=True, env=full_env,
                          cwd=cwd or ROOT, timeout=timeout)


def one_line(text):
    lines = text.splitlines()
    assert len(lines) == 1, f"expected one line, got {text!r}"
    assert text.endswith("\n")
    return lines[0]


def test_status_request_and_columns(fake):
    f = fake(status_handler)
    r = run("-s", f.path, "status")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert f.raw == [b'{"cmd":"status","args":[]}\n']
    lines = r.stdout.splitlines()
    assert len(lines) == len(STATUS_LINES)
    for line, (name, state, desc) in zip(lines, STATUS_LINES):
        assert line == "%-33s%-10s%s" % (name, state, desc)
        assert line[:33].rstrip() == name and line[32] == " "
        assert line[33:43].rstrip() == state and line[42] == " "
        assert line[43:] == desc


def test_status_names(fake):
    f = fake(status_handler)
    r = run("-s", f.path, "status", "strategy", "maintenance")
    assert r.returncode == 0, r.stderr
    assert f.requests == [{"cmd": "status", "args": ["strategy", "maintenance"]}]
    assert [l[:33].rstrip() for l in r.stdout.splitlines()] == ["strategy", "maintenance"]


def test_status_unknown_name_is_refused(fake):
    f = fake(status_handler)
    r = run("-s", f.path, "status", "foo")
    assert r.returncode == 1
    assert r.stdout == ""
    assert one_line(r.stderr) == "tradectl: no such process: foo"


def test_status_json(fake):
    f = fake(status_handler)
    for args in (["--json", "status"], ["status", "--json"]):
        r = run("-s", f.path, *args)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == {"workers": WORKERS, "daemon": DAEMON}
    assert f.requests == [{"cmd": "status", "args": []}] * 2


@pytest.mark.parametrize("cmd,verb", [("start", "started"), ("stop", "stopped"),
                                      ("restart", "restarted")])
def test_start_stop_restart(fake, cmd, verb):
    reply = {"ok": True, "results": [{"name": "strategy", "result": verb},
                                     {"name": "notifier", "result": verb}]}
    f = fake(replying(reply))
    r = run("-s", f.path, cmd, "all")
    assert r.returncode == 0, r.stderr
    assert f.requests == [{"cmd": cmd, "args": ["all"]}]
    assert r.stdout == f"strategy: {verb}\nnotifier: {verb}\n"
    r = run("-s", f.path, "--json", cmd, "strategy")
    assert r.returncode == 0
    assert json.loads(r.stdout) == reply
    assert f.requests[-1] == {"cmd": cmd, "args": ["strategy"]}


def test_start_refused(fake):
    f = fake(replying({"ok": False, "error": "already started"}))
    r = run("-s", f.path, "start", "strategy")
    assert r.returncode == 1
    assert r.stdout == ""
    assert one_line(r.stderr) == "tradectl: already started"
    r = run("-s", f.path, "--json", "start", "strategy")
    assert r.returncode == 1
    assert json.loads(r.stdout) == {"ok": False, "error": "already started"}


def test_reload_shutdown_pid_version(fake):
    replies = {
        "reload": {"ok": True, "result": "reloaded"},
        "shutdown": {"ok": True, "result": "shutting down"},
        "pid": {"ok": True, "pid": 1234},
        "version": {"ok": True, "version": "0.1.0", "ipc_version": 1, "schema_version": 1},
    }

    def handler(fake, conn):
        req = fake.take_request(conn)
        conn.sendall(json.dumps(replies[req["cmd"]]).encode() + b"\n")

    f = fake(handler)
    assert run("-s", f.path, "reload").stdout == "reloaded\n"
    assert run("-s", f.path, "shutdown").stdout == "shutting down\n"
    assert run("-s", f.path, "pid").stdout == "1234\n"
    assert run("-s", f.path, "pid", "market-data").stdout == "1234\n"
    r = run("-s", f.path, "version")
    assert r.returncode == 0
    assert r.stdout == "tradectl 0.1.0 / tradingd 0.1.0\n"
    for cmd, reply in replies.items():
        r = run("-s", f.path, "--json", cmd)
        assert r.returncode == 0
        assert json.loads(r.stdout) == reply
    assert [q["cmd"] for q in f.requests[:5]] == ["reload", "shutdown", "pid", "pid", "version"]
    assert f.requests[3] == {"cmd": "pid", "args": ["market-data"]}
    assert all(q["args"] == [] for i, q in enumerate(f.requests) if i != 3)


def test_reload_config_errors(fake):
    f = fake(replying({"ok": False, "error": "etc/t.json:3:12: mode: bad; etc/t.json:4:1: x: y"}))
    r = run("-s", f.path, "reload")
    assert r.returncode == 1
    assert one_line(r.stderr) == "tradectl: etc/t.json:3:12: mode: bad; etc/t.json:4:1: x: y"


def test_permission_denied_before_reading(fake):
    def reject(fake, conn):
        conn.sendall(b'{"ok":false,"error":"permission denied"}\n')

    f = fake(reject)
    r = run("-s", f.path, "status")
    assert r.returncode == 1
    line = one_line(r.stderr)
    assert line.startswith("tradectl: permission denied (")
    assert "control_group" in line


@pytest.mark.parametrize("args,message", [
    ([], "missing COMMAND"),
    (["bogus"], "unknown command 'bogus'"),
    (["start"], "start needs a NAME"),
    (["stop"], "stop needs a NAME"),
    (["restart"], "restart needs a NAME"),
    (["reload", "x"], "reload takes no arguments"),
    (["pid", "a", "b"], "pid takes at most one NAME"),
    (["-x", "status"], "unknown option '-x'"),
    (["-s"], "option -s needs a PATH"),
    (["status", "-s", "x"], "unknown option '-s'"),
])
def test_usage_errors(fake, args, message):
    f = fake(status_handler)
    cli = args if args[:1] == ["-s"] else ["-s", f.path, *args]
    r = run(*cli)
    assert r.returncode == 2
    assert r.stdout == ""
    line = one_line(r.stderr)
    assert message in line and "--help" in line
    time.sleep(0.05)
    assert f.connections == 0


def test_help_lists_everything():
    for flag in ("-h", "--help"):
        r = run(flag)
        assert r.returncode == 0
        assert r.stderr == ""
        for cmd in COMMANDS:
            assert f"\n  {cmd}" in r.stdout, cmd
        for opt in ("-c, --config", "-s, --socket", "--json", "-h, --help"):
            assert opt in r.stdout, opt
        for code in ("0  ", "1  ", "2  ", "3  "):
            assert "\n  " + code in r.stdout
        assert "relative" in r.stdout and "TRADINGD_CONFIG" in r.stdout


def test_cannot_connect_missing(tmp):
    path = os.path.join(tmp, "nope.sock")
    r = run("-s", path, "status")
    assert r.returncode == 3
    assert r.stdout == ""
    assert one_line(r.stderr) == (f"tradectl: cannot connect to {path}: No such file or "
                                  "directory (is tradingd running? see -s/-c)")


def test_cannot_connect_refused(tmp):
    path = os.path.join(tmp, "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()  # the file stays, nobody listens: a stale socket
    r = run("-s", path, "pid")
    assert r.returncode == 3
    line = one_line(r.stderr)
    assert "Connection refused" in line and "stale socket" in line


def test_cannot_connect_permission(fake, tmp):
    f = fake(status_handler)
    os.chmod(f.path, 0)
    # Root is never denied by file modes: then run as nobody.
    user = 65534 if os.geteuid() == 0 else None
    try:
        r = subprocess.run([TRADECTL, "-s", f.path, "status"], capture_output=True, text=True,
                           timeout=30, user=user)
    finally:
        os.chmod(f.path, 0o600)
    assert r.returncode == 3
    line = one_line(r.stderr)
    assert "Permission denied" in line and "control_group" in line


def test_socket_path_too_long(tmp):
    path = os.path.join(tmp, "x" * 120 + ".sock")
    r = run("-s", path, "status")
    assert r.returncode == 3
    assert "longer than 107 bytes" in one_line(r.stderr)


def test_reply_timeout(fake):
    def silent(fake, conn):
        fake.take_request(conn)
        fake.stop.wait(20)

    f = fake(silent)
    t0 = time.monotonic()
    r = run("-s", f.path, "status", env={"TRADECTL_TIMEOUT_MS": "500"})
    elapsed = time.monotonic() - t0
    assert r.returncode == 1
    assert r.stdout == ""
    assert one_line(r.stderr) == (f"tradectl: no reply from {f.path} within 500 ms "
                                  "(tradingd busy or hung? see its log)")
    assert 0.4 < elapsed < 5
    assert f.requests == [{"cmd": "status", "args": []}]


def test_reply_timeout_default_is_10s(fake):
    def silent(fake, conn):
        fake.take_request(conn)
        fake.stop.wait(30)

    f = fake(silent)
    t0 = time.monotonic()
    r = run("-s", f.path, "version")
    elapsed = time.monotonic() - t0
    assert r.returncode == 1
    assert "within 10 s" in one_line(r.stderr)
    assert 9.5 < elapsed < 15


@pytest.mark.parametrize("raw,message", [
    (b"garbage\n", "not JSON"),
    (b"\n", "not JSON"),
    (b"[1, 2]\n", "not a JSON object"),
    (b'{"result": "started"}\n', 'no boolean "ok" member'),
    (b'{"ok": "yes"}\n', 'no boolean "ok" member'),
    (b'{"ok": true, "workers": [1]}\n', "a worker that is not an object"),
    (b'{"ok": true}\n', 'no "workers" array'),
    (b'{"ok": tr', "not JSON"),
    (b'\xff\xfe{"ok":true}\n', "not JSON"),
])
def test_malformed_replies(fake, raw, message):
    f = fake(replying(raw))
    r = run("-s", f.path, "status")
    assert r.returncode == 1
    assert r.stdout == ""
    line = one_line(r.stderr)
    assert line.startswith("tradectl: malformed reply")
    assert message in line


def test_close_without_reply(fake):
    f = fake(lambda fake, conn: fake.take_request(conn))
    r = run("-s", f.path, "status")
    assert r.returncode == 1
    assert "closed the connection without a reply" in one_line(r.stderr)


def test_close_without_reading(fake):
    f = fake(lambda fake, conn: None)
    r = run("-s", f.path, "status")
    assert r.returncode == 1
    assert "closed the connection without a reply" in one_line(r.stderr)


def test_reply_without_newline_then_close(fake):
    f = fake(replying(b'{"ok":true,"pid":77}'))
    r = run("-s", f.path, "pid")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "77\n"


def test_only_first_line_is_read(fake):
    f = fake(replying(b'{"ok":true,"pid":77}\n{"ok":false}\n'))
    r = run("-s", f.path, "pid")
    assert r.returncode == 0
    assert r.stdout == "77\n"


def test_oversized_reply(fake):
    def huge(fake, conn):
        fake.take_request(conn)
        try:
            conn.sendall(b'{"ok":true,"pad":"' + b"x" * (5 << 20) + b'"}\n')
        except OSError:
            pass  # tradectl hangs up once it has seen enough

    f = fake(huge)
    r = run("-s", f.path, "status")
    assert r.returncode == 1
    assert "larger than 4194304 bytes" in one_line(r.stderr)


def test_control_characters_stay_on_one_line(fake):
    f = fake(replying({"ok": False, "error": "bad\nthing\x1b[31m"}))
    r = run("-s", f.path, "status")
    assert r.returncode == 1
    assert one_line(r.stderr) == "tradectl: bad?thing?[31m"


def write_config(path, obj):
    with open(path, "w") as fh:
        json.dump(obj, fh)
    return path


def test_socket_from_config(fake, tmp):
    f = fake(status_handler)
    cfg = write_config(os.path.join(tmp, "a.json"), {"control": {"socket": f.path}})
    r = run("-c", cfg, "status")
    assert r.returncode == 0, r.stderr
    r = run("status", env={"TRADINGD_CONFIG": cfg})
    assert r.returncode == 0, r.stderr
    assert len(f.requests) == 2


def test_socket_from_run_dir(fake, tmp):
    os.mkdir(os.path.join(tmp, "run"))
    f = fake(status_handler, name="run/tradingd.sock")
    absolute = write_config(os.path.join(tmp, "abs.json"), {"run_dir": os.path.join(tmp, "run")})
    r = run("--config", absolute, "status")
    assert r.returncode == 0, r.stderr
    # A relative run_dir is relative to the current directory, not to the config file.
    os.mkdir(os.path.join(tmp, "etc"))
    relative = write_config(os.path.join(tmp, "etc", "tradingd.json"), {"run_dir": "./run"})
    r = run("-c", relative, "status", cwd=tmp)
    assert r.returncode == 0, r.stderr
    # Without -c and $TRADINGD_CONFIG: ./etc/tradingd.json (unless /etc/tradingd has one).
    if not os.path.exists("/etc/tradingd/tradingd.json"):
        r = run("status", cwd=tmp)
        assert r.returncode == 0, r.stderr
    r = run("-c", relative, "status", cwd=os.path.join(tmp, "etc"))
    assert r.returncode == 3
    assert "./run/tradingd.sock" in one_line(r.stderr)


def test_socket_option_wins_over_config(fake, tmp):
    f = fake(status_handler)
    r = run("-c", os.path.join(tmp, "missing.json"), "-s", f.path, "status")
    assert r.returncode == 0, r.stderr
    r = run("-s", f.path, "-c", os.path.join(tmp, "missing.json"), "status")
    assert r.returncode == 0, r.stderr


def test_bad_config(tmp):
    cfg = os.path.join(tmp, "bad.json")
    with open(cfg, "w") as fh:
        fh.write('{\n  "run_dir": 5\n}\n')
    r = run("-c", cfg, "status")
    assert r.returncode == 2
    assert r.stdout == ""
    assert f"{cfg}:2:" in r.stderr and "run_dir" in r.stderr
    r = run("-c", os.path.join(tmp, "missing.json"), "status")
    assert r.returncode == 2
    assert "cannot open" in r.stderr
    assert "-s SOCKET" in r.stderr.splitlines()[-1]


def test_pending_notice_extends_the_wait(fake):
    """start/stop/restart: a notice first, the reply after longer than tradectl's own timeout."""
    reply = {"ok": True, "results": [{"name": "strategy", "result": "stopped"}]}

    def slow(fake, conn):
        fake.take_request(conn)
        conn.sendall(b'{"pending":true,"wait_ms":3000}\n')
        time.sleep(1.5)
        conn.sendall(json.dumps(reply).encode() + b"\n")

    f = fake(slow)
    t0 = time.monotonic()
    r = run("-s", f.path, "stop", "strategy", env={"TRADECTL_TIMEOUT_MS": "500"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == "strategy: stopped\n"
    assert time.monotonic() - t0 >= 1.4
    # --json prints the reply, not the notice.
    r = run("-s", f.path, "--json", "stop", "strategy", env={"TRADECTL_TIMEOUT_MS": "500"})
    assert r.returncode == 0 and json.loads(r.stdout) == reply, r


def test_pending_notice_and_reply_in_one_write(fake):
    f = fake(replying(b'{"pending":true,"wait_ms":100}\n{"ok":true,"results":[{"name":"a",'
                      b'"result":"started"}]}\n'))
    r = run("-s", f.path, "start", "a")
    assert (r.returncode, r.stdout) == (0, "a: started\n"), r


def test_pending_notice_then_silence(fake):
    def silent(fake, conn):
        fake.take_request(conn)
        conn.sendall(b'{"pending":true,"wait_ms":700}\n')
        fake.stop.wait(20)

    f = fake(silent)
    t0 = time.monotonic()
    r = run("-s", f.path, "restart", "a", env={"TRADECTL_TIMEOUT_MS": "500"})
    elapsed = time.monotonic() - t0
    assert r.returncode == 1
    # The notice's 700 ms plus the reply timeout.
    assert one_line(r.stderr) == (f"tradectl: no reply from {f.path} within 1200 ms "
                                  "(tradingd busy or hung? see its log)")
    assert 1.1 < elapsed < 6


def test_pending_notice_then_close(fake):
    def closes(fake, conn):
        fake.take_request(conn)
        conn.sendall(b'{"pending":true,"wait_ms":5000}\n')

    f = fake(closes)
    r = run("-s", f.path, "stop", "a")
    assert r.returncode == 1
    assert "closed the connection without a reply" in one_line(r.stderr)


@pytest.mark.parametrize("notice", [b'{"pending":true}', b'{"pending":true,"wait_ms":-1}',
                                    b'{"pending":true,"wait_ms":"5"}',
                                    b'{"pending":true,"wait_ms":99999999999}'])
def test_malformed_pending_notice(fake, notice):
    f = fake(replying(notice + b'\n{"ok":true,"results":[]}\n'))
    r = run("-s", f.path, "stop", "a")
    assert r.returncode == 1
    line = one_line(r.stderr)
    assert line.startswith("tradectl: malformed reply") and "wait_ms" in line, line
