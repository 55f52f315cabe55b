"""etc/tradingd.service's sandbox: systemd-analyze security scores it at the floor of this design,
every item it still counts is one the design needs, and the daemon runs inside the unit's limits
(emulated without systemd by unit_sandbox.py) on directories prepared as systemd prepares them."""
import ctypes
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys

import pytest

import unit_sandbox
from conftest import BIN, ROOT, pids_of, wait_for

UNIT = os.path.join(ROOT, "etc", "tradingd.service")
SANDBOX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unit_sandbox.py")
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed "
                                   "(apt-get install systemd)")

# systemd starts tradingd as its account with no capability (User=), and it trades over the
# Internet: what systemd-analyze still counts is below, nothing else. The issue asks for 2.0 at
# most; the unit measures 1.5 (1.4 before setpriority and ioprio_set were allowed back for the
# maintenance worker's lower priority).
EXPOSURE_MAX = 1.5
STILL_EXPOSED = {
    "SystemCallFilter=~@privileged": "chown (the chgrp of run_dir and the socket to "
                                     "control_group) belongs to @privileged",
    "SystemCallFilter=~@resources": "setpriority and ioprio_set: the maintenance worker lowers "
                                    "its own CPU and I/O priority (issue 8)",
    "RemoveIPC=": "counted by systemd-analyze whatever the value, with User= set",
    "PrivateNetwork=": "the exchange is on the Internet",
    "RestrictAddressFamilies=~AF_(INET|INET6)": "the exchange is on the Internet",
    "IPAddressDeny=": "the exchange's addresses are not fixed",
    "RestrictAddressFamilies=~AF_UNIX": "the workers' socketpairs and the control socket",
    "PrivateUsers=": "would map control_group's members to nobody for the socket's "
                     "peer-credential check",
    "DeviceAllow=": "ProtectClock= allows reading char-rtc by itself",
    "RootDirectory=/RootImage=": "runs from the host's /usr/local and /etc",
}


def analyze(path):
    """(overall exposure, names of the items marked as exposed)"""
    res = subprocess.run([ANALYZE, "security", "--offline=yes", "--no-pager", path],
                         capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, SYSTEMD_COLORS="0"))
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d)", res.stdout)
    assert found, res.stdout + res.stderr
    exposed = {line.split()[1] for line in res.stdout.splitlines() if line.startswith("✗")}
    return float(found.group(1)), exposed


@needs_analyze
def test_exposure_is_at_the_floor_of_the_design():
    exposure, exposed = analyze(UNIT)
    assert exposed <= set(STILL_EXPOSED), f"newly exposed: {exposed - set(STILL_EXPOSED)}"
    assert exposure <= EXPOSURE_MAX


@needs_analyze
def test_exposure_check_catches_a_weaker_unit(tmp_path):
    """The check above is only worth something if it fails on a unit that lost some hardening."""
    text = open(UNIT).read()
    for line in ("UMask=0077\n", "ProcSubset=pid\n"):
        assert line in text
        text = text.replace(line, "")
    assert "CapabilityBoundingSet=\n" in text
    text = text.replace("CapabilityBoundingSet=\n", "CapabilityBoundingSet=CAP_SYS_ADMIN\n")
    weaker = tmp_path / "tradingd.service"
    weaker.write_text(text)
    exposure, exposed = analyze(str(weaker))
    assert {"UMask=", "ProcSubset=", "CapabilityBoundingSet=~CAP_SYS_ADMIN"} <= exposed
    assert exposure > EXPOSURE_MAX


def libseccomp_missing():
    try:
        ctypes.CDLL("libseccomp.so.2")
        return False
    except OSError:
        return True


def account_missing(name):
    try:
        pwd.getpwnam(name)
        return False
    except KeyError:
        return True


needs_sandbox = pytest.mark.skipif(
    os.geteuid() != 0 or ANALYZE is None or libseccomp_missing() or account_missing("tradingd"),
    reason="needs root, systemd-analyze, libseccomp2 and the tradingd account (make test "
           "creates it)")


def in_sandbox(code):
    return subprocess.run([sys.executable, SANDBOX, UNIT, "--", sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=60)


@needs_sandbox
def test_sandbox_emulation_refuses_what_the_unit_refuses():
    """Positive controls: unit_sandbox.py does apply the unit's limits."""
    # sched_setaffinity: @resources, taken out (setpriority is added back for maintenance)
    res = in_sandbox("import os; os.sched_setaffinity(0, os.sched_getaffinity(0))")
    assert res.returncode == -signal.SIGSYS, res
    res = in_sandbox("import os; os.chroot('/')")  # @privileged and no CAP_SYS_CHROOT
    assert res.returncode == -signal.SIGSYS, res
    res = in_sandbox(
        "import errno, mmap, os, socket\n"
        "try: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)\n"
        "except OSError as e: assert e.errno == errno.EAFNOSUPPORT, e\n"
        "else: raise SystemExit('AF_NETLINK allowed')\n"
        "socket.socket(socket.AF_INET6).close()\n"
        "try: mmap.mmap(-1, 4096, prot=mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
        "except OSError as e: assert e.errno == errno.EPERM, e\n"
        "else: raise SystemExit('W+X mapping allowed')\n"
        "assert os.umask(0) == 0o077\n"
        "print(open('/proc/self/status').read())")
    assert res.returncode == 0, res.stderr
    status = dict(line.split(":\t", 1) for line in res.stdout.splitlines() if ":\t" in line)
    assert int(status["CapBnd"], 16) == unit_caps_mask()
    assert status["NoNewPrivs"].strip() == "1" and status["Seccomp"].strip() == "2"


def unit_caps_mask():
    return unit_sandbox.bounding_mask(unit_sandbox.parse_unit_service(UNIT))


def systemd_prepares(data, run):
    """What systemd does before every start for StateDirectory= and RuntimeDirectory= with
    User= (systemd.exec(5)): RuntimeDirectory= is new (it went at the last stop); StateDirectory=
    and everything in it is handed to the unit's user when its owner differs; both get their
    configured mode."""
    svc = unit_sandbox.parse_unit_service(UNIT)
    acct = pwd.getpwnam(svc["User"][0])
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir()
    data.mkdir(exist_ok=True)
    for top, dirs, files in os.walk(data):
        for name in [top] + [os.path.join(top, n) for n in dirs + files]:
            os.lchown(name, acct.pw_uid, acct.pw_gid)
    os.lchown(run, acct.pw_uid, acct.pw_gid)
    os.chmod(data, int(svc["StateDirectoryMode"][0], 8))
    os.chmod(run, int(svc["RuntimeDirectoryMode"][0], 8))


def sandbox_env():
    if os.path.basename(BIN) != "bin-asan":
        return None
    # LeakSanitizer stops the process with ptrace (@debug) at exit, which no unit allows: its
    # tracer would die of SIGSYS and the process hang. The other tests look for leaks.
    return {"ASAN_OPTIONS": ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                                   "detect_leaks=0"]))}


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


@needs_sandbox
def test_daemon_runs_inside_the_units_limits(daemon_factory):
    """Started as the unit starts it (User=tradingd, no capability, inside the filter), twice
    (a restart by systemd): everything runs, as tradingd; a call outside the filter would have
    killed a process (SIGSYS) and shown as a restart or a failed start."""
    acct = pwd.getpwnam("tradingd")
    mask = unit_caps_mask()
    d = daemon_factory({"user": None}, env=sandbox_env())  # the schema's default user
    data, run = d.dir / "data", d.dir / "run"
    for _ in range(2):
        systemd_prepares(data, run)
        d.start(wrapper=[sys.executable, SANDBOX, UNIT, "--"], timeout=30)
        st = d.status()
        procs = {"tradingd": d.proc.pid, **pids_of(st)}
        assert len(procs) == 7, procs
        for name, pid in procs.items():
            s = proc_status(pid)
            assert s["Uid"].split() == [str(acct.pw_uid)] * 4, name
            assert s["Gid"].split() == [str(acct.pw_gid)] * 4, name
            assert s["Groups"].split() == [str(acct.pw_gid)], name
            assert int(s["CapEff"], 16) == int(s["CapPrm"], 16) == 0, name
            assert int(s["CapBnd"], 16) == mask, name
            assert s["NoNewPrivs"] == "1" and s["Seccomp"] == "2", name
        # UMask=0077: the daemon's files are its own alone; the modes meant for control_group
        # are set explicitly.
        db = data / "tradingd.db"
        for path, mode in [(data, 0o700), (run, 0o750), (db, 0o600),
                           (run / "tradingd.sock", 0o660)]:
            st_ = os.stat(path)
            assert (st_.st_uid, st_.st_mode & 0o777) == (acct.pw_uid, mode), path
        # A restart and a reload after the drop, inside the filter.
        os.kill(st["strategy"]["pid"], signal.SIGKILL)
        wait_for(lambda: (d.status() or {}).get("strategy", {}).get("restarts") == 1 and
                 d.state("strategy") == "RUNNING", 30, what="strategy restarted")
        res = d.ctl("reload")
        assert res.returncode == 0, res.stderr
        st = d.status()
        assert {n: w["restarts"] for n, w in st.items() if n != "strategy"} == \
            {n: 0 for n in st if n != "strategy"}, st
        assert d.stop() == 0
    log = d.log_text()
    assert "all 6 processes running" in log
    assert "Operation not permitted" not in log and "Permission denied" not in log, log[-3000:]


@needs_sandbox
def test_control_group_through_supplementary_groups(daemon_factory, tmp_path):
    """Under User= the daemon cannot chown to root's liking, only chgrp to a group it is in: with
    the drop-in the unit's comments name (SupplementaryGroups=), run_dir and the socket go to
    control_group; without the membership the start fails and says how to fix it."""
    import grp
    from test_control_auth import control_group
    gr = control_group()
    unit = tmp_path / "tradingd.service"
    unit.write_text(open(UNIT).read().replace("Group=tradingd\n",
                                              f"Group=tradingd\nSupplementaryGroups={gr.gr_name}\n"))
    d = daemon_factory({"user": None, "control_group": gr.gr_name}, env=sandbox_env())
    data, run = d.dir / "data", d.dir / "run"
    systemd_prepares(data, run)
    d.start(wrapper=[sys.executable, SANDBOX, str(unit), "--"], timeout=30)
    assert os.stat(run).st_gid == gr.gr_gid and os.stat(d.socket).st_gid == gr.gr_gid
    assert d.stop() == 0
    assert grp.getgrgid(os.stat(run).st_gid).gr_name == gr.gr_name
    # The unit as shipped, without the membership: refused, with the fix in the log.
    systemd_prepares(data, run)
    d.start(wrapper=[sys.executable, SANDBOX, UNIT, "--"], wait_running=False)
    assert d.proc.wait(15) != 0
    assert f"SupplementaryGroups={gr.gr_name} in the unit" in d.log_text()
