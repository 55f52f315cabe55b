#!/usr/bin/python3
"""make bench, backup part: an online backup of a large database while the daemon runs and a
writer commits orders, against the same window without a backup. Reported: the backup's
duration, the worst heartbeat round trip of each worker (tradectl status --json heartbeat_ms,
reset by a restart of maintenance before each window), and the worst commit latency of the
writer. Results in bench/out/backup.json and a marked section of docs/benchmarks.md."""
import json
import os
import pathlib
import pwd
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / "bench" / "out" / "bin"
OUT = ROOT / "bench" / "out"
DOC = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- backup-bench:start -->"
END_MARK = "<!-- backup-bench:end -->"
SIZE_MB = int(os.environ.get("BENCH_BACKUP_MB", "128"))
PAGES = int(os.environ.get("BENCH_BACKUP_PAGES", "256"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ctl(sock, *args, timeout=600):
    res = subprocess.run([str(BIN / "tradectl"), "-s", sock, *args], capture_output=True,
                         text=True, timeout=timeout)
    return res


def status(sock):
    res = ctl(sock, "--json", "status", timeout=20)
    return {w["name"]: w for w in json.loads(res.stdout)["workers"]} if res.returncode == 0 \
        else None


def wait_running(sock, deadline_s=60):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        st = status(sock)
        if st and all(w["state"] == "RUNNING" for w in st.values()):
            return st
        time.sleep(0.1)
    raise SystemExit(f"backup bench: the daemon did not come up: {status(sock)}")


def fill(db_path, mb):
    """Candles (the bulk of a real database) until the file is about mb MB."""
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    row = 0
    while os.path.getsize(db_path) + os.path.getsize(db_path + "-wal") < mb << 20:
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO candles VALUES(?, 1, ?, 1, 1, 1, 1, 1, 1, 0, 0)",
            [(f"KRW-B{i % 200:03d}", row + i) for i in range(50000)])
        db.execute("COMMIT")
        row += 50000
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return row


class Writer(threading.Thread):
    """Commits one order (with its intent) every 20 ms and keeps the worst commit time."""

    def __init__(self, db_path):
        super().__init__()
        self.db = db_path
        self.stop = threading.Event()
        self.worst_ms = 0.0
        self.commits = 0

    def run(self):
        db = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        n = 0
        while not self.stop.is_set():
            t0 = time.monotonic()
            db.execute("BEGIN IMMEDIATE")
            cur = db.execute(
                "INSERT INTO order_intents(market, side, ord_type, state, created_ms,"
                " updated_ms) VALUES('KRW-BTC', 'bid', 'price', 'done', 0, 0)")
            db.execute(
                "INSERT INTO orders(uuid, intent_id, identifier, market, side, ord_type, state,"
                " created_ms, updated_ms) VALUES(?, ?, ?, 'KRW-BTC', 'bid', 'price', 'done', 0,"
                " 0)", (f"bench-{os.getpid()}-{time.monotonic_ns()}", cur.lastrowid,
                        f"bench-{n}-{time.monotonic_ns()}"))
            db.execute("COMMIT")
            self.worst_ms = max(self.worst_ms, (time.monotonic() - t0) * 1000)
            self.commits += 1
            n += 1
            time.sleep(0.02)
        db.close()


def window(sock, db_path, seconds=None):
    """Restarts maintenance (fresh heartbeat figures), then either runs a backup or waits."""
    ctl(sock, "restart", "maintenance", timeout=60)
    wait_running(sock)
    w = Writer(db_path)
    w.start()
    # The writer has committed before the window opens: the snapshot has orders in it.
    time.sleep(1)
    t0 = time.monotonic()
    if seconds is None:
        res = ctl(sock, "--json", "backup")
        took = time.monotonic() - t0
        reply = json.loads(res.stdout) if res.stdout.strip() else {}
    else:
        time.sleep(seconds)
        took, reply = seconds, None
    w.stop.set()
    w.join()
    st = status(sock)
    beats = {n: s.get("heartbeat_ms", {}).get("worst") for n, s in st.items()}
    return {"seconds": round(took, 2), "heartbeat_worst_ms": beats,
            "commit_worst_ms": round(w.worst_ms, 1), "commits": w.commits, "reply": reply}


def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tradingd-backup-bench-"))
    os.chmod(tmp, 0o755)
    sock = str(tmp / "run" / "tradingd.sock")
    config = {
        "mode": "sim", "user": "nobody" if os.geteuid() == 0 else os.environ.get("USER", ""),
        "data_dir": str(tmp / "data"), "run_dir": str(tmp / "run"), "log_level": "notice",
        "supervisor": {"heartbeat_interval_ms": 100, "heartbeat_timeout_ms": 5000},
        "sim": {"listen": f"127.0.0.1:{free_port()}"},
        "market_data": {"markets": ["KRW-BTC"]},
        "maintenance": {"backup_pages_per_step": PAGES},
    }
    cfg_path = tmp / "tradingd.json"
    cfg_path.write_text(json.dumps(config))
    log = open(tmp / "tradingd.log", "ab")

    # The simulator beside the snapshot of the daemon's binaries (run.sh copies three).
    if not (BIN / "upbit-sim").exists():
        shutil.copy(ROOT / "bin" / "upbit-sim", BIN / "upbit-sim")

    def start():
        p = subprocess.Popen([str(BIN / "tradingd"), "-c", str(cfg_path)], stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_running(sock)
        except SystemExit:
            p.terminate()
            p.wait(60)
            raise
        return p

    daemon = start()
    daemon.terminate()
    daemon.wait(60)
    db_path = str(tmp / "data" / "tradingd.db")
    t0 = time.monotonic()
    rows = fill(db_path, SIZE_MB)
    fill_s = time.monotonic() - t0
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for f in os.listdir(tmp / "data"):
            os.chown(tmp / "data" / f, nobody.pw_uid, nobody.pw_gid)
    size = os.path.getsize(db_path)
    daemon = start()
    try:
        backup = window(sock, db_path)
        # The same length of time without a backup, the same writer: the baseline.
        baseline = window(sock, db_path, seconds=max(backup["seconds"], 5))
    finally:
        daemon.terminate()
        daemon.wait(60)
        log.close()
    result = {"db_bytes": size, "candle_rows": rows, "fill_s": round(fill_s, 1),
              "pages_per_step": PAGES, "backup": backup, "baseline": baseline,
              "loadavg": open("/proc/loadavg").read().split()[:3],
              "run": os.environ.get("BENCH_RUN_ID", "")}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "backup.json").write_text(json.dumps(result, indent=2))
    write_doc(result)
    shutil.rmtree(tmp, ignore_errors=True)


def write_doc(r):
    b, a = r["backup"], r["baseline"]
    msg = (b["reply"].get("results") or [{}])[0].get("message", "") if b["reply"] else ""
    lines = [START_MARK, "", "## Backup of a large database while the daemon runs", "",
             f"Run `{r['run']}`: database {r['db_bytes'] / 1e6:.0f} MB ({r['candle_rows']} "
             f"candle rows), `backup_pages_per_step` {r['pages_per_step']}, heartbeat every "
             f"100 ms, a writer committing an order every 20 ms throughout; load average "
             f"{' '.join(r['loadavg'])} at the end. `bench/backup_bench.py`; raw: "
             "`bench/out/backup.json`.", "",
             "| window | seconds | maintenance worst heartbeat ms | writer worst commit ms |"
             " commits |",
             "|---|---:|---:|---:|---:|"]
    for name, w in (("backup", b), ("no backup", a)):
        lines.append(f"| {name} | {w['seconds']} | {w['heartbeat_worst_ms'].get('maintenance')}"
                     f" | {w['commit_worst_ms']} | {w['commits']} |")
    lines += ["", "The heartbeat figure is the worst PING→PONG round trip the supervisor saw for "
              "maintenance (the process that runs the backup) over the window; maintenance is "
              "restarted before each window so that it starts from zero."]
    lines += ["", f"The backup's own summary: {msg}", "", END_MARK]
    text = DOC.read_text() if DOC.exists() else ""
    if START_MARK in text and END_MARK in text:
        head, rest = text.split(START_MARK, 1)
        tail = rest.split(END_MARK, 1)[1]
        text = head + "\n".join(lines) + tail
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    DOC.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
