"""upbit-sim --ipc-fd N, driven from a real socketpair as the supervisor would: READY once HTTP
listens, a PONG for each PING (framed however the bytes arrive), SHUTDOWN and EOF end it with
exit 0, and any frame the supervisor must not send makes it exit 1."""
import os
import socket
import struct
import subprocess
import time

import pytest

from conftest import SANITIZER_MARKS, ipc_version
from simutil import bin_path, Sim

HDR = struct.Struct("=IIII")  # ipc/ipc.h struct ipc_hdr: type, len, peer, pid
READY, PING, PONG, CONFIG, SHUTDOWN, STATUS_REQ = 1, 2, 3, 4, 5, 6
IPC_VERSION = ipc_version()
IPC_ID_SUPERVISOR = 0xffff
ROLE_SIM = 6  # common/roles.h: ROLE_SIM = ROLE_WORKER_COUNT


def frame(ftype, payload=b"", length=None):
    # The sender's id and pid: this test process is the simulator's parent, its supervisor.
    return HDR.pack(ftype, len(payload) if length is None else length, IPC_ID_SUPERVISOR,
                    os.getpid()) + payload


def recv_exact(sock, n, timeout):
    sock.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"socket closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def recv_frame(sock, timeout=15):
    ftype, length, peer, pid = HDR.unpack(recv_exact(sock, HDR.size, timeout))
    return ftype, peer, pid, recv_exact(sock, length, timeout) if length else b""


class Supervised:
    """A simulator with the other end of its socketpair in our hands."""

    def __init__(self, tmp_path, args=(), extra_fds=()):
        self.sock, theirs = socket.socketpair()
        self.port_file = tmp_path / "port"
        cmd = [bin_path("upbit-sim"), "--listen", "127.0.0.1:0", "--ipc-fd",
               str(theirs.fileno()), "--port-file", str(self.port_file),
               "--history-minutes", "60", "--history-days", "5", *args]
        env = dict(os.environ)
        env.pop("TRADINGD_CLOCK", None)
        self.proc = subprocess.Popen(cmd, pass_fds=(theirs.fileno(), *extra_fds),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        self.child_fd = theirs.fileno()
        theirs.close()

    def ready(self):
        ftype, peer, pid, payload = recv_frame(self.sock)
        assert (ftype, peer, pid) == (READY, ROLE_SIM, self.proc.pid)
        assert struct.unpack("=II", payload) == (IPC_VERSION, ROLE_SIM)
        # READY comes after the port file, which comes after the listen: HTTP answers now.
        self.port = int(self.port_file.read_text().split()[0])
        return self

    def ping(self, seq):
        self.sock.sendall(frame(PING, struct.pack("=Q", seq)))

    def pong(self, timeout=15):
        ftype, peer, pid, payload = recv_frame(self.sock, timeout)
        assert (ftype, peer, pid) == (PONG, ROLE_SIM, self.proc.pid)
        return struct.unpack("=Q", payload)[0]

    def finish(self, timeout=15):
        try:
            rc = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.sock.close()
        self.stderr = self.proc.stderr.read().decode(errors="replace")
        self.proc.stderr.close()
        for mark in SANITIZER_MARKS:
            assert mark not in self.stderr, self.stderr
        return rc


@pytest.fixture
def supervised(tmp_path):
    made = []

    def make(*args, **kw):
        s = Supervised(tmp_path, *args, **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()
        s.sock.close()


def health(port):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/_sim/health")
        return conn.getresponse().status
    finally:
        conn.close()


def test_ready_pong_and_shutdown(supervised):
    s = supervised().ready()
    assert health(s.port) == 200
    s.ping(7)
    assert s.pong() == 7
    # Three frames in one write, then one split byte by byte: framing is by the header.
    s.sock.sendall(b"".join(frame(PING, struct.pack("=Q", n)) for n in (8, 9, 10)))
    for byte in frame(PING, struct.pack("=Q", 11)):
        s.sock.sendall(bytes([byte]))
        time.sleep(0.005)
    assert [s.pong() for _ in range(4)] == [8, 9, 10, 11]
    s.sock.sendall(frame(SHUTDOWN))
    assert s.finish() == 0, s.stderr
    assert "shutdown requested by the supervisor" in s.stderr
    assert "shutting down" in s.stderr


def test_ping_answered_between_engine_ticks(supervised):
    """The tick's sleep is a wait on the socket: with a 5 s tick a PING is still answered
    long before the next tick."""
    s = supervised(["--engine-ms", "5000"]).ready()
    time.sleep(0.2)  # into the first sleep
    t0 = time.monotonic()
    s.ping(1)
    assert s.pong(timeout=10) == 1
    assert time.monotonic() - t0 < 2.5
    s.sock.sendall(frame(SHUTDOWN))
    assert s.finish() == 0, s.stderr


def test_eof_means_the_supervisor_is_gone(supervised):
    s = supervised().ready()
    s.sock.shutdown(socket.SHUT_RDWR)
    assert s.finish() == 0, s.stderr
    assert "supervisor went away (end of file): exiting" in s.stderr


@pytest.mark.parametrize("bad, message", [
    (frame(CONFIG, b"{}"), "CONFIG from the supervisor, which it must not send"),
    (frame(STATUS_REQ, struct.pack("=Q", 1)), "STATUS_REQ from the supervisor"),
    (frame(READY, struct.pack("=II", 1, 5)), "READY from the supervisor"),
    (frame(PING, b"\0\0\0\0"), "malformed frame from the supervisor (type 2 PING, 4 bytes)"),
    (frame(99), "malformed frame from the supervisor (type 99 UNKNOWN"),
    (frame(0), "malformed frame from the supervisor (type 0 UNKNOWN"),
    # A header announcing 1 MiB of CONFIG is refused before any payload is read.
    (frame(CONFIG, length=1 << 20), "CONFIG from the supervisor"),
], ids=["config", "status-req", "ready", "short-ping", "type-99", "type-0", "huge-config"])
def test_protocol_violation_exits_1(supervised, bad, message):
    s = supervised().ready()
    s.ping(1)
    assert s.pong() == 1
    s.sock.sendall(bad)
    assert s.finish() == 1, s.stderr
    assert message in s.stderr, s.stderr
    assert "upbit-sim[crit]: ipc: " in s.stderr, s.stderr


def test_other_descriptors_are_closed(supervised, tmp_path):
    r, w = os.pipe()
    try:
        s = supervised(extra_fds=(r,)).ready()
        fds = os.listdir(f"/proc/{s.proc.pid}/fd")
        assert str(s.child_fd) in fds
        assert str(r) not in fds, fds
        s.sock.sendall(frame(SHUTDOWN))
        assert s.finish() == 0
        # Positive control: standalone, the simulator keeps what it was given, as before.
        e = dict(os.environ)
        e.pop("TRADINGD_CLOCK", None)
        p = subprocess.Popen([bin_path("upbit-sim"), "--listen", "127.0.0.1:0", "--port-file",
                              str(tmp_path / "p2"), "--history-minutes", "60"],
                             pass_fds=(r,), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=e)
        try:
            deadline = time.monotonic() + 15
            while not (tmp_path / "p2").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert str(r) in os.listdir(f"/proc/{p.pid}/fd")
        finally:
            p.terminate()
            assert p.wait(10) == 0
    finally:
        os.close(r)
        os.close(w)


def test_ipc_fd_must_be_a_stream_socket():
    r, w = os.pipe()
    try:
        p = subprocess.run([bin_path("upbit-sim"), "--ipc-fd", str(r)], pass_fds=(r,),
                           capture_output=True, timeout=20)
        assert p.returncode == 2
        assert f"--ipc-fd {r}: not an open stream socket" in p.stderr.decode()
    finally:
        os.close(r)
        os.close(w)
    for arg, message in (("2", "--ipc-fd: expected a descriptor >= 3, got '2'"),
                         ("x", "--ipc-fd: expected a descriptor >= 3, got 'x'"),
                         ("1000", "--ipc-fd 1000: not an open stream socket")):
        p = subprocess.run([bin_path("upbit-sim"), "--ipc-fd", arg], capture_output=True,
                           timeout=20)
        assert p.returncode == 2 and message in p.stderr.decode(), (arg, p.stderr)


def test_standalone_logs_where_it_listens():
    """Without --ipc-fd nothing changes but the log line, which goes through the logger."""
    with Sim(["--log-level", "notice"]) as sim:
        assert sim.get("/_sim/health").status == 200
    assert f"upbit-sim[notice]: listening on 127.0.0.1:{sim.port}, 5 markets" in \
        sim.stderr
