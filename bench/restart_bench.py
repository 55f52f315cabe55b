#!/usr/bin/python3
"""Crash-to-restart latency of tradingd's workers against supervisord, runsv and s6-supervise
restarting a tiny child, and tradingd's idle CPU and memory. Run by bench/run.sh, which first
unpacks the three peers into bench/peers/ (bench/peers.sh; peers.json says how to run each).

Every time is CLOCK_MONOTONIC in nanoseconds (time.monotonic_ns() here, clock_gettime in the
C helpers), so times taken in different processes compare directly. Raw results go to
bench/out/; docs/benchmarks.md is regenerated from them by bench/render_doc.py.
"""

import json
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "bench", "out")
RUN = os.path.join(OUT, "run")
TINY = os.path.join(OUT, "tiny_child")
FLOOR = os.path.join(OUT, "spawn_floor")
# run.sh snapshots bin/ here: the tree may be rebuilt by someone else while the bench runs.
TRADINGD = os.path.join(OUT, "bin", "tradingd")
TRADECTL = os.path.join(OUT, "bin", "tradectl")
PEERS_JSON = os.environ.get("BENCH_PEERS_JSON",
                            os.path.join(ROOT, "bench", "peers", "peers.json"))

KILLS = int(os.environ.get("BENCH_KILLS", "200"))
# Tiny services per supervisor. Each runs under its own supervisor process, so their number
# does not change one restart; ten keep the one-second pauses of the others to ~20 s a row.
SERVICES = 10
ROLES = ["notifier", "maintenance", "market-data", "order-execution", "strategy"]
# Per measurement; run.sh also bounds the whole run.
TIMEOUTS = {"tradingd": 60, "floor": 30, "runsv": 60, "s6": 60, "s6-ready": 60,
            "supervisord": 90}

# Linux's SO_TIMESTAMPNS (x86_64 and most others): the kernel stamps each datagram on arrival
# with CLOCK_REALTIME. Python's socket module does not name it.
SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS

started = []  # every Popen we started, each leading its own session
child_pids = set()  # every tiny child that said it was up


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def now():
    return time.monotonic_ns()


def realtime_offset():
    """CLOCK_REALTIME minus CLOCK_MONOTONIC now; taken afresh each time, so that a slewing
    wall clock does not drift into the results."""
    a = time.monotonic_ns()
    r = time.clock_gettime_ns(time.CLOCK_REALTIME)
    b = time.monotonic_ns()
    return r - (a + b) // 2


def ms(ns):
    return ns / 1e6


class Timeout(Exception):
    pass


def start(argv, env=None, out=None, cwd=None):
    """Starts a process in its own session so that cleanup can signal its whole group."""
    logf = open(out, "ab") if out else subprocess.DEVNULL
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=logf,
                         stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
    if out:
        logf.close()
    started.append(p)
    return p


def stop(p, grace=5.0):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(p.pid, signal.SIGKILL)  # stragglers in the group, if any
    except ProcessLookupError:
        pass
    if p.poll() is None:
        p.kill()
        p.wait()


def sweep_children():
    """Kills any tiny child still alive: s6 and supervisord put theirs in other groups."""
    for pid in list(child_pids):
        try:
            exe = os.readlink("/proc/%d/exe" % pid)
        except OSError:
            child_pids.discard(pid)
            continue
        if os.path.realpath(exe) == os.path.realpath(TINY):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        child_pids.discard(pid)


def cleanup():
    for p in reversed(started):
        stop(p)
    sweep_children()


class Listener:
    """A datagram socket that timestamps what it receives."""

    def __init__(self, path):
        self.path = path
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        # tradingd drops privileges to "nobody" before it sends anything.
        os.chmod(path, 0o666)

    def fileno(self):
        return self.sock.fileno()

    def drain(self):
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(512)
        except BlockingIOError:
            pass
        self.sock.setblocking(True)

    def recv(self, until_ns):
        """Returns (data, stamp): stamp is when the kernel queued the datagram, on the
        monotonic clock, so a bench delayed by the scheduler still gets the true time."""
        left = (until_ns - now()) / 1e9
        if left <= 0:
            raise Timeout()
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            raise Timeout()
        data, anc, _, _ = self.sock.recvmsg(512, socket.CMSG_SPACE(16))
        received = now()
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(payload) >= 16:
                sec, nsec = struct.unpack("qq", payload[:16])
                return data, sec * 10**9 + nsec - realtime_offset()
        return data, received

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def parse_up(data):
    m = re.match(rb"up (\S+) (\d+) (\d+)$", data)
    if not m:
        return None
    return m.group(1).decode(), int(m.group(2)), int(m.group(3))


# ---------------------------------------------------------------- /proc readings


def read_status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def read_pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def cpu_ns(pid):
    """Time on CPU of every thread, in ns, from the scheduler (finer than clock ticks)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def footprint(pid):
    return {"rss_kb": read_status_kb(pid, "VmRSS"), "pss_kb": read_pss_kb(pid),
            "rss_anon_kb": read_status_kb(pid, "RssAnon"),
            "rss_file_kb": read_status_kb(pid, "RssFile")}


# ---------------------------------------------------------------- tradingd


def worker_binary(pid):
    """The name of the binary a worker was exec'd from (tradingd or tradingd-net)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return os.path.basename(f.read().split(b"\0")[0].decode())
    except (OSError, TypeError):
        return "?"


def tradingd_workers(sup_pid):
    """role -> pid of the supervisor's children, read from /proc (no IPC, no polling delay)."""
    with open("/proc/%d/task/%d/children" % (sup_pid, sup_pid)) as f:
        pids = [int(x) for x in f.read().split()]
    roles = {}
    for pid in pids:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if len(argv) >= 3 and argv[1] == b"-x":
            roles[argv[2].decode()] = pid
    return roles


STATUS_RE = re.compile(rb"STATUS=(\d+)/(\d+) running")


def bench_tradingd():
    deadline = now() + TIMEOUTS["tradingd"] * 10**9
    base = os.path.join(OUT, "tradingd")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    cfg = {
        "mode": "paper",
        "data_dir": os.path.join(base, "data"),
        "run_dir": os.path.join(base, "run"),
        "log_level": "info",
        "supervisor": {"backoff_reset_ms": 0, "crashloop_max_restarts": 100000,
                       "crashloop_window_s": 1},
    }
    cfg_path = os.path.join(base, "tradingd.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=1)
    notify = Listener(os.path.join(RUN, "notify.sock"))
    env = dict(os.environ, NOTIFY_SOCKET=notify.path)
    sup = start([TRADINGD, "-c", cfg_path], env=env, out=os.path.join(OUT, "tradingd.log"))
    result = {"config": cfg, "samples": [], "idle": None}
    try:
        while True:
            data, _ = notify.recv(min(deadline, now() + 15 * 10**9))
            if data == b"READY=1":
                break
        workers = tradingd_workers(sup.pid)
        if sorted(workers) != sorted(ROLES):
            raise RuntimeError("workers after start: %r" % workers)
        result["idle"] = idle_footprint(sup.pid, workers)
        log("tradingd idle: %.1f MB RSS, %.1f MB PSS, %.3f %% CPU" % (
            result["idle"]["total"]["rss_kb"] / 1024, result["idle"]["total"]["pss_kb"] / 1024,
            result["idle"]["total"]["cpu_percent_schedstat"]))
        for i in range(KILLS):
            role = ROLES[i % len(ROLES)]
            old = tradingd_workers(sup.pid)[role]
            notify.drain()
            time.sleep(random.uniform(0.005, 0.015))
            sample = {"role": role, "old_pid": old}
            marks = []
            t0 = now()
            os.kill(old, signal.SIGKILL)
            while True:
                data, t = notify.recv(deadline)
                m = STATUS_RE.match(data)
                if not m:
                    continue
                running, enabled = int(m.group(1)), int(m.group(2))
                marks.append(t)
                if running == enabled and len(marks) >= 2:
                    break
            # The supervisor sends one STATUS per state change: EXITED, STARTING, RUNNING.
            sample["kill"] = t0
            sample["exited"] = marks[0]
            sample["starting"] = marks[-2]
            sample["ready"] = marks[-1]
            sample["new_pid"] = tradingd_workers(sup.pid).get(role)
            if sample["new_pid"] in (None, old):
                raise RuntimeError("%s was not restarted: %r" % (role, sample))
            sample["binary"] = worker_binary(sample["new_pid"])
            result["samples"].append(sample)
        status = subprocess.run([TRADECTL, "-s", os.path.join(base, "run", "tradingd.sock"),
                                 "--json", "status"], capture_output=True, text=True,
                                timeout=10)
        result["tradectl_status"] = json.loads(status.stdout)
        result["after_kills"] = {str(pid): footprint(pid) for pid in
                                 [sup.pid] + list(tradingd_workers(sup.pid).values())}
        result["supervisor_rss_after_kills_kb"] = read_status_kb(sup.pid, "VmRSS")
    except Timeout:
        result["error"] = "timed out after %d samples" % len(result["samples"])
        log("tradingd: " + result["error"])
    finally:
        stop(sup, grace=10)
        notify.close()
    return result


def idle_footprint(sup_pid, workers, settle_s=2.0, window_s=10.0):
    """CPU over a window after the daemon settled, then memory of all six processes."""
    pids = {"supervisor": sup_pid}
    pids.update(workers)
    time.sleep(settle_s)
    t0 = now()
    ticks0 = {k: cpu_ticks(p) for k, p in pids.items()}
    ns0 = {k: cpu_ns(p) for k, p in pids.items()}
    time.sleep(window_s)
    elapsed = now() - t0
    hz = os.sysconf("SC_CLK_TCK")
    procs = {}
    for k, p in pids.items():
        d = footprint(p)
        d["pid"] = p
        d["binary"] = worker_binary(p)
        d["cpu_ticks"] = cpu_ticks(p) - ticks0[k]
        d["cpu_ns"] = cpu_ns(p) - ns0[k]
        d["cpu_percent_ticks"] = 100.0 * d["cpu_ticks"] / hz / (elapsed / 1e9)
        d["cpu_percent_schedstat"] = 100.0 * d["cpu_ns"] / elapsed
        procs[k] = d
    total = {key: sum(d[key] for d in procs.values())
             for key in ("rss_kb", "pss_kb", "rss_anon_kb", "rss_file_kb", "cpu_ticks",
                         "cpu_ns", "cpu_percent_ticks", "cpu_percent_schedstat")}
    return {"settle_s": settle_s, "window_s": elapsed / 1e9, "clk_tck": hz, "procs": procs,
            "total": total}


# ---------------------------------------------------------------- bare fork+exec


def bench_floor():
    sock = os.path.join(RUN, "floor.sock")
    p = subprocess.run([FLOOR, sock, TINY, str(KILLS)], capture_output=True, text=True,
                       timeout=TIMEOUTS["floor"])
    samples = []
    for line in p.stdout.splitlines():
        kill, reaped, fork, up, received = (int(x) for x in line.split())
        samples.append({"kill": kill, "reaped": reaped, "fork": fork, "up": up,
                        "received": received})
    result = {"samples": samples}
    if p.returncode != 0:
        result["error"] = p.stderr.strip()
    return result


# ---------------------------------------------------------------- runsv, s6, supervisord


class Fifo:
    """A reader on s6's event fifodir: s6-supervise writes one letter per event to every
    fifo in service/event whose name is shaped like s6's own, "ftrig1:@<24 hex>:<6 chars>"
    (s6 2.11 checks the length); the letters are d: died, D: finish done, u: spawned, U: ready."""

    def __init__(self, event_dir):
        self.path = os.path.join(event_dir, "ftrig1:@" + "0" * 24 + ":bench_")
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.mkfifo(self.path, 0o622)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        # Our own writer keeps the fifo from reading as end-of-file between events.
        self.keep = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)

    def fileno(self):
        return self.fd

    def close(self):
        os.close(self.fd)
        os.close(self.keep)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def make_service(kind, name, ready):
    d = os.path.join(OUT, "svc", kind, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    # The binary itself is ./run: no shell between the supervisor and the child.
    os.symlink(TINY, os.path.join(d, "run"))
    if ready:
        with open(os.path.join(d, "notification-fd"), "w") as f:
            f.write("3\n")
    return d


def supervisord_conf(name, sock):
    d = os.path.join(OUT, "svc", "supervisord", name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    conf = os.path.join(d, "supervisord.conf")
    with open(conf, "w") as f:
        f.write("[supervisord]\nnodaemon=true\nuser=root\nlogfile=%s/supervisord.log\n"
                "pidfile=%s/supervisord.pid\n\n"
                "[program:%s]\ncommand=%s\nstartsecs=0\nautorestart=true\n"
                "startretries=1000000\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
                "environment=BENCH_SOCKET=\"%s\",BENCH_NAME=\"%s\"\n"
                % (d, d, name, TINY, sock, name))
    return conf


def load_peers():
    with open(PEERS_JSON) as f:
        return json.load(f)


def bench_tiny(kind, n):
    """kind: runsv, s6, s6-ready or supervisord; SERVICES instances of it, one service each,
    killed in turn. A service is killed again only once it is back (and, for runsv, has run
    long enough that runsv does not throttle its restart)."""
    deadline = now() + TIMEOUTS[kind] * 10**9
    listener = Listener(os.path.join(RUN, kind + ".sock"))
    names = ["%s%d" % (kind.replace("-", ""), i) for i in range(SERVICES)]
    svc = {name: {"pid": None, "pending": None, "up_at": 0, "sup": None} for name in names}
    fifos = {}
    ready = kind == "s6-ready"
    # runsv, and s6-supervise when the service notifies readiness, restart at once only a child
    # that has been up for a second; without notification s6 always pauses a second.
    min_uptime = 1_050_000_000 if kind in ("runsv", "s6-ready") else 0
    spacing = 50_000_000
    # s6 writes 'u' just after its fork, often after the child is up already: wait for it too.
    wait_events = {"s6": "u", "s6-ready": "uU"}.get(kind, "")
    samples = []
    result = {"samples": samples, "services": SERVICES, "min_uptime_ns": min_uptime}
    peer = load_peers()[kind if kind in ("runsv", "supervisord") else "s6-supervise"]
    try:
        for name in names:
            env = dict(os.environ, BENCH_SOCKET=listener.path, BENCH_NAME=name, **peer["env"])
            if ready:
                env["BENCH_READY_FD"] = "3"
            if kind == "supervisord":
                conf = supervisord_conf(name, listener.path)
                svc[name]["sup"] = start(peer["argv"] + ["-n", "-c", conf], env=env)
            else:
                d = make_service(kind, name, ready)
                svc[name]["sup"] = start(peer["argv"] + [d], env=env,
                                         out=os.path.join(OUT, kind + ".log"))
                svc[name]["dir"] = d
        # Every service up once; then the event fifos of s6 exist.
        while any(s["pid"] is None for s in svc.values()):
            data, t = listener.recv(deadline)
            up = parse_up(data)
            if up and up[0] in svc:
                svc[up[0]]["pid"] = up[1]
                svc[up[0]]["up_at"] = t
                child_pids.add(up[1])
        if kind.startswith("s6"):
            for name in names:
                ev = os.path.join(svc[name]["dir"], "event")
                while not os.path.isdir(ev):
                    if now() > deadline:
                        raise Timeout()
                    time.sleep(0.01)
                fifos[name] = Fifo(ev)
        last_kill = 0
        turn = 0
        while len(samples) < n:
            t = now()
            name = names[turn % len(names)]
            s = svc[name]
            eligible = (s["pending"] is None and t >= s["up_at"] + min_uptime and
                        t >= last_kill + spacing and
                        sum(1 for x in svc.values() if x["pending"]) + len(samples) < n)
            if eligible:
                time.sleep(random.uniform(0, 0.005))
                t0 = now()
                os.kill(s["pid"], signal.SIGKILL)
                s["pending"] = {"kill": t0, "old_pid": s["pid"], "service": name}
                last_kill = t0
                turn += 1
                continue
            if s["pending"] is None and t < s["up_at"] + min_uptime:
                wake = s["up_at"] + min_uptime
            else:
                wake = max(last_kill + spacing, t + 1_000_000)
            if sum(1 for x in svc.values() if x["pending"]) == 0 and wake > deadline:
                raise Timeout()
            r, _, _ = select.select([listener] + list(fifos.values()), [], [],
                                    max(0, min(wake, deadline) - now()) / 1e9)
            if now() > deadline:
                raise Timeout()
            for src in r:
                if src is listener:
                    data, t = listener.recv(deadline)
                    up = parse_up(data)
                    if not up or up[0] not in svc:
                        continue
                    s2 = svc[up[0]]
                    child_pids.add(up[1])
                    s2["pid"] = up[1]
                    if s2["pending"]:
                        s2["pending"]["up"] = up[2]
                        s2["pending"]["received"] = t
                        s2["pending"]["new_pid"] = up[1]
                else:
                    t = now()
                    name2 = [k for k, f in fifos.items() if f is src][0]
                    try:
                        events = os.read(src.fd, 64).decode(errors="replace")
                    except BlockingIOError:
                        continue
                    s2 = svc[name2]
                    if s2["pending"]:
                        for ch in events:
                            s2["pending"].setdefault("event_" + ch, t)
            for name2 in names:
                p = svc[name2]["pending"]
                if p and "up" in p and all("event_" + ev in p for ev in wait_events):
                    samples.append(p)
                    svc[name2]["pending"] = None
                    svc[name2]["up_at"] = now()
        result["supervisor_rss_kb"] = sum(read_status_kb(s["sup"].pid, "VmRSS")
                                          for s in svc.values())
        result["supervisor_pss_kb"] = sum(read_pss_kb(s["sup"].pid) or 0
                                          for s in svc.values())
    except Timeout:
        result["error"] = "timed out after %d samples" % len(samples)
        log("%s: %s" % (kind, result["error"]))
    finally:
        for f in fifos.values():
            f.close()
        for s in svc.values():
            if s["sup"]:
                stop(s["sup"])
        sweep_children()
        listener.close()
    return result


# ---------------------------------------------------------------- machine and main


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]

    def version(argv):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=5)
            return (p.stdout or p.stderr).strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return "unknown"

    def deb(pkg):
        return version(["dpkg-query", "-W", "-f=${Version}", pkg])

    peers = load_peers()["versions"]
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": os.uname().release,
            "loadavg_at_start": load, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "run_id": os.environ.get("BENCH_RUN_ID", "unnamed"),
            "commit": os.environ.get("BENCH_COMMIT", "unknown"),
            "python": sys.version.split()[0], "supervisor_deb": peers.get("supervisor", "?"),
            "runit_deb": peers.get("runit", "?"), "s6_deb": peers.get("s6", "?"),
            "peers_unpacked": peers, "libuv_deb": deb("libuv1-dev"),
            "tradingd": version([TRADINGD, "--version"])}


def main():
    os.makedirs(RUN, exist_ok=True)
    os.chmod(RUN, 0o755)

    def on_term(signum, frame):
        raise SystemExit("bench: signal %d" % signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    results = {"machine": machine(), "kills": KILLS}
    try:
        for name, fn in (("tradingd", bench_tradingd), ("floor", bench_floor),
                         ("runsv", lambda: bench_tiny("runsv", KILLS)),
                         ("s6", lambda: bench_tiny("s6", KILLS)),
                         ("s6-ready", lambda: bench_tiny("s6-ready", KILLS)),
                         ("supervisord", lambda: bench_tiny("supervisord", KILLS))):
            t = time.monotonic()
            log("%s ..." % name)
            results[name] = fn()
            results[name]["wall_s"] = time.monotonic() - t
            log("%s: %d samples in %.1f s" % (name, len(results[name]["samples"]),
                                               results[name]["wall_s"]))
    finally:
        cleanup()
        with open("/proc/loadavg") as f:
            results["machine"]["loadavg_at_end"] = f.read().split()[:3]
        with open(os.path.join(OUT, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
