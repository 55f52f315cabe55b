"""Helpers for tests that run bin/upbit-sim: start it on a free port, talk HTTP, sign JWTs.

The simulator is started with --listen 127.0.0.1:0 (and --admin 127.0.0.1:0 when asked); it
binds a free port itself and writes 'PORT [ADMIN_PORT]' to its --port-file (atomically, once it
listens), which Sim() waits for. Binaries come from $TD_BIN (default bin/, relative to the repo).
Standard library only.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from urllib.parse import urlencode, unquote

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AK, SK = "test-access-key", "test-secret-key"


def bin_path(name):
    d = os.environ.get("TD_BIN", "bin")
    if not os.path.isabs(d):
        d = os.path.join(REPO, d)
    return os.path.join(d, name)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def make_jwt(payload, secret, alg="HS256"):
    h = b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    p = b64url(json.dumps(payload, separators=(",", ":")).encode())
    dig = hashlib.sha256 if alg == "HS256" else hashlib.sha512
    sig = hmac.new(secret.encode(), f"{h}.{p}".encode(), dig).digest()
    return f"{h}.{p}.{b64url(sig)}"


def auth_header(params=None, ak=AK, sk=SK, alg="HS256", nonce=None, query_hash=None):
    """params: list of (key, value) in send order (value may be a list for k[]=v)."""
    payload = {"access_key": ak, "nonce": nonce or str(uuid.uuid4())}
    if params:
        qs = unquote(urlencode(params, doseq=True))
        payload["query_hash"] = query_hash or hashlib.sha512(qs.encode()).hexdigest()
        payload["query_hash_alg"] = "SHA512"
    return "Bearer " + make_jwt(payload, sk, alg)


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class Sim:
    def __init__(self, args=(), admin=False, env=None, accounts=None):
        cmd = [bin_path("upbit-sim"), "--listen", "127.0.0.1:0", "--log-level", "warn"]
        if admin:
            cmd += ["--admin", "127.0.0.1:0"]
        for a in accounts if accounts is not None else [f"{AK}:{SK}:10000000"]:
            cmd += ["--account", a]
        args = list(args)
        self._tmp = None
        if "--port-file" in args:  # the test's own file: wait for that one
            self.port_file = args[args.index("--port-file") + 1]
        else:
            self._tmp = tempfile.mkdtemp(prefix="upbit-sim-")
            self.port_file = os.path.join(self._tmp, "port")
            cmd += ["--port-file", self.port_file]
        cmd += args
        e = dict(os.environ)
        e.pop("TRADINGD_CLOCK", None)
        e.update(env or {})
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=e)
        ports = self._read_port_file(15)
        if ports is None:
            self.proc.kill()
            self.proc.wait()
            err = self.proc.stderr.read()
            self._cleanup()
            raise RuntimeError("upbit-sim did not start: %r" % err)
        self.port = ports[0]
        self.admin_port = ports[1] if len(ports) > 1 else None

    def _read_port_file(self, timeout):
        """The ports, once the file exists (it is renamed into place whole); None when the
        simulator exits or the time is up first."""
        end = time.time() + timeout
        while time.time() < end and self.proc.poll() is None:
            try:
                with open(self.port_file) as f:
                    return [int(x) for x in f.read().split()]
            except FileNotFoundError:
                time.sleep(0.02)
        return None

    def _cleanup(self):
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def request(self, method, path, body=None, headers=None, port=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        try:
            h = dict(headers or {})
            data = None
            if body is not None:
                data = body if isinstance(body, (bytes, str)) else json.dumps(body)
                if isinstance(data, str):
                    data = data.encode()
                h.setdefault("Content-Type", "application/json; charset=utf-8")
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return Reply(r.status, r.getheaders(), r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def admin(self, method, path, body=None):
        r = self.request(method, path, body=body, port=self.admin_port or self.port)
        return r.status, (r.json() if r.body else None)

    def private(self, method, path, params=None, body=None, **auth):
        """GET/DELETE params go in the query string; POST params as the JSON body."""
        if method == "POST":
            items = list((body or {}).items())
            h = {"Authorization": auth_header(items, **auth)}
            return self.request("POST", path, body=body or {}, headers=h)
        q = urlencode(params, doseq=True) if params else ""
        h = {"Authorization": auth_header(params, **auth)}
        return self.request(method, path + ("?" + q if q else ""), headers=h)

    def requests(self, since=0, group=None):
        q = "?since=%d" % since + ("&group=" + group if group else "")
        return self.admin("GET", "/_sim/requests" + q)[1]

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self.stderr = self.proc.stderr.read().decode(errors="replace")
        self.proc.stderr.close()
        self._cleanup()
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            rc = self.stop()
            assert rc == 0, "upbit-sim exited %r: %s" % (rc, self.stderr)
        else:
            self.proc.stderr.close()
            self._cleanup()


def wait_until(pred, timeout=5.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def align_second(margin=0.05):
    """Sleep until just after a whole second of CLOCK_MONOTONIC: the limiter's window."""
    t = time.monotonic()
    frac = t - int(t)
    if frac > margin:
        time.sleep(1 - frac + margin / 2)


# ---- market-data helpers: a clock shared with the daemon, the sim's history, request checks ----

MINUTE_MS = 60000
DAY_MS = 86400000
QUOTATION_GROUPS = ("market", "candle", "trade", "ticker", "orderbook")
# 2025-06-24T12:00:00Z: mid-day, so a sim started on it has hours of minute history behind it.
CLOCK_START_MS = 1750766400000


def shared_clock(rate, start_ms=CLOCK_START_MS):
    """A TRADINGD_CLOCK value anchored now: give the same string to a Sim (env) and to the
    daemon (env) and both run on one clock."""
    return "%d:%d:%g" % (start_ms, int(time.time() * 1000), rate)


def candle_start_ms(c):
    """The start of an API-shaped candle, from candle_date_time_utc."""
    import calendar
    t = time.strptime(c["candle_date_time_utc"], "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(t) * 1000


def sim_candles(sim, market, unit):
    """The simulator's whole history of one series as {start_ms: candle}; unit 1 or 1440."""
    st, body = sim.admin("GET", "/_sim/candles?market=%s&unit=%s" %
                         (market, "days" if unit == 1440 else unit))
    assert st == 200, body
    return {candle_start_ms(c): c for c in body["candles"]}


def rate_peaks(reqs, groups=QUOTATION_GROUPS, window_ms=1000):
    """The most requests of each group that the sim received within any window_ms (half-open
    window starting at a request), from /_sim/requests entries."""
    by_group = {}
    for r in reqs:
        if r["group"] in groups:
            by_group.setdefault(r["group"], []).append(r["recv_ms"])
    peaks = {}
    for g, ts in by_group.items():
        ts.sort()
        best, j = 0, 0
        for i in range(len(ts)):
            while ts[i] - ts[j] >= window_ms:
                j += 1
            best = max(best, i - j + 1)
        peaks[g] = best
    return peaks


def max_overlap(reqs, path_prefix):
    """How many requests under path_prefix the sim was handling at once at most."""
    ev = []
    for r in reqs:
        if r["path"].startswith(path_prefix):
            ev.append((r["recv_ms"], 1))
            ev.append((r["recv_ms"] + max(r["duration_ms"], 1), -1))
    ev.sort()
    cur = best = 0
    for _, d in ev:
        cur += d
        best = max(best, cur)
    return best


def _close(a, b, rel=1e-9):
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))


def e8(x):
    """A JSON number or decimal string as exact integer units of 1e-8 (dec8)."""
    from decimal import Decimal
    d = Decimal(repr(x) if isinstance(x, float) else str(x)).quantize(Decimal("1e-8"))
    return int(d * 100000000)


def candle_problems(db, sim, market, unit, window_ms):
    """Differences between the candles table (an open sqlite3 connection) and the sim's history
    for one series: rows that differ or that the sim does not have, duplicates, and every sim
    candle missing from [first stored, synced_until) or from the front of the backfill window
    [synced_until - window_ms, first stored). Returns (problems, rows checked, synced_until)."""
    db.execute("BEGIN")  # one snapshot: the worker keeps writing
    try:
        rows = db.execute("SELECT start_ms, open_e8, high_e8, low_e8, close_e8, volume,"
                          " quote_volume,"
                          " last_trade_ms FROM candles WHERE market = ? AND unit = ?"
                          " ORDER BY start_ms", (market, unit)).fetchall()
        distinct = db.execute("SELECT count(DISTINCT start_ms) FROM candles WHERE market = ?"
                              " AND unit = ?", (market, unit)).fetchone()[0]
        until = db.execute("SELECT synced_until_ms FROM candle_sync WHERE market = ? AND"
                           " unit = ?", (market, unit)).fetchone()
    finally:
        db.execute("ROLLBACK")
    until = until[0] if until else 0
    hist = sim_candles(sim, market, unit)
    probs = []
    tag = "%s/%d" % (market, unit)
    if distinct != len(rows):
        probs.append("%s: %d rows but %d distinct starts" % (tag, len(rows), distinct))
    step = DAY_MS if unit == 1440 else MINUTE_MS
    for start, o, h, l, c, v, qv, last in rows:
        s = hist.get(start)
        if not all(isinstance(x, int) for x in (o, h, l, c)) or \
                not all(isinstance(x, str) for x in (v, qv)):
            probs.append("%s: prices not integer e8 or volumes not text at %d: %r" %
                         (tag, start, (o, h, l, c, v, qv)))
            continue
        # Prices must be exact: the sim's JSON number, to 8 places, in units of 1e-8.
        want_e8 = tuple(e8(s[k]) for k in ("opening_price", "high_price", "low_price",
                                           "trade_price")) if s is not None else None
        if want_e8 is not None and (o, h, l, c) != want_e8:
            probs.append("%s: row %d prices %r are not exactly the sim's %r" %
                         (tag, start, (o, h, l, c), want_e8))
        o, h, l, c = (x / 1e8 for x in (o, h, l, c))
        v, qv = float(v), float(qv)
        if start % step:
            probs.append("%s: start %d not aligned" % (tag, start))
        if any(x != x or x < 0 for x in (o, h, l, c, v, qv)) or min(o, h, l, c) <= 0:
            probs.append("%s: bad values at %d: %r" % (tag, start, (o, h, l, c, v, qv)))
        if s is None:
            probs.append("%s: row %d not in the sim's history" % (tag, start))
            continue
        want = (s["opening_price"], s["high_price"], s["low_price"], s["trade_price"],
                s["candle_acc_trade_volume"], s["candle_acc_trade_price"])
        if not all(_close(a, b) for a, b in zip((o, h, l, c, v, qv), want)) or \
                last != s["timestamp"]:
            probs.append("%s: row %d differs: %r vs sim %r" % (tag, start,
                                                                (o, h, l, c, v, qv, last), want))
    if rows:
        have = {r[0] for r in rows}
        lo = min(rows[0][0], until - window_ms)
        missing = sorted(t for t in hist if lo <= t < until and t not in have)
        if missing:
            probs.append("%s: %d sim candles missing in [%d, %d): first %r" %
                         (tag, len(missing), lo, until, missing[:5]))
    return probs, len(rows), until


class MarketDataRig:
    """A tradingd in paper mode whose market-data follows sims this test started (so it can take
    them down), the daemon and the sims on one fast shared clock. daemon_factory is the
    conftest fixture; overrides are dotted config keys as there."""

    DAY_WINDOW_MS = 30 * DAY_MS  # market-data backfills this many days (MD_DAY_BACKFILL)

    def __init__(self, daemon_factory, sims, clock, overrides=None,
                 markets=("KRW-BTC", "KRW-ETH")):
        self.sims, self.clock, self.markets = list(sims), clock, list(markets)
        self.start_ms, self.anchor_ms, self.rate = (float(x) for x in clock.split(":"))
        urls = ["http://127.0.0.1:%d" % s.port for s in self.sims]
        cfg = {"mode": "paper", "sim": None,
               "exchange.base_url": urls[0] if len(urls) == 1 else urls,
               "market_data.markets": self.markets,
               "market_data.ticker_interval_ms": 200,
               "market_data.stale_after_s": int(self.rate),  # one real second
               "market_data.backfill_max_minutes": 120,
               # The sim shows trades at its engine ticks (50 ms real, 3 s of a 60x clock):
               # a minute is complete there only that long after it ended, later under ASan.
               "market_data.candle_grace_ms": int(250 * self.rate),
               "exchange.request_timeout_ms": 1000,
               "exchange.connect_timeout_ms": 500}
        cfg.update(overrides or {})
        self.minute_window_ms = cfg["market_data.backfill_max_minutes"] * MINUTE_MS
        self.daemon = daemon_factory(cfg, env={"TRADINGD_CLOCK": clock})
        self.db_path = str(self.daemon.dir / "data" / "tradingd.db")
        self.pid = None

    def now_ms(self):
        """The shared clock's time now."""
        return int(self.start_ms + (time.time() * 1000 - self.anchor_ms) * self.rate)

    def start(self):
        self.daemon.start()
        self.details()
        w = self.worker("market-data")
        self.pid, self.restarts = w["pid"], w["restarts"]
        return self

    def worker(self, name):
        res = self.daemon.ctl("--json", "status", name)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)["workers"][0]

    def details(self):
        """market-data's status details (absent for a moment after a start: waited for)."""
        end = time.time() + 5
        while True:
            d = self.worker("market-data").get("details")
            if d or time.time() > end:
                return d or {}
            time.sleep(0.02)

    def candle_rows(self):
        with self.db() as db:
            return db.execute("SELECT count(*) FROM candles").fetchone()[0]

    def counters_and_rows(self, timeout=5.0):
        """market-data's counters and the candle row count as of one moment: status details
        are refreshed with the heartbeat, so both are read within a quiet half second."""
        def quiet():
            rows = self.candle_rows()
            time.sleep(0.5)
            c = self.details()["counters"]
            return (c, rows) if self.candle_rows() == rows else None
        got = wait_until(quiet, timeout, 0)
        assert got, "candles kept being written"
        return got

    def group(self, name, details=None):
        return (details or self.details())["upbit"]["groups"][name]

    def stale_flags(self):
        """{market: (stale in market-data, stale as the strategy saw it)}."""
        md = self.details().get("markets", {})
        st = (self.worker("strategy").get("details") or {}).get("markets", {})
        return {m: (md.get(m, {}).get("stale"), st.get(m, {}).get("stale"))
                for m in self.markets}

    def all_stale(self):
        return all(a is True and b is True for a, b in self.stale_flags().values())

    def all_fresh(self):
        return all(a is False and b is False for a, b in self.stale_flags().values())

    def db(self):
        return sqlite3_connect_ro(self.db_path)

    def notifications(self, kinds=None):
        """(kind, text) of market-data's alerts, oldest first."""
        with self.db() as db:
            rows = db.execute("SELECT kind, text FROM notifications WHERE source ="
                              " 'market-data' ORDER BY id").fetchall()
        return [r for r in rows if kinds is None or r[0] in kinds]

    def synced(self):
        with self.db() as db:
            return {(m, u): t for m, u, t in
                    db.execute("SELECT market, unit, synced_until_ms FROM candle_sync")}

    def synced_to(self, minute_ms):
        """True when every market's minutes are synced to minute_ms and its days to that day."""
        s = self.synced()
        return all(s.get((m, 1), 0) >= minute_ms and
                   s.get((m, 1440), 0) >= minute_ms // DAY_MS * DAY_MS for m in self.markets)

    def wait_synced_now(self, timeout=10.0):
        """Waits until the candles are synced up to the minute that is current now."""
        target = self.now_ms() // MINUTE_MS * MINUTE_MS
        assert wait_until(lambda: self.synced_to(target), timeout, 0.1), \
            "not synced to %d: %r\n%s" % (target, self.synced(), self.daemon.log_text()[-3000:])

    def candle_problems(self, sim):
        probs, rows = [], 0
        with self.db() as db:
            for m in self.markets:
                for unit, window in ((1, self.minute_window_ms), (1440, self.DAY_WINDOW_MS)):
                    p, n, _ = candle_problems(db, sim, m, unit, window)
                    probs += p
                    rows += n
        return probs, rows

    def assert_candles_match(self, sim, min_rows=1):
        probs, rows = self.candle_problems(sim)
        assert not probs, "\n".join(probs[:20])
        assert rows >= min_rows, "only %d candle rows" % rows

    def assert_rates(self, sims=None, limit=10):
        for sim in sims or self.sims:
            peaks = rate_peaks(sim.requests()["requests"])
            assert all(v <= limit for v in peaks.values()), "over %d/s: %r" % (limit, peaks)

    def assert_survived(self):
        w = self.worker("market-data")
        assert (w["pid"], w["state"], w["restarts"]) == (self.pid, "RUNNING", self.restarts), \
            "market-data did not survive: %r\n%s" % (w, self.daemon.log_text()[-3000:])


def transport_log_lines(log_text, err):
    """{level: [lines]} of the client's transport-failure lines for err (dns, connect, timeout,
    reset, ...) in a daemon log."""
    import re
    pat = re.compile(r"market-data\[(\w+)\]: upbit: [A-Z]+ \S+/v1/\S+: %s after "
                     % re.escape(err))
    out = {}
    for line in log_text.splitlines():
        m = pat.search(line)
        if m:
            out.setdefault(m.group(1), []).append(line)
    return out


def sqlite3_connect_ro(path):
    """A read-only connection that closes when its with-block ends."""
    import contextlib
    import sqlite3
    return contextlib.closing(sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5))
