"""Delivery that loses nothing: Telegram down for a simulated hour (the test clock), then every
alert arrives in order and once; the notifier killed with kill -9 in the middle of a delivery
sends that alert at most twice and loses none; a storm of 1,000 identical alerts becomes a
handful of messages whose counts add up."""
import os
import signal
import time

from conftest import wait_for
from fake_telegram import FakeTelegram
from notifier_rig import (count_of, db, notifier_daemon, rows, send, start, undelivered,
                          wait_texts)


def test_an_hour_without_telegram_then_everything_in_order(daemon_factory):
    # 1200x: three real seconds are an hour of the daemon's time.
    clock = {"clock": {"start": "2026-03-02T09:00:00+09:00", "rate": 1200}}
    with FakeTelegram() as tg:
        tg.send_status = 502
        d = start(notifier_daemon(daemon_factory, tg, clock))
        texts = [f"outage alert {i}" for i in range(8)]
        for i, text in enumerate(texts):
            send(d, "warning", f"outage_{i}", text)
            time.sleep(0.4)  # spreads them over the simulated hour
        wait_for(lambda: sum(1 for _, s, _ in tg.attempts if s == 502) >= 3, 10,
                 what="retries while down")
        span = rows(d, "SELECT MAX(created_ms) - MIN(created_ms) FROM notifications "
                       "WHERE kind LIKE 'outage_%'")[0][0]
        assert span >= 50 * 60 * 1000, span
        assert tg.texts() == [] and undelivered(d) == len(texts)
        tg.send_status = 200
        msgs = wait_texts(tg, lambda t: len(t) >= len(texts), timeout=20)
        assert [m.split("\n", 1)[1] for m in msgs] == texts, msgs
        wait_for(lambda: undelivered(d) == 0, 10, what="every row delivered")
        time.sleep(0.5)  # a duplicate would come from the next pump or rescan
        assert len(tg.texts()) == len(texts)
        d.stop()


def test_kill_9_in_the_middle_of_a_delivery(daemon_factory):
    with FakeTelegram() as tg:
        d = start(notifier_daemon(daemon_factory, tg))
        tg.hold.set()
        send(d, "critical", "held", "the held alert")
        wait_for(tg.held.is_set, 10, what="a sendMessage in flight")
        pid = d.status()["notifier"]["pid"]
        send(d, "warning", "queued_1", "queued one")
        send(d, "warning", "queued_2", "queued two")
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: (st := d.status()["notifier"])["pid"] not in (0, pid) and
                 st["state"] == "RUNNING", 15, what="notifier restarted")
        tg.hold.clear()
        msgs = wait_texts(tg, lambda t: any("queued two" in m for m in t))
        wait_for(lambda: undelivered(d) == 0, 10, what="every row delivered")
        bodies = [m.split("\n", 1)[1] for m in tg.texts()]
        assert 1 <= bodies.count("the held alert") <= 2, msgs
        assert bodies.count("queued one") == 1 and bodies.count("queued two") == 1, msgs
        assert bodies.index("queued one") < bodies.index("queued two")
        d.stop()


def test_a_storm_becomes_a_handful_of_messages(daemon_factory):
    with FakeTelegram() as tg:
        d = start(notifier_daemon(daemon_factory, tg, {"notifier.storm_window_s": 2}))
        # 1,000 rows committed at once by another writer, then the nudge of one more.
        conn = db(d).__class__(f"{d.dir}/data/tradingd.db")
        now = int(time.time() * 1000)
        with conn:
            conn.executemany("INSERT INTO notifications(created_ms, severity, source, kind, "
                             "text) VALUES (?, 'warning', 'test', 'storm', ?)",
                             [(now, f"storm {i}") for i in range(1000)])
        conn.close()
        send(d, "warning", "storm", "storm last")

        def storm_messages():
            return [m for m in tg.texts() if "storm" in m.split("\n", 1)[0]]
        # The summary follows once the window (2 s) is over.
        wait_for(lambda: sum(count_of(m.split("\n", 1)[0]) for m in storm_messages()) >= 1001,
                 20, what="the storm's summary")
        wait_for(lambda: undelivered(d) == 0, 20, what="the storm delivered")
        time.sleep(0.5)  # nothing more may follow
        msgs = storm_messages()
        assert 1 <= len(msgs) <= 5, msgs
        assert sum(count_of(m.split("\n", 1)[0]) for m in msgs) == 1001, msgs
        assert any("×" in m for m in msgs), msgs
        # The log, the complete record, has every one of them.
        assert rows(d, "SELECT COUNT(*) FROM notification_deliveries d JOIN notifications n "
                       "ON n.id = d.notification_id WHERE d.sink = 'log' AND d.state = 'sent' "
                       "AND n.kind = 'storm'")[0][0] == 1001
        d.stop()
