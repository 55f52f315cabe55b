"""Who may use the control socket: root, the daemon's own user (nobody after the drop) and
members of control_group. Anyone else is refused: by the file system when it cannot even reach
the socket, by SO_PEERCRED with {"ok":false,"error":"permission denied"} when it can. A refused
client must not have any effect: the probe sends "shutdown"."""
import grp
import json
import os
import subprocess
import sys

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
