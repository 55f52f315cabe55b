#!/usr/bin/python3
"""make bench, backup part (issue 10): an online backup of a 1 GB database while the daemon
trades the way bench/tick does (its plugin, trace and simulator, imported), against a window as
long without a backup. Per window: the backup's duration, the heartbeat round trips of each
worker, the tick-to-order delay of the crossings lifted in it. Results in bench/out/backup.json
and a marked section of docs/benchmarks.md."""
import json
import os
import pathlib
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench" / "tick"))
import tick_bench as tick  # noqa: E402  (the trading path, shared, not copied)

BIN = ROOT / "bench" / "out" / "bin"
OUT = ROOT / "bench" / "out"
DOC = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- backup-bench:start -->"
END_MARK = "<!-- backup-bench:end -->"
SIZE_MB = int(os.environ.get("BENCH_BACKUP_MB", "1024"))
PAGES = int(os.environ.get("BENCH_BACKUP_PAGES", "256"))
MARKETS = int(os.environ.get("BENCH_BACKUP_MARKETS", "250"))  # the simulator serves at most 250
GAP_S = float(os.environ.get("BENCH_BACKUP_GAP_S", "0.2"))
ROW_TEXT = 800  # hex characters of volume per candle row: few rows, every page real


def fill(db_path, mb):
    """Candles until the file is about mb MB, in one transaction with synchronous=OFF while
    the daemon is stopped (a real file of b-tree and overflow pages; WAL again afterwards)."""
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA synchronous=OFF")
    rows = (mb << 20) // (ROW_TEXT + 293)  # 1093 bytes a row in the file, measured
    db.execute("BEGIN")
    db.execute("WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ?)"
               " INSERT INTO candles SELECT printf('KRW-B%03d', i % 200), 1, i, 1, 1, 1, 1,"
               " hex(randomblob(?)), '1', 0, 0 FROM s", (rows - 1, ROW_TEXT // 2))
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    return rows


def pct(v, q):
    v = sorted(v)
    return v[max(0, -(-len(v) * q // 100) - 1)] if v else None


class Window:
    """Lifts one market at a time across the target every GAP_S and samples every worker's
    last heartbeat round trip every 50 ms (the heartbeat is every 100 ms), until stopped."""

    def __init__(self, sim, sock, todo):
        self.sim, self.sock, self.todo = sim, sock, todo
        self.stop = threading.Event()
        self.lifted, self.beats = [], {}
        self.threads = [threading.Thread(target=self.lift), threading.Thread(target=self.sample)]

    def lift(self):
        while not self.stop.is_set() and self.todo:
            m = self.todo.pop(0)
            while not self.sim.price(m, tick.ABOVE):
                time.sleep(0.05)  # the minute was full: a new one starts within a second
            self.lifted.append(m)
            self.stop.wait(GAP_S)

    def sample(self):
        while not self.stop.is_set():
            res = tick.ctl(self.sock, "--json", "status", timeout=20)
            if res.returncode == 0:
                for w in json.loads(res.stdout)["workers"]:
                    self.beats.setdefault(w["name"], []).append(w["heartbeat_ms"]["last"])
            self.stop.wait(0.05)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()


def window(sim, sock, todo, seconds=None):
    """Restarts maintenance (its worst heartbeat from zero), then a backup or a wait."""
    tick.ctl(sock, "restart", "maintenance", timeout=60)
    tick.wait_running(sock)
    with Window(sim, sock, todo) as w:
        t0 = time.monotonic()
        if seconds is None:
            res = tick.ctl(sock, "--json", "backup", timeout=900)
            took = time.monotonic() - t0
            reply = json.loads(res.stdout) if res.stdout.strip() else {}
        else:
            time.sleep(seconds)
            took, reply = seconds, None
    st = {x["name"]: x for x in json.loads(tick.ctl(sock, "--json", "status").stdout)["workers"]}
    beats = {n: {"samples": len(v), "p99": pct(v, 99), "max": max(v)} for n, v in w.beats.items()}
    beats["maintenance"]["worst"] = st["maintenance"]["heartbeat_ms"]["worst"]
    return {"seconds": round(took, 2), "heartbeat_ms": beats, "lifted": w.lifted,
            "reply": reply}


def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tradingd-backup-bench-"))
    os.chmod(tmp, 0o755)
    subprocess.run(["gcc", "-O2", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
                    "-I", str(ROOT), "-fPIC", "-shared", "-o", str(tmp / "cross_plugin.so"),
                    str(ROOT / "bench" / "tick" / "cross_plugin.c")], check=True)
    if not (BIN / "upbit-sim").exists():
        shutil.copy(ROOT / "bin" / "upbit-sim", BIN / "upbit-sim")
    markets = ["KRW-T%03d" % i for i in range(MARKETS)]
    sim = tick.Sim(tmp, markets)
    for m in markets:
        sim.price(m, tick.BASE)
    sock = str(tmp / "run" / "tradingd.sock")
    config = tick.trading_config(tmp, sim.port, markets, tmp / "cross_plugin.so")
    config["supervisor"] = {"heartbeat_interval_ms": 100, "heartbeat_timeout_ms": 5000}
    config["maintenance"] = {"backup_pages_per_step": PAGES}
    cfg_path = tmp / "tradingd.json"
    cfg_path.write_text(json.dumps(config))
    log = open(tmp / "tradingd.log", "ab")
    env = dict(os.environ, TRADINGD_FAULT="market-data:trace-ticks")
    env.pop("TRADINGD_CLOCK", None)
    data = tmp / "data"
    db_path = str(data / "tradingd.db")

    def start():
        p = subprocess.Popen([str(BIN / "tradingd"), "-c", str(cfg_path)], stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True, env=env)
        try:
            tick.wait_running(sock)
        except SystemExit:
            p.terminate()
            p.wait(60)
            raise
        return p

    try:
        daemon = start()  # creates and migrates the database
        daemon.terminate()
        daemon.wait(60)
        t0 = time.monotonic()
        rows = fill(db_path, SIZE_MB)
        fill_s = time.monotonic() - t0
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            for f in os.listdir(data):
                os.chown(data / f, nobody.pw_uid, nobody.pw_gid)
        size = os.path.getsize(db_path)
        (data / "tick-trace.txt").unlink(missing_ok=True)
        daemon = start()
        try:
            trace = data / "tick-trace.txt"
            end = time.monotonic() + 60
            while time.monotonic() < end:  # every market seen under its target: armed
                seen = set()
                if trace.exists():
                    for line in trace.read_text().splitlines():
                        _t, m, p = line.split()
                        if int(p) < tick.TARGET * 10**8:
                            seen.add(m)
                if len(seen) == len(markets):
                    break
                time.sleep(0.2)
            todo = list(markets)
            backup = window(sim, sock, todo)
            baseline = window(sim, sock, todo, seconds=max(backup["seconds"], 5))
            want = len(backup["lifted"]) + len(baseline["lifted"])
            db = sqlite3.connect(db_path, timeout=30)
            end = time.monotonic() + 60
            while time.monotonic() < end:
                if db.execute("SELECT count(*) FROM order_attempts").fetchone()[0] >= want:
                    break
                time.sleep(0.2)
            ident_market = dict(db.execute(
                "SELECT a.identifier, i.market FROM order_attempts a JOIN order_intents i"
                " ON i.id = a.intent_id WHERE a.attempt = 1"))
            db.close()
            reqs = sim.requests()
        finally:
            daemon.terminate()
            daemon.wait(60)
    finally:
        sim.stop()
        log.close()
    crossed = tick.crossings(data / "tick-trace.txt")
    posts = tick.order_posts(reqs, ident_market)
    for w in (backup, baseline):
        lat = [(posts[m] - crossed[m]) / 1000.0 for m in w["lifted"]
               if m in posts and m in crossed]
        w["tick_to_order_ms"] = tick.stats(lat)
        w["crossings"] = len(w.pop("lifted"))
    result = {"db_bytes": size, "candle_rows": rows, "fill_s": round(fill_s, 1),
              "pages_per_step": PAGES, "gap_s": GAP_S, "markets": MARKETS,
              "backup": backup, "baseline": baseline,
              "loadavg": open("/proc/loadavg").read().split()[:3],
              "run": os.environ.get("BENCH_RUN_ID", "")}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "backup.json").write_text(json.dumps(result, indent=2))
    write_doc(result)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def f2(x):
    return "–" if x is None else "%.2f" % x


def write_doc(r):
    b, a = r["backup"], r["baseline"]
    msg = (b["reply"].get("results") or [{}])[0].get("message", "") if b["reply"] else ""
    workers = sorted(b["heartbeat_ms"])
    lines = [START_MARK, "", "## Backup of a 1 GB database while the daemon trades (issue 10)", "",
             f"Run `{r['run']}`: database {r['db_bytes'] / 1e6:.0f} MB ({r['candle_rows']} "
             f"candle rows, built in {r['fill_s']} s before the daemon starts), "
             f"`backup_pages_per_step` {r['pages_per_step']}, heartbeat every 100 ms; the daemon "
             f"follows {r['markets']} simulator markets with bench/tick's plugin and one market "
             f"is lifted across its target every {r['gap_s']} s throughout both windows; load "
             f"average {' '.join(r['loadavg'])} at the end. `bench/backup_bench.py`; raw: "
             "`bench/out/backup.json`.", "",
             "| window | seconds | crossings | tick-to-order median ms | p99 ms | max ms |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, w in (("backup", b), ("no backup", a)):
        t = w["tick_to_order_ms"] or {}
        lines.append(f"| {name} | {w['seconds']} | {t.get('n', 0)} | {f2(t.get('median'))} | "
                     f"{f2(t.get('p99'))} | {f2(t.get('max'))} |")
    lines += ["", "Heartbeat round trip per worker, ms (p99 / max of `heartbeat_ms.last` "
              "sampled every 50 ms; maintenance, which runs the backup and is restarted before "
              "each window, also the supervisor's own worst over the window):", "",
              "| worker | backup p99 | backup max | no backup p99 | no backup max |",
              "|---|---:|---:|---:|---:|"]
    for n in workers:
        x, y = b["heartbeat_ms"][n], a["heartbeat_ms"].get(n, {})
        bx = f"{x['max']}" + (f" (worst {x['worst']})" if "worst" in x else "")
        ay = f"{y.get('max')}" + (f" (worst {y['worst']})" if "worst" in y else "")
        lines.append(f"| {n} | {x['p99']} | {bx} | {y.get('p99')} | {ay} |")
    lines += ["", f"The backup's own summary: {msg}", "", END_MARK]
    text = DOC.read_text() if DOC.exists() else ""
    if START_MARK in text and END_MARK in text:
        head, rest = text.split(START_MARK, 1)
        text = head + "\n".join(lines) + rest.split(END_MARK, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    DOC.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
