"""Least privilege: every process is undumpable (another process of its uid cannot read its
memory or environment), workers start with a minimal environment, no secret reaches a worker
that does not use it, the log or the database, and a run_dir open to others is narrowed."""
import os
import re
import sqlite3
import stat

from conftest import PROCESSES, WORKERS, wait_for

SIM_SECRET = "sim-secret-8f3a2c71d9"
KEPT_ENV = ("PATH", "TRADINGD_CLOCK", "TRADINGD_FAULT", "JOURNAL_STREAM", "TZ",
            "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")


def memory_holds(pid, needle):
    """Scans every readable mapping of pid (as root) for needle."""
    found = False
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            start, end, perms = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
            # Secrets live in the heap and data, not in ASan's terabytes of shadow memory.
            if perms[0] != "r" or "[vvar]" in line or "[vsyscall]" in line or \
                    end - start > (256 << 20):
                continue
            try:
                mem.seek(start)
                tail = b""
                for off in range(start, end, 1 << 20):
                    chunk = tail + mem.read(min(1 << 20, end - off))
                    if needle in chunk:
                        found = True
                        break
                    tail = chunk[-len(needle):]
            except (OSError, ValueError, OverflowError):
                continue
            if found:
                break
    return found


def as_nobody(fn):
    """Runs fn in a child that has become nobody; returns its exit code."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os._exit(fn())
        except BaseException:
            os._exit(99)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_secrets_stay_with_order_execution(daemon_factory):
    d = daemon_factory({"sim.accounts": [f"test-access-key:{SIM_SECRET}:10000000"]}).start()
    st = d.status()
    needle = SIM_SECRET.encode()
    for name in WORKERS:
        assert memory_holds(st[name]["pid"], needle) == (name == "order-execution"), name
    # The simulator has the secret (it is the exchange), but not on its command line, which
    # every local user can read, nor left in its environment block.
    sim = st["upbit-sim"]["pid"]
    assert needle not in open(f"/proc/{sim}/cmdline", "rb").read()
    assert needle not in open(f"/proc/{sim}/environ", "rb").read()
    assert memory_holds(sim, needle)
    d.ctl("reload", check=True)
    d.stop()
    assert SIM_SECRET not in d.log_text()
    raw = open(d.dir / "data" / "tradingd.db", "rb").read()
    wal = d.dir / "data" / "tradingd.db-wal"
    if wal.exists():
        raw += wal.read_bytes()
    assert needle not in raw
    db = sqlite3.connect(d.dir / "data" / "tradingd.db")
    texts = [r[0] for r in db.execute("SELECT text FROM config_versions")]
    db.close()
    # The reload of an unchanged file adds no version (issue 10).
    assert len(texts) == 1 and all("(secret)" in t for t in texts), texts


def test_no_process_can_be_read_by_its_own_uid(daemon):
    st = daemon.status()
    for name in PROCESSES:
        pid = st[name]["pid"]
        # Undumpable: /proc/PID belongs to root, so the daemon's uid cannot open it.
        assert os.stat(f"/proc/{pid}/environ").st_uid == 0, name

        def read_it():
            try:
                open(f"/proc/{pid}/environ", "rb").read()
                return 1
            except PermissionError:
                return 0
        assert as_nobody(read_it) == 0, name
        limits = open(f"/proc/{pid}/limits").read()
        assert re.search(r"Max core file size\s+0\s+0", limits), (name, limits)


def test_workers_get_a_minimal_environment(daemon_factory):
    d = daemon_factory(env={"HOME": "/root", "SECRET_OF_THE_SHELL": "x", "SSH_AUTH_SOCK": "/s"})
    d.start()
    st = d.status()
    for name in WORKERS:
        env = open(f"/proc/{st[name]['pid']}/environ", "rb").read().split(b"\0")
        keys = {e.split(b"=", 1)[0].decode() for e in env if e}
        assert keys <= set(KEPT_ENV), (name, keys)
        assert "PATH" in keys


def test_a_run_dir_open_to_others_is_narrowed(daemon_factory):
    d = daemon_factory()
    run = d.dir / "run"
    run.mkdir()
    os.chmod(run, 0o777)
    d.start()
    assert stat.S_IMODE(os.stat(run).st_mode) == 0o750
    assert "was mode 0777, open to others: narrowed to 0750" in d.log_text()
    assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o660
