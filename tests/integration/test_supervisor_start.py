"""A real tradingd started as root: every process RUNNING, the ps lines of the re-exec'd
workers, the privilege drop of the whole tree, and no descriptor leaked from the supervisor."""
import ctypes
import errno
import os
import stat
import signal
import subprocess

import pytest

from conftest import PROCESSES, WORKERS, binary, descendants_of, pids_of, proc_argv, proc_ids

SYS_KCMP = {"x86_64": 312, "aarch64": 272}.get(os.uname().machine)
KCMP_FILE = 0
_libc = ctypes.CDLL(None, use_errno=True)


def same_open_file(pid1, fd1, pid2, fd2):
    """True when both descriptors are the same open file description: one was inherited."""
    rc = _libc.syscall(SYS_KCMP, pid1, pid2, KCMP_FILE, fd1, fd2)
    if rc < 0:
        err = ctypes.get_errno()
        if err == errno.EBADF:  # the descriptor went away between listing and comparing
            return False
        raise OSError(err, os.strerror(err))
    return rc == 0


def fds(pid):
    return sorted(int(fd) for fd in os.listdir(f"/proc/{pid}/fd"))


def fd_target(pid, fd):
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except FileNotFoundError:
        return "(closed)"


def test_every_process_running(daemon):
    st = daemon.status()
    assert sorted(st) == sorted(PROCESSES)
    for name, w in st.items():
        assert w["state"] == "RUNNING", (name, w)
        assert w["pid"] > 0 and w["restarts"] == 0 and w["last_exit"] is None, (name, w)
    # Exactly the supervised processes, each a direct child of the supervisor.
    assert sorted(descendants_of(daemon.proc.pid)) == sorted(pids_of(st).values())


NET_ROLES = ("market-data", "order-execution", "notifier")


def test_workers_are_reexecs_with_a_readable_ps_line(daemon):
    """Each worker is a fresh exec: of tradingd itself, or for the roles that speak HTTP(S) to
    the outside, of tradingd-net (the only binary linked with libcurl and OpenSSL)."""
    st = daemon.status()
    for role in WORKERS:
        name = "tradingd-net" if role in NET_ROLES else "tradingd"
        exe = os.path.realpath(binary(name))
        pid = st[role]["pid"]
        argv = proc_argv(pid)
        assert argv == [exe, "-x", role], argv
        assert os.path.realpath(f"/proc/{pid}/exe") == exe
        ps = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True,
                            text=True, check=True).stdout.strip()
        assert ps.endswith(f"{name} -x {role}"), ps
        maps = open(f"/proc/{pid}/maps").read()
        assert ("libcurl" in maps) == (role in NET_ROLES), role
    # The simulator is exec'd directly (no trampoline), told where its socket is.
    sim = st["upbit-sim"]["pid"]
    exe = os.path.realpath(binary("upbit-sim"))
    assert os.path.realpath(f"/proc/{sim}/exe") == exe
    argv = proc_argv(sim)
    assert os.path.realpath(argv[0]) == exe and argv[1:3] == ["--ipc-fd", "3"], argv
    assert f"127.0.0.1:{daemon.sim_port}" in argv


@pytest.mark.skipif(os.geteuid() != 0, reason="the privilege drop needs a root start")
def test_whole_tree_runs_as_nobody(daemon):
    sup = daemon.proc.pid
    assert proc_ids(sup, "Uid") == [65534] * 4
    assert proc_ids(sup, "Gid") == [65534] * 4
    for name, pid in pids_of(daemon.status()).items():
        assert proc_ids(pid, "Uid") == [65534] * 4, name
        assert proc_ids(pid, "Gid") == [65534] * 4, name
        with open(f"/proc/{pid}/status") as f:
            caps = {line.split(":")[0]: int(line.split()[1], 16)
                    for line in f if line.startswith("Cap")}
        assert caps["CapEff"] == 0 and caps["CapPrm"] == 0, (name, caps)
    # What was prepared as root now belongs to the daemon's user.
    for path in (daemon.dir / "data", daemon.dir / "run", daemon.dir / "data" / "tradingd.db"):
        assert os.stat(path).st_uid == 65534, path
    sock = os.stat(daemon.socket)
    assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o660
    assert sock.st_uid == 65534


@pytest.mark.skipif(SYS_KCMP is None, reason="kcmp syscall number unknown on this machine")
def test_no_descriptor_inherited_from_the_supervisor(daemon):
    sup = daemon.proc.pid
    sup_fds = [fd for fd in fds(sup) if fd > 2]
    targets = {fd: fd_target(sup, fd) for fd in sup_fds}
    # The supervisor does hold what must not leak: the listening socket and the database.
    assert any(t.endswith("/data/tradingd.db") for t in targets.values()), targets
    assert sum(t.startswith("socket:") for t in targets.values()) >= 1 + len(PROCESSES)
    for name, pid in pids_of(daemon.status()).items():
        child_fds = fds(pid)
        assert child_fds[:3] == [0, 1, 2], (name, child_fds)
        # Workers and the simulator alike: the supervisor's socket on fd 3.
        assert 3 in child_fds and fd_target(pid, 3).startswith("socket:"), name
        assert fd_target(pid, 0) == "/dev/null", name
        # Positive control: stdout is the one description meant to be shared.
        assert same_open_file(pid, 1, sup, 1), name
        for fd in child_fds:
            for sfd in sup_fds:
                assert not same_open_file(pid, fd, sup, sfd), \
                    f"{name} fd {fd} ({fd_target(pid, fd)}) is the supervisor's fd {sfd} " \
                    f"({targets[sfd]})"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start as another user")
def test_unprivileged_start_works(daemon_factory):
    """A developer's start as an ordinary user: no drop is attempted, everything runs as that
    user, and supervision works as it does after a root start."""
    d = daemon_factory()
    os.chown(d.dir, 65534, 65534)
    d.start(wrapper=("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"))
    st = d.status()
    for name, w in st.items():
        assert proc_ids(w["pid"], "Uid") == [65534] * 4, name
    assert "running as uid" not in d.log_text()  # no privilege drop was needed
    os.kill(st["strategy"]["pid"], signal.SIGKILL)
    d.wait_state("strategy", "RUNNING")
    assert d.status()["strategy"]["restarts"] == 1
    assert d.stop() == 0
