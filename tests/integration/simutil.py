"""Helpers for tests that run bin/upbit-sim: start it on a free port, talk HTTP, sign JWTs.

The simulator is started with --listen 127.0.0.1:0 (and --admin 127.0.0.1:0 when asked); it
binds a free port itself and prints 'upbit-sim listening on HOST:PORT [admin HOST:PORT]' on
stdout, which start() reads. Binaries come from $TD_BIN (default bin/, relative to the repo).
Standard library only.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import select
import signal
import subprocess
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
        cmd += list(args)
        e = dict(os.environ)
        e.pop("TRADINGD_CLOCK", None)
        e.update(env or {})
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        line = self._readline(15)
        if not line.startswith("upbit-sim listening on "):
            self.proc.kill()
            raise RuntimeError("upbit-sim did not start: %r %r" % (line, self.proc.stderr.read()))
        parts = line.split()
        self.port = int(parts[3].rsplit(":", 1)[1])
        self.admin_port = int(parts[5].rsplit(":", 1)[1]) if len(parts) > 5 else None

    def _readline(self, timeout):
        end = time.time() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while time.time() < end and not buf.endswith(b"\n"):
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                c = os.read(fd, 1)
                if not c:
                    break
                buf += c
        return buf.decode(errors="replace").strip()

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
        self.proc.stdout.close()
        self.stderr = self.proc.stderr.read().decode(errors="replace")
        self.proc.stderr.close()
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            rc = self.stop()
            assert rc == 0, "upbit-sim exited %r: %s" % (rc, self.stderr)
        else:
            self.proc.stdout.close()
            self.proc.stderr.close()


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
