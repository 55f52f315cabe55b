"""The exchange secret stays in order-execution: in live mode against a local exchange the
supervisor hands it the keys file as an open descriptor, and no other process holds the secret
in memory; a keys file others may read is refused; the daemon's uid cannot attach to it."""
import ctypes
import os
import secrets
import subprocess

from conftest import PROCESSES, binary
from orderutil import OrderRig, Sim
from test_least_privilege import as_nobody, memory_holds


def live_rig(daemon_factory, sim, keys_path):
    return OrderRig(daemon_factory, {"mode": "live", "sim": None,
                                     "exchange.base_url": "http://127.0.0.1:%d" % sim.port,
                                     "exchange.keys_file": str(keys_path)})


def write_keys(path, ak, sk, mode):
    path.write_text("%s:%s\n" % (ak, sk))
    os.chmod(path, mode)


def test_live_keys_only_in_order_execution(daemon_factory, tmp_path):
    ak, sk = "live-ak-" + secrets.token_hex(4), "live-sk-" + secrets.token_hex(12)
    with Sim(["--markets", "KRW-BTC,KRW-ETH"], accounts=["%s:%s:10000000" % (ak, sk)]) as sim:
        keys = tmp_path / "keys"
        write_keys(keys, ak, sk, 0o600)
        r = live_rig(daemon_factory, sim, keys).start()
        iid = r.intent("KRW-BTC", "bid", "price", funds=10000)
        assert r.wait_intent(iid)[0] == "done"
        orders = sim.admin("GET", "/_sim/orders")[1]["orders"]
        assert len(orders) == 1 and orders[0]["access_key"] == ak
        st = r.d.status()
        needle = sk.encode()
        # The scan works (it finds the secret where it must be) and finds it nowhere else.
        assert memory_holds(st["order-execution"]["pid"], needle)
        for name, w in st.items():
            if name != "order-execution" and w["pid"] > 0:
                assert not memory_holds(w["pid"], needle), name
        assert not memory_holds(r.d.proc.pid, needle), "supervisor"
        # The supervisor keeps the file open for restarts; order-execution read it and closed
        # it; no other process ever had it.
        def has_open(pid):
            return str(keys) in [os.readlink("/proc/%d/fd/%s" % (pid, f))
                                 for f in os.listdir("/proc/%d/fd" % pid)]
        assert has_open(r.d.proc.pid)
        for name, w in st.items():
            if w["pid"] > 0:
                assert not has_open(w["pid"]), name
        # A restarted order-execution reads the same descriptor again (from offset 0).
        old = st["order-execution"]["pid"]
        r.d.ctl("restart", "order-execution", check=True)
        r.d.wait_state("order-execution", "RUNNING")
        iid = r.intent("KRW-BTC", "bid", "price", funds=10000)
        assert r.wait_intent(iid)[0] == "done" and r.d.status()["order-execution"]["pid"] != old
        r.d.stop()
        assert sk not in r.d.log_text()


def test_keys_file_readable_by_others_is_refused(daemon_factory, tmp_path):
    with Sim(["--markets", "KRW-BTC,KRW-ETH"]) as sim:
        keys = tmp_path / "keys"
        write_keys(keys, "a", "b", 0o644)
        r = live_rig(daemon_factory, sim, keys)
        res = subprocess.run([binary("tradingd"), "-c", str(r.d.config_path)],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode != 0
        err = res.stdout + res.stderr
        assert str(keys) in err and "chmod 600 " + str(keys) in err, err
        os.chown(keys, 65533, 65533)
        os.chmod(keys, 0o600)
        res = subprocess.run([binary("tradingd"), "-c", str(r.d.config_path)],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode != 0 and "chown root " + str(keys) in res.stdout + res.stderr


def test_daemon_uid_cannot_attach_to_order_execution(daemon):
    pid = daemon.status()["order-execution"]["pid"]
    libc = ctypes.CDLL(None, use_errno=True)

    def attach():
        PTRACE_ATTACH = 16
        if libc.ptrace(PTRACE_ATTACH, pid, None, None) == 0:
            return 1
        try:
            with open("/proc/%d/mem" % pid, "rb") as f:
                f.read(1)
            return 2
        except OSError:
            return 0
    assert as_nobody(attach) == 0
    assert "order-execution" in PROCESSES


def test_live_test_clock_only_against_loopback(daemon_factory, tmp_path):
    keys = tmp_path / "keys"
    write_keys(keys, "a", "b", 0o600)
    base = {"mode": "live", "sim": None, "exchange.keys_file": str(keys),
            "clock.start": "2026-06-24T03:00:00Z", "clock.rate": 10}

    def check(url):
        r = OrderRig(daemon_factory, dict(base, **{"exchange.base_url": url}))
        return subprocess.run([binary("tradingd"), "-c", str(r.d.config_path), "--check-config"],
                              capture_output=True, text=True, timeout=30)
    for url in ("http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"):
        assert check(url).returncode == 0, (url, check(url).stderr)
    for url in ("https://api.upbit.com", "http://localhost.example.com:9",
                ["http://127.0.0.1:9", "http://10.0.0.1:9"]):
        res = check(url)
        assert res.returncode != 0 and "unless every exchange.base_url is a loopback" in \
            res.stderr, (url, res.stderr)


def test_live_mode_refuses_crash_points(daemon_factory, tmp_path):
    with Sim(["--markets", "KRW-BTC,KRW-ETH"]) as sim:
        keys = tmp_path / "keys"
        write_keys(keys, "a", "b", 0o600)
        r = OrderRig(daemon_factory, {"mode": "live", "sim": None,
                                      "exchange.base_url": "http://127.0.0.1:%d" % sim.port,
                                      "exchange.keys_file": str(keys)},
                     env={"TRADINGD_FAULT": "order-execution:crash-at:after-post"})
        r.d.start(wait_running=False)
        from conftest import wait_for
        wait_for(lambda: "crash points (TRADINGD_FAULT) are for tests and refused in live mode"
                 in r.d.log_text(), 15, what="the refusal")
        assert r.d.state("order-execution") != "RUNNING"
