"""Who may use the control socket: root, the daemon's own user (nobody after the drop) and
members of control_group. Anyone else is refused: by the file system when it cannot even reach
the socket, by SO_PEERCRED with {"ok":false,"error":"permission denied"} when it can. A refused
client must not have any effect: the probe sends "shutdown". And no flood of connections from
other uids, allowed or refused, can keep root out: each uid but root has
control.max_clients_per_uid connections, and one of control.max_clients is kept for root and the
daemon's user."""
import grp
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import binary

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as other uids")

STRANGER = 12345  # a uid with no passwd entry, neither the daemon's nor root


def control_group():
    """An existing group that is neither root's nor nobody's, used as control_group."""
    for name in ("daemon", "bin", "sys", "adm"):
        try:
            gr = grp.getgrnam(name)
        except KeyError:
            continue
        if gr.gr_gid not in (0, 65534):
            return gr
    pytest.skip("no spare system group to use as control_group")


# Runs in a child as another user: one raw request line, prints what came back.
CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("EACCES"); sys.exit(0)
try:  # a refused client may be answered and closed before its request is even read
    s.sendall(sys.argv[2].encode() + b"\n")
except (BrokenPipeError, ConnectionResetError):
    pass
data = b""
while not data.endswith(b"\n"):
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:
        break
    if not chunk:
        break
    data += chunk
print(data.decode().strip())
"""


def request_as(daemon, uid, gid, groups, cmd):
    res = subprocess.run([sys.executable, "-c", CLIENT, daemon.socket, json.dumps({"cmd": cmd})],
                         user=uid, group=gid, extra_groups=groups, capture_output=True,
                         text=True, timeout=10)
    assert res.returncode == 0, res.stderr
    out = res.stdout.strip()
    return out if out == "EACCES" else json.loads(out)


def still_serving(daemon):
    st = daemon.status()
    return daemon.proc.poll() is None and st is not None and \
        all(w["state"] == "RUNNING" for w in st.values())


def test_stranger_cannot_reach_the_socket(daemon):
    assert request_as(daemon, STRANGER, STRANGER, [], "shutdown") == "EACCES"
    res = subprocess.run([binary("tradectl"), "-s", daemon.socket, "status"], user=STRANGER,
                         group=STRANGER, extra_groups=[], capture_output=True, text=True,
                         timeout=10)
    assert res.returncode == 3, res
    assert "ermission denied" in res.stderr
    assert still_serving(daemon)


def test_root_and_the_daemons_own_user_are_accepted(daemon):
    reply = request_as(daemon, 65534, 65534, [], "pid")
    assert reply == {"ok": True, "pid": daemon.proc.pid}
    reply = request_as(daemon, 0, 0, [], "pid")
    assert reply == {"ok": True, "pid": daemon.proc.pid}
    res = subprocess.run([binary("tradectl"), "-s", daemon.socket, "pid"], user=65534,
                         group=65534, extra_groups=[], capture_output=True, text=True, timeout=10)
    assert res.returncode == 0 and res.stdout.strip() == str(daemon.proc.pid), res


def test_reachable_but_not_allowed_is_refused_by_peer_credentials(daemon):
    # Without control_group the socket is nobody:nogroup 0660, so a stranger whose group is
    # nogroup can connect; its credentials are neither root, the daemon's uid, nor a member.
    reply = request_as(daemon, STRANGER, 65534, [], "shutdown")
    assert reply == {"ok": False, "error": "permission denied"}
    res = subprocess.run([binary("tradectl"), "-s", daemon.socket, "shutdown"], user=STRANGER,
                         group=65534, extra_groups=[], capture_output=True, text=True,
                         timeout=10)
    assert res.returncode == 1 and "permission denied" in res.stderr, res
    assert still_serving(daemon)
    assert f"control: refused a client (uid {STRANGER}" in daemon.log_text()


def test_control_group_members_are_accepted(daemon_factory):
    gr = control_group()
    d = daemon_factory(overrides={"control_group": gr.gr_name}).start()
    st = os.stat(d.socket)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (65534, gr.gr_gid, 0o660)
    run_dir = os.stat(os.path.dirname(d.socket))
    assert run_dir.st_gid == gr.gr_gid and run_dir.st_mode & 0o007 == 0

    # A member (its primary group is control_group) is served.
    reply = request_as(d, STRANGER, gr.gr_gid, [], "status")
    assert reply["ok"] is True and len(reply["workers"]) == 6
    res = subprocess.run([binary("tradectl"), "-s", d.socket, "--json", "status"],
                         user=STRANGER, group=gr.gr_gid, extra_groups=[], capture_output=True,
                         text=True, timeout=10)
    assert res.returncode == 0 and len(json.loads(res.stdout)["workers"]) == 6, res

    # This one holds the group only as a supplementary group of the moment: the daemon reads
    # the peer's groups from the kernel (SO_PEERGROUPS), so it is served too.
    reply = request_as(d, STRANGER, STRANGER, [gr.gr_gid], "pid")
    assert reply == {"ok": True, "pid": d.proc.pid}
    assert still_serving(d)

    # Nobody without the group gets anywhere.
    assert request_as(d, STRANGER, STRANGER, [], "shutdown") == "EACCES"
    assert still_serving(d)


# Runs in a child as another user: opens argv[2] connections and sends nothing. Each the daemon
# answers (and closes) at once is a refusal; the others it keeps. Prints
# {"kept": N, "refused": [reply, ...]} once no answer has come for a second, then holds the
# kept connections open until its stdin closes.
FLOOD = r"""
import json, select, socket, sys, time
path, n = sys.argv[1], int(sys.argv[2])
socks, refused = [], []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    socks.append(s)
pending = {s.fileno(): [s, b""] for s in socks}
last, deadline = time.monotonic(), time.monotonic() + 20
while pending and time.monotonic() < deadline and time.monotonic() - last < 1.0:
    ready, _, _ = select.select(list(pending), [], [], 0.1)
    for fd in ready:
        s, data = pending[fd]
        try:
            chunk = s.recv(4096)
        except ConnectionResetError:
            chunk = b""
        if chunk:
            pending[fd][1] += chunk
            continue
        refused.append(data.decode().strip())
        del pending[fd]
        last = time.monotonic()
print(json.dumps({"kept": len(pending), "refused": refused}), flush=True)
sys.stdin.read()
"""


class Flood:
    """Connections held open by another uid (a child process) until close()."""

    def __init__(self, daemon, uid, gid, count):
        self.proc = subprocess.Popen([sys.executable, "-c", FLOOD, daemon.socket, str(count)],
                                     user=uid, group=gid, extra_groups=[], text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline()
        assert line, "the flood helper died"
        result = json.loads(line)
        self.kept, self.refused = result["kept"], result["refused"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


def timed_root_status(daemon):
    t0 = time.monotonic()
    res = subprocess.run([binary("tradectl"), "-s", daemon.socket, "status"],
                         capture_output=True, text=True, timeout=30)
    return res, time.monotonic() - t0


# Held connections must outlive the test: no idle timeout closes them meanwhile.
HOLD = {"control.idle_timeout_ms": 600000}


def test_a_flood_from_one_uid_cannot_lock_root_out(daemon_factory):
    gr = control_group()
    d = daemon_factory(overrides={"control_group": gr.gr_name, **HOLD}).start()
    flood = Flood(d, STRANGER, gr.gr_gid, 40)
    try:
        # control.max_clients_per_uid (4) are kept; every further one is answered and closed.
        assert flood.kept == 4, flood.refused
        assert len(flood.refused) == 36
        assert set(flood.refused) == {json.dumps(
            {"ok": False, "error": f"too many control connections from uid {STRANGER} "
                                   "(control.max_clients_per_uid is 4); try again"},
            separators=(",", ":"))}
        res, elapsed = timed_root_status(d)
        assert res.returncode == 0 and len(res.stdout.splitlines()) == 6, res
        assert elapsed < 5, elapsed
        # So is the daemon's own user, and the flooding uid gets no fifth connection.
        assert request_as(d, 65534, 65534, [], "pid") == {"ok": True, "pid": d.proc.pid}
        reply = request_as(d, STRANGER, gr.gr_gid, [], "pid")
        assert reply["ok"] is False and "max_clients_per_uid" in reply["error"], reply
    finally:
        flood.close()
    # Once the flood lets go, its uid is served again.
    assert request_as(d, STRANGER, gr.gr_gid, [], "pid") == {"ok": True, "pid": d.proc.pid}
    # One refusal per second is logged, not one per connection.
    refusals = d.log_text().count("control: refused a client")
    assert 1 <= refusals <= 10, refusals


def test_floods_from_many_uids_leave_a_slot_for_root(daemon_factory):
    gr = control_group()
    d = daemon_factory(overrides={"control_group": gr.gr_name, "control.max_clients": 8,
                                  **HOLD}).start()
    too_many = '{"ok":false,"error":"too many control clients; try again"}'
    floods = []
    try:
        # Other uids together get max_clients - 1: the last slot is kept for root and the
        # daemon's own user.
        floods.append(Flood(d, STRANGER, gr.gr_gid, 4))
        assert floods[0].kept == 4 and floods[0].refused == []
        floods.append(Flood(d, STRANGER + 1, gr.gr_gid, 4))
        assert floods[1].kept == 3 and floods[1].refused == [too_many]
        floods.append(Flood(d, STRANGER + 2, gr.gr_gid, 1))
        assert floods[2].kept == 0 and floods[2].refused == [too_many]
        res, elapsed = timed_root_status(d)
        assert res.returncode == 0 and len(res.stdout.splitlines()) == 6, res
        assert elapsed < 5, elapsed
        assert request_as(d, 65534, 65534, [], "pid") == {"ok": True, "pid": d.proc.pid}
    finally:
        for f in floods:
            f.close()
    assert request_as(d, STRANGER + 2, gr.gr_gid, [], "pid") == {"ok": True, "pid": d.proc.pid}
    assert still_serving(d)


def test_a_flood_of_refused_clients_cannot_lock_root_out(daemon):
    # Without control_group, a stranger whose group is nogroup reaches the socket but is refused
    # by its credentials: each connection is answered and closed, and takes no slot.
    flood = Flood(daemon, STRANGER, 65534, 200)
    try:
        assert flood.kept == 0
        assert set(flood.refused) == {'{"ok":false,"error":"permission denied"}'}
        res, elapsed = timed_root_status(daemon)
        assert res.returncode == 0 and elapsed < 5, (res, elapsed)
    finally:
        flood.close()
    log = daemon.log_text()
    assert 1 <= log.count("control: refused a client") <= 10, log[-3000:]
    assert still_serving(daemon)
