"""A full disk under the database: market-data keeps running, counts the failed writes, says
"database or disk is full" in its log, marks nothing as synced that it could not store, and
fills every minute it missed once space is back. The data directory is a real tmpfs of a few
MB, filled to the last byte."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simutil import MarketDataRig, Sim, shared_clock, wait_until  # noqa: E402

import pytest  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")

RATE = 60
MARKETS = ("KRW-BTC", "KRW-ETH")


def fill(directory):
    """Writes a file until the file system says ENOSPC; returns its path."""
    path = os.path.join(directory, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 16, 1):  # big blocks, then the last bytes one at a time
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)
    return path


def test_full_disk_is_survived_and_the_gap_filled(daemon_factory):
    clock = shared_clock(RATE)
    with Sim(["--markets", ",".join(MARKETS)], admin=True, env={"TRADINGD_CLOCK": clock}) as sim:
        rig = MarketDataRig(daemon_factory, [sim], clock, markets=MARKETS)
        data = rig.daemon.dir / "data"
        data.mkdir()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs",
                                  str(data)], capture_output=True, text=True)
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
        try:
            rig.start()
            rig.wait_synced_now(20)
            filler = fill(str(data))
            # Three simulated minutes with nowhere to write them.
            time.sleep(3.5)
            errors = wait_until(lambda: rig.details()["counters"]["candle_store_errors"] > 0,
                                10)
            assert errors, rig.details()["counters"]
            synced_while_full = rig.synced()
            rig.assert_survived()
            log = rig.daemon.log_text()
            assert "cannot store" in log
            # What happened, read before the ROLLBACK (which SQLite had already done itself).
            assert "database or disk is full" in log, log[-3000:]
            assert "cannot rollback" not in log, log[-3000:]

            os.unlink(filler)
            rig.wait_synced_now(20)
            assert rig.synced() != synced_while_full
            rig.assert_candles_match(sim, min_rows=len(MARKETS) * 100)
            rig.assert_survived()
            rig.daemon.stop()
        finally:
            rig.daemon.stop()
            subprocess.run(["umount", "-l", str(data)], check=False)
