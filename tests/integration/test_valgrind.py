"""The whole tree under valgrind's memcheck: every process (the supervisor, the simulator and the
six workers, api included) starts, serves a round of commands, a backup, a worker restart and
a metrics scrape, and stops on SIGTERM with no memory error and no definite leak. ASan misses
what happens inside the statically linked libuv (a handle walked after its owner was freed);
valgrind sees it. ASan binaries do not run under valgrind: this runs with the plain build."""
import glob
import os
import re
import shutil
import signal
import sys
import tempfile
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import BIN, free_port  # noqa: E402

pytestmark = [
    pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind missing"),
    pytest.mark.skipif(os.path.basename(BIN) != "bin",
                       reason="sanitizer builds do not run under valgrind"),
]

# Every worker is many times slower under memcheck: generous heartbeats and deadlines.
SLOW = {"supervisor.heartbeat_timeout_ms": 30000, "supervisor.ready_timeout_ms": 60000,
        "supervisor.stop_timeout_ms": 30000}


def test_every_process_is_clean_under_memcheck(daemon_factory):
    logs = tempfile.mkdtemp(prefix="tradingd-valgrind-")
    os.chmod(logs, 0o1777)  # the workers write theirs as the daemon's user
    port = free_port()
    d = daemon_factory(dict(SLOW, **{"workers.api.enabled": True,
                                     "api.listen": f"127.0.0.1:{port}"}))
    vg = ["valgrind", "--trace-children=yes", "--child-silent-after-fork=yes",
          "--leak-check=full", "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
          "--num-callers=30", f"--log-file={logs}/vg.%p.log"]
    try:
        d.start(timeout=180, wrapper=vg)
        for args in (["status"], ["jobs"], ["top", "--once"], ["positions"], ["alerts"],
                     ["orders"], ["pnl"], ["backup"], ["backups"], ["pause"], ["resume"],
                     ["config", "history"], ["restart", "strategy"]):
            res = d.ctl(*args)
            assert res.returncode == 0, (args, res.stdout, res.stderr)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
            assert b"tradingd_" in r.read()
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(120) == 0, d.log_text()[-3000:]
        reports = {}
        for path in glob.glob(f"{logs}/vg.*.log"):
            with open(path) as f:
                text = f.read()
            cmd = re.search(r"Command: (\S+(?: -x \S+)?)", text)
            reports.setdefault(cmd.group(1) if cmd else path, []).append(text)
        names = {os.path.basename(k) for k in reports}
        for want in ("tradingd", "upbit-sim", "tradingd -x maintenance", "tradingd -x strategy",
                     "tradingd-net -x market-data", "tradingd-net -x order-execution",
                     "tradingd-net -x notifier", "tradingd-api -x api"):
            assert want in names, (want, sorted(names))
        for cmd, texts in reports.items():
            for text in texts:
                m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
                assert m and m.group(1) == "0", (cmd, text[-6000:])
    finally:
        shutil.rmtree(logs, ignore_errors=True)
