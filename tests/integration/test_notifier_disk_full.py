"""A full disk under the database: an alert whose row cannot be written reaches Telegram anyway
(its text goes to the notifier over IPC), and so does the "disk full" alert itself; once space is
back the rows are stored and marked delivered, and nothing is sent twice. The data directory is a
real tmpfs of a few MB, filled to the last byte."""
import os
import subprocess
import time

import pytest

from conftest import wait_for
from fake_telegram import FakeTelegram
from notifier_rig import notifier_daemon, rows, send, start, wait_texts
from test_market_data_disk_full import fill

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


def test_alerts_get_through_a_full_disk_and_are_stored_once(daemon_factory):
    with FakeTelegram() as tg:
        d = notifier_daemon(daemon_factory, tg)
        data = d.dir / "data"
        data.mkdir()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs",
                                  str(data)], capture_output=True, text=True)
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
        filler = None
        try:
            start(d)
            send(d, "warning", "before", "written before the disk filled")
            wait_texts(tg, lambda t: any("before the disk filled" in m for m in t))
            filler = fill(str(data))
            # SQLite may still write into WAL space it has (a WAL restarted after a
            # checkpoint): alerts go on until one meets the full disk.
            for _ in range(600):
                if "alert kept in memory" in d.log_text():
                    break
                send(d, "info", "wal_push", "pushing the WAL past the end of the disk")
            send(d, "critical", "while_full", "raised while the disk is full")
            try:
                msgs = wait_texts(tg, lambda t: any("while the disk is full" in m for m in t)
                                  and any("disk_full" in m for m in t), timeout=60)
            except AssertionError:
                raise AssertionError((tg.texts()[-5:], d.log_text()[-4000:])) from None
            assert any(m.startswith("[CRITICAL] disk_full\ndatabase or disk is full")
                       for m in msgs), msgs
            assert not rows(d, "SELECT id FROM notifications WHERE kind = 'while_full'")
            assert "alert kept in memory" in d.log_text()

            os.unlink(filler)
            filler = None
            wait_for(lambda: rows(d, "SELECT COUNT(*) FROM notifications WHERE kind IN "
                                     "('while_full', 'disk_full') AND delivered_ms IS NOT "
                                     "NULL")[0][0] == 2, 15, what="the kept rows stored")
            states = rows(d, "SELECT d.sink, d.state FROM notification_deliveries d JOIN "
                             "notifications n ON n.id = d.notification_id WHERE n.kind = "
                             "'while_full' ORDER BY 1")
            assert states == [("log", "sent"), ("telegram:1001", "sent")], states
            send(d, "warning", "after", "written after space came back")
            wait_texts(tg, lambda t: any("after space came back" in m for m in t))
            time.sleep(0.6)  # one rescan more: a duplicate would show now
            bodies = tg.texts()
            assert sum("while the disk is full" in m for m in bodies) == 1, bodies
            assert sum("disk_full" in m for m in bodies) == 1, bodies
            d.stop()
        finally:
            if filler:
                os.unlink(filler)
            d.stop()
            subprocess.run(["umount", "-l", str(data)], check=False)
