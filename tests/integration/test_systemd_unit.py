"""etc/tradingd.service: systemd-analyze verify says nothing at all (it exits 0 even on a
misspelt key, so any output fails), the settings the supervisor relies on are there, and
`make install` puts the binaries, the example config and the unit where they belong."""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from conftest import BIN, ROOT

UNIT = os.path.join(ROOT, "etc", "tradingd.service")
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed "
                                   "(apt-get install systemd)")


def parse_unit(text):
    """section -> key -> list of values (a key may repeat)."""
    sections, current = {}, None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def verify(unit_path):
    res = subprocess.run([ANALYZE, "verify", unit_path], capture_output=True,
                         text=True, timeout=60)
    return res.returncode, (res.stdout + res.stderr).strip()


@needs_analyze
def test_unit_verifies_without_a_word(tmp_path):
    # verify insists that ExecStart's binary exists: point it at the one just built.
    text = open(UNIT).read()
    assert "/usr/local/bin/tradingd" in text
    tradingd = os.path.abspath(os.path.join(BIN, "tradingd"))
    copy = tmp_path / "tradingd.service"
    copy.write_text(text.replace("/usr/local/bin/tradingd", tradingd))
    rc, out = verify(str(copy))
    assert rc == 0 and out == "", out


@needs_analyze
def test_verify_does_catch_a_misspelt_key(tmp_path):
    """The check above is only worth something if verify complains about such things here."""
    copy = tmp_path / "tradingd.service"
    copy.write_text(open(UNIT).read().replace("/usr/local/bin/tradingd", "/bin/true")
                    .replace("KillMode=mixed", "KilMode=mixed"))
    rc, out = verify(str(copy))
    assert "KilMode" in out


def test_unit_settings():
    unit = parse_unit(open(UNIT).read())
    svc = unit["Service"]

    def one(key):
        assert key in svc, f"{key} missing"
        assert len(svc[key]) == 1, f"{key} given twice"
        return svc[key][0]
    assert one("Type") == "notify"
    assert one("NotifyAccess") == "main"
    assert one("ExecStart") == "/usr/local/bin/tradingd -c /etc/tradingd/tradingd.json"
    assert one("ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one("WatchdogSec") == "30"
    assert one("Restart") == "on-failure"
    assert int(one("RestartSec")) > 0
    assert one("KillMode") == "mixed"
    assert "78" in one("RestartPreventExitStatus").split()
    # The supervisor stops six processes one after the other, each allowed stop_timeout_ms.
    example = json.load(open(os.path.join(ROOT, "etc", "tradingd.json")))
    stop_ms = example["supervisor"]["stop_timeout_ms"]
    assert int(one("TimeoutStopSec")) * 1000 > 6 * stop_ms
    for key, want in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                      ("PrivateTmp", "yes"), ("ProtectHome", "yes"),
                      ("ProtectKernelTunables", "yes"), ("ProtectKernelModules", "yes"),
                      ("ProtectKernelLogs", "yes"), ("ProtectControlGroups", "yes"),
                      ("RestrictNamespaces", "yes"), ("LockPersonality", "yes"),
                      ("MemoryDenyWriteExecute", "yes"), ("SystemCallArchitectures", "native"),
                      ("StateDirectory", "tradingd"), ("RuntimeDirectory", "tradingd")]:
        assert one(key) == want, key
    assert sorted(one("RestrictAddressFamilies").split()) == ["AF_INET", "AF_INET6", "AF_UNIX"]
    assert sorted(one("ReadWritePaths").split()) == ["/run/tradingd", "/var/lib/tradingd"]
    # Never root: systemd starts it as its account, with no capability, owner-only data.
    assert one("User") == "tradingd" and one("Group") == "tradingd"
    assert one("CapabilityBoundingSet") == "" and one("AmbientCapabilities") == ""
    assert one("StateDirectoryMode") == "0700" and one("LimitCORE") == "0"
    example_user = json.load(open(os.path.join(ROOT, "etc", "tradingd.json"))).get("user")
    assert example_user in (None, "tradingd")  # the config names the unit's account
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def make_install(destdir, prefix, env=None):
    cmd = ["make", "-s", "install", f"DESTDIR={destdir}", f"PREFIX={prefix}"]
    if os.path.basename(BIN) == "bin-asan":
        cmd.append("SAN=1")
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def account_stubs(tmp_path, exists):
    """getent and useradd stand-ins on PATH: the account exists or not, and useradd only records
    its arguments, so that the machine's accounts are left alone."""
    stubs = tmp_path / "stubs"
    stubs.mkdir(mode=0o755)
    calls = tmp_path / "useradd.calls"
    (stubs / "getent").write_text(f"#!/bin/sh\nexit {0 if exists else 2}\n")
    (stubs / "useradd").write_text(f'#!/bin/sh\necho "$*" >>{calls}\n')
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    return dict(os.environ, PATH=f"{stubs}:{os.environ['PATH']}"), calls


USERADD = ("--system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "
           "--user-group tradingd")


@pytest.mark.parametrize("prefix", ["/usr/local", "/opt/tradingd"])
def test_make_install(tmp_path, prefix):
    dest = tmp_path / "dest"
    make_install(dest, prefix)
    root = str(dest)
    for name in ("tradingd", "tradingd-net", "tradectl", "upbit-sim"):
        path = f"{root}{prefix}/bin/{name}"
        assert os.path.isfile(path) and os.stat(path).st_mode & 0o777 == 0o755, path
        with open(path, "rb") as a, open(os.path.join(BIN, name), "rb") as b:
            assert a.read() == b.read(), f"{path} is not the built {name}"
    assert os.path.isdir(f"{root}/etc/tradingd")

    # The example config is valid and names the directories the unit provides.
    example = f"{root}{prefix}/share/tradingd/tradingd.json.example"
    cfg = json.load(open(example))
    assert cfg["data_dir"] == "/var/lib/tradingd" and cfg["run_dir"] == "/run/tradingd"
    res = subprocess.run([f"{root}{prefix}/bin/tradingd", "-c", example, "--check-config"],
                         capture_output=True, text=True, timeout=10)
    assert res.returncode == 0, res.stderr

    # The unit reads /etc/tradingd/tradingd.json: a first install puts the example there,
    # readable by root and (once the group is tradingd's, as a real install makes it) the daemon.
    conf = f"{root}/etc/tradingd/tradingd.json"
    assert open(conf).read() == open(example).read()
    assert os.stat(conf).st_mode & 0o777 == 0o640

    unit_path = f"{root}/lib/systemd/system/tradingd.service"
    assert os.stat(unit_path).st_mode & 0o777 == 0o644
    svc = parse_unit(open(unit_path).read())["Service"]
    assert svc["ExecStart"] == [f"{prefix}/bin/tradingd -c /etc/tradingd/tradingd.json"]
    if ANALYZE:
        # Verified as installed, with ExecStart pointing into DESTDIR where the binary is.
        copy = tmp_path / "tradingd.service"
        copy.write_text(open(unit_path).read().replace(f"{prefix}/bin/", f"{root}{prefix}/bin/"))
        rc, out = verify(str(copy))
        assert rc == 0 and out == "", out


def test_make_install_never_overwrites_the_config(tmp_path):
    dest = tmp_path / "dest"
    make_install(dest, "/usr/local")
    conf = dest / "etc" / "tradingd" / "tradingd.json"
    first = conf.read_text()
    edited = first.replace('"mode": "sim"', '"mode": "paper"')
    assert edited != first
    conf.write_text(edited)
    conf.chmod(0o600)
    before = os.stat(conf)
    out = make_install(dest, "/usr/local")
    after = os.stat(conf)
    assert conf.read_text() == edited
    assert (after.st_ino, after.st_mode, after.st_mtime_ns) == \
        (before.st_ino, before.st_mode, before.st_mtime_ns)
    assert f"{conf} exists: kept" in out
    # The example beside the binaries is still refreshed.
    example = dest / "usr" / "local" / "share" / "tradingd" / "tradingd.json.example"
    assert example.read_text() == first


def test_staged_install_creates_no_account(tmp_path):
    """With DESTDIR the stage's owner makes the account (a package's scripts), not make install."""
    env, calls = account_stubs(tmp_path, exists=False)
    make_install(tmp_path / "dest", "/usr/local", env=env)
    assert not calls.exists()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv")
@pytest.mark.parametrize("step", ["build", "test"])
def test_ensure_deps_creates_the_account(step):
    """As root, the build step (make, make run) and the test step (make test) create the
    default user when it is missing, and leave it when it exists; an ordinary user needs none."""
    script = ["sh", os.path.join(ROOT, ".ci", "ensure-deps.sh"), step]
    # Not under pytest's 0700 tmp dir: the stubs must be reachable by nobody too.
    work = pathlib.Path(tempfile.mkdtemp(prefix="tradingd-account-"))
    try:
        work.chmod(0o755)
        (work / "missing").mkdir()
        env, calls = account_stubs(work / "missing", exists=False)
        res = subprocess.run(script, env=env, capture_output=True, text=True, timeout=120)
        if res.returncode != 0 and "missing packages" in res.stderr:
            pytest.skip(f"the {step} step's packages are not all installed here")
        assert res.returncode == 0, res.stderr
        assert calls.read_text() == USERADD + "\n"
        calls.unlink()

        res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              *script], env=env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        assert not calls.exists() and "creating" not in res.stderr

        (work / "exists").mkdir()
        env, calls = account_stubs(work / "exists", exists=True)
        res = subprocess.run(script, env=env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        assert not calls.exists()
    finally:
        shutil.rmtree(work, ignore_errors=True)
