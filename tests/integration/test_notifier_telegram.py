"""The notifier against a fake Telegram (a real HTTP server on loopback): alerts arrive with
their text, routed by severity, also as webhook JSON; commands from the configured chat pause and
resume trading, a foreign chat is ignored; 429 retry_after is honoured, a bad token is reported
once and not retried, a second poller (409) is alerted; the token is only in the notifier."""
import os
import sqlite3
import subprocess
import time

from conftest import binary, wait_for
from fake_telegram import FakeTelegram
from notifier_rig import (CHAT, Webhook, alerts_json, notifier_daemon, rows, send, start,
                          wait_texts)
from test_crash_loop import BURST, kill_until_fatal
from test_least_privilege import memory_holds


def paused(d):
    return rows(d, "SELECT paused, changed_by FROM trading_control WHERE id = 1")[0]


def test_alerts_commands_routing_and_the_token_stays_in_the_notifier(daemon_factory):
    hook = Webhook()
    with FakeTelegram() as tg:
        d = start(notifier_daemon(daemon_factory, tg, BURST, webhook=hook,
                                  telegram={"min_severity": "warning"}))
        try:
            # A crash loop, the supervisor's own alert, arrives with its text.
            kill_until_fatal(d, "maintenance")
            msgs = wait_texts(tg, lambda t: any("crash_loop" in m for m in t))
            crash = [m for m in msgs if "crash_loop" in m][0]
            assert crash.startswith("[CRITICAL] crash_loop\nmaintenance is in a crash loop"), msgs

            # Routing: info reaches the log and the webhook, not Telegram (min warning).
            send(d, "info", "routing_probe", "an info alert")
            wait_for(lambda: any(b["kind"] == "routing_probe" for b in hook.bodies), 10,
                     what="webhook POST")
            body = [b for b in hook.bodies if b["kind"] == "routing_probe"][0]
            assert body["severity"] == "info" and body["text"] == "an info alert", body
            assert body["source"] == "tradingd" and body["count"] == 1, body
            def state():
                return rows(d, "SELECT d.sink, d.state FROM notification_deliveries d JOIN "
                               "notifications n ON n.id = d.notification_id WHERE n.kind = "
                               "'routing_probe' ORDER BY d.sink")
            want = [("log", "sent"), (f"telegram:{CHAT}", "skipped"), ("webhook", "sent")]
            # The mark follows the webhook's answer.
            wait_for(lambda: state() == want, 10, what="the deliveries of routing_probe")
            assert not any("routing_probe" in m for m in tg.texts())
            assert "alert #" in d.log_text() and "an info alert" in d.log_text()

            # A foreign chat is ignored (and logged); the configured one pauses trading.
            tg.command("4242", "/pause")
            wait_for(lambda: "from chat 4242 ignored" in d.log_text(), 10, what="ignored")
            assert paused(d)[0] == 0
            tg.command(CHAT, "/pause")
            wait_for(lambda: paused(d)[0] == 1, 10, what="trading paused")
            assert paused(d)[1] == f"telegram:{CHAT}"
            wait_texts(tg, lambda t: "Trading paused." in t)
            tg.command(CHAT, "/resume")
            wait_for(lambda: paused(d)[0] == 0, 10, what="trading resumed")
            tg.command(CHAT, "/status")
            tg.command(CHAT, "/nonsense")
            wait_texts(tg, lambda t: any(m.startswith("Mode sim, trading running") for m in t)
                       and any(m.startswith("Commands: /status") for m in t))
            status = [m for m in tg.texts() if m.startswith("Mode sim")][0]
            # The process table comes from the supervisor (IPC_PROCS).
            assert "\nnotifier RUNNING" in status and "\nmaintenance " in status, status
            assert "restarts" in status, status
            assert not any(m for m in tg.texts("4242")), "a foreign chat got an answer"

            # The token: only the notifier holds it; never in a log or a stored config.
            st = d.status()
            token = tg.token.encode()
            assert memory_holds(st["notifier"]["pid"], token), "the scan cannot see it"
            others = [d.proc.pid] + [w["pid"] for n, w in st.items()
                                     if n != "notifier" and w["pid"] > 0]
            for pid in others:
                assert not memory_holds(pid, token), f"pid {pid} holds the bot token"
            # Only the supervisor keeps the file open (for the next start); the notifier read
            # it and closed it; no other process ever had it.
            token_path = d.config["notifier"]["telegram"]["token_file"]
            for pid in [st["notifier"]["pid"]] + others:
                links = [os.readlink(f"/proc/{pid}/fd/{fd}")
                         for fd in os.listdir(f"/proc/{pid}/fd")]
                assert (token_path in links) == (pid == d.proc.pid), (pid, links)
            assert tg.token not in d.log_text()
            for (text,) in rows(d, "SELECT text FROM config_versions"):
                assert tg.token not in text
            assert all("<token>" in path for _, path in tg.requests)
            out = d.ctl("alerts")
            assert out.returncode == 0 and f"telegram:{CHAT}" in out.stdout, out
        finally:
            d.stop()
            hook.close()


def test_retry_after_is_honoured(daemon_factory):
    with FakeTelegram() as tg:
        tg.send_script = [(429, {"ok": False, "error_code": 429,
                                 "description": "Too Many Requests: retry after 2",
                                 "parameters": {"retry_after": 2}})]
        d = start(notifier_daemon(daemon_factory, tg))
        send(d, "warning", "limited", "after the wait")
        wait_texts(tg, lambda t: any("after the wait" in m for m in t))
        tries = [(t, s) for t, s, text in tg.attempts if "after the wait" in text]
        assert [s for _, s in tries] == [429, 200], tries
        assert tries[1][0] - tries[0][0] >= 1.95, tries
        d.stop()


def test_a_bad_token_is_reported_once_and_not_retried(daemon_factory):
    with FakeTelegram() as tg:
        d = start(notifier_daemon(daemon_factory, tg, token="999:wrongTOKEN"))
        send(d, "warning", "first", "one")
        wait_for(lambda: any(s["sink"] == f"telegram:{CHAT}" and s["state"] == "failed"
                             for s in alerts_json(d)["sinks"]), 10, what="sink failed")
        sink = [s for s in alerts_json(d)["sinks"] if s["sink"] == f"telegram:{CHAT}"][0]
        assert "HTTP 401" in sink["error"], sink
        send(d, "warning", "second", "two")
        wait_for(lambda: rows(d, "SELECT COUNT(*) FROM notification_deliveries WHERE sink = "
                                 "'log' AND state = 'sent'")[0][0] == 2, 10, what="logged")
        sends = [r for r in tg.requests if r[0] == "sendMessage"]
        assert len(sends) == 1, sends
        assert d.log_text().count("permanent error") == 1
        # Nothing is lost: the rows wait for a fixed token.
        assert rows(d, "SELECT COUNT(*) FROM notification_deliveries WHERE sink = ? AND "
                       "state = 'pending'", (f"telegram:{CHAT}",))[0][0] == 2
        d.stop()


def test_a_second_poller_on_the_token_is_alerted(daemon_factory):
    with FakeTelegram() as tg:
        tg.updates_status = 409
        d = start(notifier_daemon(daemon_factory, tg))
        msgs = wait_texts(tg, lambda t: any("telegram_conflict" in m for m in t))
        assert any("409 Conflict" in m for m in msgs), msgs
        wait_for(lambda: tg.polls >= 3, 10, what="polls go on, backing off")
        assert len(rows(d, "SELECT id FROM notifications WHERE kind = 'telegram_conflict'")) == 1
        d.stop()


def test_a_readable_token_file_is_refused(daemon_factory):
    with FakeTelegram() as tg:
        d = notifier_daemon(daemon_factory, tg)
        os.chmod(d.config["notifier"]["telegram"]["token_file"], 0o640)
        d.start(wait_running=False)
        assert d.proc.wait(20) != 0
        assert "lets group or others read the token" in d.log_text()
        assert tg.token not in d.log_text()


def test_korean_replies_read_positions_and_pnl(daemon_factory):
    with FakeTelegram() as tg:
        d = start(notifier_daemon(daemon_factory, tg, {"locale": "ko"}))
        kst_day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 9 * 3600))
        conn = sqlite3.connect(f"{d.dir}/data/tradingd.db")
        with conn:
            conn.execute("INSERT INTO positions VALUES ('KRW-BTC', 1234500000, "
                         "123456789000000, 0, 0, 0)")
            conn.execute("INSERT INTO fills VALUES ('t1', 'o1', 'KRW-BTC', 'ask', 1, 1, 1, "
                         "61728350000, 123456789000000, 0, ?, 0)", (kst_day,))
        conn.close()
        tg.command(CHAT, "/positions")
        tg.command(CHAT, "/pnl@tradingd_bot")
        tg.command(CHAT, "/pause")
        msgs = wait_texts(tg, lambda t: len(t) >= 3)
        # Replies go out side by side: their order is the network's.
        assert sorted(msgs) == sorted(["보유 포지션:\nKRW-BTC 12.345 (1,234,568원)",
                                       f"{kst_day}: 실현 손익 1,234,568원, 수수료 617원, "
                                       "체결 1건", "거래를 일시 중지했습니다."]), msgs
        send(d, "critical", "ko_alert", "text")
        msgs = wait_texts(tg, lambda t: len(t) >= 4)
        assert msgs[3] == "[심각] ko_alert\ntext", msgs
        d.stop()


def test_bad_notifier_settings_are_named_with_their_place(tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text('{\n  "notifier": {"telegram": {"token_file": "/t", "chat_ids": ["12a"],\n'
                   '    "base_url": "ftp://x"}, "webhook": {"url": "nope"}}\n}\n')
    res = subprocess.run([binary("tradingd"), "-c", str(cfg), "--check-config"],
                         capture_output=True, text=True)
    assert res.returncode == 78, res
    assert f"{cfg}:2:62: notifier.telegram.chat_ids[0]: \"12a\" is no chat id" in res.stderr
    assert f"{cfg}:3:5: notifier.telegram.base_url: must start with" in res.stderr
    assert f"{cfg}:3:41: notifier.webhook.url: must start with" in res.stderr
    cfg.write_text('{"notifier": {"telegram": {"token_file": "/t"}}}')
    res = subprocess.run([binary("tradingd"), "-c", str(cfg), "--check-config"],
                         capture_output=True, text=True)
    assert "notifier.telegram.chat_ids: a bot token needs at least one chat id" in res.stderr
