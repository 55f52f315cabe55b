"""The test clock of the config reaches every process: workers and the simulator compute the
same instant, and market-data's prices carry the simulated time."""
import json
import time

from conftest import WORKERS


def environ_of(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)


def test_clock_section_is_handed_to_every_process(daemon_factory):
    start = "2026-01-05T08:59:00+09:00"  # 2026-01-04T23:59:00Z
    d = daemon_factory(overrides={"clock": {"start": start, "rate": 600}}).start()
    st = d.status()
    values = set()
    for name in WORKERS + ["upbit-sim"]:
        env = environ_of(st[name]["pid"])
        assert b"TRADINGD_CLOCK" in env, name
        values.add(env[b"TRADINGD_CLOCK"])
    assert len(values) == 1, values
    start_ms, anchor_ms, rate = values.pop().decode().split(":")
    assert int(start_ms) == 1767571140000 and float(rate) == 600
    assert "TEST CLOCK ACTIVE" in d.log_text()

    # market-data's clock runs 600 times faster from the start instant.
    def last_valid():
        res = d.ctl("--json", "status", "market-data")
        det = json.loads(res.stdout)["workers"][0].get("details", {})
        return max((m["last_valid_ms"] for m in det.get("markets", {}).values()), default=0)
    deadline = time.time() + 10
    while time.time() < deadline and last_valid() < 1767571140000:
        time.sleep(0.1)
    now = last_valid()
    elapsed_real_ms = time.time() * 1000 - int(anchor_ms)
    assert 1767571140000 <= now <= 1767571140000 + (elapsed_real_ms + 1000) * 600, now
