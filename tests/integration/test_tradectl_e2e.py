"""bin/tradectl against a real tradingd: the status columns and --json, stop/start/restart of
one process and of all, pid, version, reload of a bad and of a good file, shutdown, and the
exit codes 2 (usage) and 3 (no daemon)."""
import json
import os
import re
import socket
import subprocess

from conftest import PROCESSES, WORKERS, binary, pid_alive, wait_for, wait_gone

STATUS_LINE = re.compile(r"^pid (\d+), uptime (\d+):(\d\d):(\d\d)$")


def test_status_columns_and_json(daemon):
    res = daemon.ctl("status", check=True)
    lines = res.stdout.splitlines()
    assert [l[:33].rstrip() for l in lines] == PROCESSES
    st = daemon.status()
    for line in lines:
        name, state, desc = line[:33].rstrip(), line[33:43].rstrip(), line[43:]
        assert line[32] == " " and line[42] == " ", repr(line)
        assert state == "RUNNING", line
        m = STATUS_LINE.match(desc)
        assert m and int(m[1]) == st[name]["pid"], line

    out = json.loads(daemon.ctl("--json", "status", check=True).stdout)
    assert out["daemon"]["pid"] == daemon.proc.pid and out["daemon"]["mode"] == "sim"
    for w in out["workers"]:
        assert {"name", "state", "pid", "uptime_s", "restarts", "last_exit"} <= set(w), w
        assert isinstance(w["uptime_s"], int) and w["restarts"] == 0 and w["last_exit"] is None

    # Selected processes only; an unknown name is refused with exit 1.
    res = daemon.ctl("status", "strategy", "notifier", check=True)
    assert [l.split()[0] for l in res.stdout.splitlines()] == ["strategy", "notifier"]
    res = daemon.ctl("status", "nosuch")
    assert res.returncode == 1 and "no such process: nosuch" in res.stderr


def test_stop_start_restart_one(daemon):
    old = daemon.status()["strategy"]["pid"]
    res = daemon.ctl("stop", "strategy", check=True)
    assert res.stdout == "strategy: stopped\n"
    # The reply came once the worker had really gone: nothing to wait for here.
    st = daemon.status()
    assert st["strategy"]["state"] == "STOPPED" and st["strategy"]["pid"] == 0
    assert not pid_alive(old)
    # The description does not say STOPPED again: it says how and when.
    line = daemon.ctl("status", "strategy", check=True).stdout
    assert re.fullmatch(r"STOPPED   exit 0, \d+:\d\d:\d\d ago", line[33:].rstrip()), line
    # Stays stopped, and the others keep running.
    assert st["strategy"]["restarts"] == 0
    assert all(st[n]["state"] == "RUNNING" for n in PROCESSES if n != "strategy")
    assert daemon.ctl("stop", "strategy").stdout == "strategy: not running\n"

    assert daemon.ctl("start", "strategy", check=True).stdout == "strategy: started\n"
    st = daemon.status()["strategy"]
    assert st["state"] == "RUNNING" and st["pid"] not in (0, old)
    assert daemon.ctl("start", "strategy").stdout == "strategy: already started\n"
    started = st["pid"]

    res = daemon.ctl("--json", "restart", "strategy", check=True)
    result = json.loads(res.stdout)["results"][0]
    assert result["name"] == "strategy" and result["result"] == "restarted", result
    assert result["state"] == "RUNNING" and result["pid"] not in (0, started), result
    st = daemon.status()["strategy"]
    assert st["state"] == "RUNNING" and st["pid"] == result["pid"]
    assert not pid_alive(started)
    assert daemon.ctl("restart", "strategy", check=True).stdout == "strategy: restarted\n"
    # Asked-for stops and restarts are not crashes.
    assert daemon.status()["strategy"]["restarts"] == 0

    res = daemon.ctl("stop", "nosuch")
    assert res.returncode == 1 and "no such process" in res.stderr


def test_stop_start_restart_all(daemon):
    before = {n: w["pid"] for n, w in daemon.status().items()}
    res = daemon.ctl("stop", "all", check=True)
    assert sorted(res.stdout.splitlines()) == sorted(f"{n}: stopped" for n in PROCESSES)
    # Every one has stopped by the time the reply comes.
    assert all(w["state"] == "STOPPED" and w["pid"] == 0 for w in daemon.status().values())
    assert wait_gone(list(before.values()), 0.1) == []
    assert daemon.proc.poll() is None  # the daemon itself stays

    res = daemon.ctl("start", "all", check=True)
    assert sorted(res.stdout.splitlines()) == sorted(f"{n}: started" for n in PROCESSES)
    st = daemon.status()
    assert all(w["state"] == "RUNNING" for w in st.values()), st
    assert all(st[n]["pid"] not in (0, before[n]) for n in PROCESSES)

    mid = {n: w["pid"] for n, w in st.items()}
    res = daemon.ctl("restart", "all", check=True)
    assert res.stdout.count(": restarted\n") == len(PROCESSES)
    assert all(w["state"] == "RUNNING" and w["pid"] not in (0, mid[n])
               for n, w in daemon.status().items())


def raw_request(daemon, request):
    """One request line sent as is; the reply line parsed."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(20)
        s.connect(daemon.socket)
        s.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


def test_a_bad_argument_is_quoted_short(daemon):
    """A reply quotes a bad argument up to 40 bytes, then "...": a huge one never echoes."""
    pids = {n: w["pid"] for n, w in daemon.status().items()}
    huge = "x" * 10240
    for args in (["stop", huge], ["stop", "strategy", huge], ["restart", huge, "notifier"],
                 ["status", huge], ["pid", huge]):
        res = daemon.ctl(*args)
        assert res.returncode == 1 and res.stdout == "", (args[0], res.returncode)
        assert res.stderr == "tradectl: no such process: " + "x" * 40 + "...\n", args[0]
    # Refused as a whole: nothing was stopped or restarted.
    assert {n: w["pid"] for n, w in daemon.status().items()} == pids
    # Cut at a character, not inside one: "é" is two bytes.
    res = daemon.ctl("stop", "é" * 5000)
    assert res.stderr == "tradectl: no such process: " + "é" * 20 + "...\n"
    res = daemon.ctl("stop", "a" + "é" * 5000)
    assert res.stderr == "tradectl: no such process: a" + "é" * 19 + "...\n"
    # Up to 40 bytes, the name is quoted whole.
    res = daemon.ctl("stop", "y" * 40)
    assert res.stderr == "tradectl: no such process: " + "y" * 40 + "\n"
    # What tradectl does not check itself, the daemon does, with the same cut.
    assert raw_request(daemon, {"cmd": "z" * 10000}) == \
        {"ok": False, "error": "unknown command: " + "z" * 40 + "..."}
    reply = raw_request(daemon, {"cmd": "stop", "args": ["strategy", "w" * 60000]})
    assert reply == {"ok": False, "error": "no such process: " + "w" * 40 + "..."}
    assert {n: w["pid"] for n, w in daemon.status().items()} == pids


def test_pid_and_version(daemon):
    assert daemon.ctl("pid", check=True).stdout == f"{daemon.proc.pid}\n"
    st = daemon.status()
    for name in PROCESSES:
        assert daemon.ctl("pid", name, check=True).stdout == f"{st[name]['pid']}\n"
    assert json.loads(daemon.ctl("--json", "pid", check=True).stdout)["pid"] == daemon.proc.pid
    res = daemon.ctl("version", check=True)
    assert re.fullmatch(r"tradectl \S+ / tradingd \d+\.\d+\.\d+\n", res.stdout), res.stdout
    v = json.loads(daemon.ctl("--json", "version", check=True).stdout)
    assert {"version", "ipc_version", "schema_version"} <= set(v)
    assert res.stdout.split()[-1] == v["version"]


def test_reload_bad_then_good(daemon):
    good = daemon.config_path.read_text()
    pids = {n: w["pid"] for n, w in daemon.status().items()}

    daemon.config_path.write_text(good.replace('"heartbeat_interval_ms"', '"heartbeat_intervall_ms"'))
    res = daemon.ctl("reload")
    assert res.returncode == 1, res
    assert re.search(re.escape(str(daemon.config_path)) +
                     r":\d+:\d+: supervisor\.heartbeat_intervall_ms: unknown key", res.stderr), \
        res.stderr
    assert "reload refused" in daemon.log_text()
    st = daemon.status()
    assert {n: w["pid"] for n, w in st.items()} == pids
    assert all(w["state"] == "RUNNING" for w in st.values())

    cfg = json.loads(good)
    cfg["log_level"] = "debug"
    cfg["workers"] = {"maintenance": {"enabled": False}}
    daemon.config_path.write_text(json.dumps(cfg, indent=2))
    res = daemon.ctl("reload", check=True)
    assert res.stdout == "reloaded\n"
    # The new file is in force: maintenance is stopped, the rest untouched.
    wait_for(lambda: daemon.state("maintenance") in ("STOPPED", None), 10,
             what="maintenance stopped by the reload")
    assert wait_gone([pids["maintenance"]], 2) == []
    st = daemon.status()
    for n in PROCESSES:
        if n != "maintenance":
            assert st[n]["pid"] == pids[n] and st[n]["state"] == "RUNNING", n

    daemon.config_path.write_text(good)
    daemon.ctl("reload", check=True)
    daemon.wait_all_running()


def test_shutdown(daemon):
    pids = [w["pid"] for w in daemon.status().values()]
    res = daemon.ctl("shutdown", check=True)
    assert res.stdout == "shutting down\n"
    assert daemon.proc.wait(10) == 0
    assert wait_gone(pids, 1) == []
    assert not os.path.exists(daemon.socket)
    res = daemon.ctl("status")
    assert res.returncode == 3 and res.stdout == "" and res.stderr.startswith("tradectl: ")


def test_exit_codes_without_a_daemon(tmp_path):
    sock = str(tmp_path / "absent.sock")
    for args in (["status"], ["pid"], ["stop", "all"], ["--json", "version"]):
        res = subprocess.run([binary("tradectl"), "-s", sock, *args], capture_output=True,
                             text=True, timeout=10)
        assert res.returncode == 3, (args, res)
        assert res.stdout == "" and len(res.stderr.splitlines()) == 1, res.stderr
    for args in (["frobnicate"], [], ["stop"], ["--bogus", "status"]):
        res = subprocess.run([binary("tradectl"), "-s", sock, *args], capture_output=True,
                             text=True, timeout=10)
        assert res.returncode == 2, (args, res)
        assert res.stdout == "" and res.stderr.startswith("tradectl: "), res.stderr


def test_workers_listed_even_when_one_is_disabled(daemon_factory):
    d = daemon_factory(overrides={"workers.notifier.enabled": False}).start(wait_running=False)
    wait_for(lambda: (st := d.status()) and len(st) == len(PROCESSES) and
             all(st[n]["state"] == "RUNNING" for n in st if n != "notifier"), 15,
             what="the enabled ones RUNNING")
    # A disabled worker is still listed, so that an operator sees it is not running.
    notifier = d.status()["notifier"]
    assert notifier["state"] == "STOPPED" and notifier["enabled"] is False
    assert notifier["pid"] == 0
