"""The notifier against a fake Telegram (a real HTTP server on loopback): alerts arrive with
their text, routed by severity, also as webhook JSON; a crash, a real fill and a breaker opening
reach Telegram as the daemon raises them; commands from the configured chat pause and resume the
real strategy, /positions and /pnl read what the daemon traded, a foreign chat is ignored; 429
retry_after is honoured, a bad token is reported once and not retried, a second poller (409) is
alerted; a reload to a new webhook URL is followed; the token is only in the notifier."""
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import time

from conftest import binary, wait_for
from fake_telegram import FakeTelegram
from notifier_rig import (CHAT, Webhook, alerts_json, notifier_daemon, rewrite_config, rows, send,
                          start, wait_texts)
from simutil import Sim, shared_clock, wait_until
import test_strategy as strat
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
        # fills.day is the UTC date, the day Upbit's trading day starts (09:00 in Seoul).
        utc_day = time.strftime("%Y-%m-%d", time.gmtime())
        conn = sqlite3.connect(f"{d.dir}/data/tradingd.db")
        with conn:
            conn.execute("INSERT INTO positions VALUES ('KRW-BTC', 1234500000, "
                         "123456789000000, 0, 0, 0)")
            conn.execute("INSERT INTO fills VALUES ('t1', 'o1', 'KRW-BTC', 'ask', 1, 1, 1, "
                         "61728350000, 123456789000000, 0, ?, 0)", (utc_day,))
        conn.close()
        tg.command(CHAT, "/positions")
        tg.command(CHAT, "/pnl@tradingd_bot")
        tg.command(CHAT, "/pause")
        msgs = wait_texts(tg, lambda t: len(t) >= 3)
        # Replies go out side by side: their order is the network's.
        assert sorted(msgs) == sorted(["보유 포지션:\nKRW-BTC 12.345 (1,234,568원)",
                                       f"{utc_day}: 실현 손익 1,234,568원, 수수료 617원, "
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


E8 = 10**8
# market-data and order-execution on the daemon's own simulator (the strategy stays off: the
# test writes its intent itself, as tests/integration/orderutil.py does).
TRADING = {"workers.market-data.enabled": True, "workers.order-execution.enabled": True,
           "orders.scan_interval_ms": 200, "market_data.ticker_interval_ms": 200,
           "exchange.request_timeout_ms": 1000, "exchange.connect_timeout_ms": 500}


def grouped(v):
    """An exact e8 amount as an alert prints it: the whole part grouped by three."""
    whole, frac = divmod(abs(v), E8)
    text = f"{whole:,}" + (f".{frac:08d}".rstrip("0") if frac else "")
    return ("-" if v < 0 else "") + text


def plain(v):
    """dec8_format: trailing zeros trimmed, no grouping."""
    return grouped(v).replace(",", "")


def krw(v):
    """notifier_format_krw: rounded to the won (half up), grouped, with the unit."""
    won = (abs(v) + E8 // 2) // E8
    return ("-" if v < 0 and won else "") + f"{won:,} KRW"


def message_with(tg, start, body=None):
    def found(t):
        return [m for m in t if m.startswith(start) and (body is None or body in m)]
    return wait_for(lambda: found(tg.texts()), 20, what=f"a message {start!r} {body!r}")[0]


def sim_fault(d, rule):
    conn = http.client.HTTPConnection("127.0.0.1", d.sim_port, timeout=10)
    try:
        conn.request("POST", "/_sim/faults", body=json.dumps(rule),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        assert r.status == 201, r.read()
    finally:
        conn.close()


def test_a_crash_a_fill_and_a_breaker_reach_telegram(daemon_factory):
    with FakeTelegram() as tg:
        d = start(notifier_daemon(daemon_factory, tg, TRADING))
        d.wait_state("order-execution", "RUNNING", 20)
        d.wait_state("market-data", "RUNNING", 20)

        os.kill(d.status()["maintenance"]["pid"], signal.SIGKILL)
        crash = message_with(tg, "[WARNING] crash\n")
        assert crash.startswith("[WARNING] crash\nmaintenance crashed (signal 9"), crash

        now = int(time.time() * 1000)
        db = sqlite3.connect(f"{d.dir}/data/tradingd.db", timeout=10)
        with db:
            iid = db.execute("INSERT INTO order_intents(market, side, ord_type, funds_e8, state,"
                             " created_ms, updated_ms) VALUES('KRW-BTC', 'bid', 'price', ?,"
                             " 'pending', ?, ?)", (20000 * E8, now, now)).lastrowid
        db.close()
        wait_for(lambda: rows(d, "SELECT state FROM order_intents WHERE id = ?",
                              (iid,))[0][0] == "done", 20, what="the intent filled")
        price, volume, fee = rows(d, "SELECT price_e8, volume_e8, fee_e8 FROM fills ORDER BY "
                                     "trade_ms LIMIT 1")[0]
        body = (f"fill: KRW-BTC bought {plain(volume)} at {grouped(price)} KRW (fee "
                f"{grouped(fee)} KRW) intent {iid}")
        assert "," in grouped(price), price  # a KRW-BTC price is in the millions
        fill = message_with(tg, "[INFO] fill", body)
        assert fill.endswith("\n" + body), fill

        sim_fault(d, {"action": "status", "status": [500], "rate": 1, "duration_ms": 4000,
                      "group": "ticker"})
        opened = message_with(tg, "[WARNING] breaker_open\n")
        assert opened.startswith("[WARNING] breaker_open\nexchange: group ticker on "
                                 f"http://127.0.0.1:{d.sim_port}: open after "), opened
        d.stop()


def test_pause_and_resume_from_telegram_govern_real_entries(daemon_factory):
    clock = shared_clock(strat.RATE, strat.START_MS)
    markets = strat.MARKETS
    with Sim(["--markets", ",".join(markets)], admin=True,
             env={"TRADINGD_CLOCK": clock}) as sim, FakeTelegram() as tg:
        cfg = {"mode": "paper", "sim": None,
               "workers.market-data.enabled": True, "workers.order-execution.enabled": True,
               "workers.strategy.enabled": True,
               "exchange.base_url": "http://127.0.0.1:%d" % sim.port,
               "market_data.markets": markets, "market_data.ticker_interval_ms": 200,
               "market_data.stale_after_s": 2 * strat.RATE,
               "market_data.backfill_max_minutes": 60, "market_data.candle_grace_ms": 60000,
               "exchange.request_timeout_ms": 1000, "strategy.markets": markets,
               # Two daemon hours, 24 real seconds: the close does not race the checks.
               "strategy.window_open": "09:00", "strategy.window_close": "11:00",
               "strategy.check_interval_s": 60, "strategy.order_krw": 100000}
        d = start(notifier_daemon(daemon_factory, tg, cfg, env={"TRADINGD_CLOCK": clock}))
        d.wait_all_running(20)
        tg.command(CHAT, "/pause")
        wait_for(lambda: paused(d) == (1, f"telegram:{CHAT}"), 10, what="paused by Telegram")
        targets = wait_until(lambda: strat.targets(d), 20)
        assert targets, (strat.strategy_details(d), d.log_text()[-3000:])
        strat.push_above(sim, targets)
        # Above the target, inside the window: the kill switch alone stops the entries.
        assert wait_until(lambda: strat.refused_for(d, "paused"), 10), strat.strategy_details(d)
        assert strat.intents(d, "bid") == []
        tg.command(CHAT, "/resume")
        got = wait_until(lambda: (lambda r: r if len(r) >= 2 else None)(
            strat.intents(d, "bid")), 10)
        assert got and sorted(r[0] for r in got) == markets, strat.strategy_details(d)

        def positions():
            p = rows(d, "SELECT market, volume_e8, cost_e8 FROM positions WHERE volume_e8 > 0"
                        " ORDER BY market")
            return p if [m for m, _, _ in p] == markets else None
        pos = wait_until(positions, 10)
        assert pos, d.log_text()[-3000:]
        tg.command(CHAT, "/positions")
        want = "Open positions:" + "".join(f"\n{m} {grouped(v)} ({krw(c)})" for m, v, c in pos)
        assert message_with(tg, "Open positions:") == want
        (real, fees, n), = rows(d, "SELECT sum(realized_e8), sum(fee_e8), count(*) FROM fills"
                                   " WHERE day = ?", (strat.DAY,))
        assert n >= 2 and rows(d, "SELECT count(*) FROM fills")[0][0] == n
        tg.command(CHAT, "/pnl")
        assert message_with(tg, strat.DAY + ":") == \
            f"{strat.DAY}: realised {krw(real)}, fees {krw(fees)}, {n} fills"


def test_a_reload_sends_alerts_to_the_new_webhook(daemon_factory):
    old, new = Webhook(), Webhook()
    with FakeTelegram() as tg:
        d = start(notifier_daemon(daemon_factory, tg, webhook=old))
        try:
            send(d, "warning", "before", "to the old URL")
            wait_for(lambda: [b for b in old.bodies if b["kind"] == "before"], 10,
                     what="the old webhook")
            pid = d.status()["notifier"]["pid"]
            # A key the notifier applies live: no restart.
            d.config["notifier"]["storm_window_s"] = 30
            rewrite_config(d)
            d.ctl("reload", check=True)
            wait_for(lambda: "storm window, retries and timeouts applied" in d.log_text(), 10,
                     what="the live change applied")
            assert d.status()["notifier"]["pid"] == pid
            # A new URL restarts the notifier (reload_rules[]): the next alert goes there.
            d.config["notifier"]["webhook"]["url"] = new.url
            rewrite_config(d)
            d.ctl("reload", check=True)
            wait_for(lambda: (w := d.status()["notifier"])["pid"] != pid and
                     w["state"] == "RUNNING", 15, what="the notifier restarted")
            send(d, "warning", "after", "to the new URL")
            wait_for(lambda: [b for b in new.bodies if b["kind"] == "after"], 10,
                     what="the new webhook")
            assert not [b for b in old.bodies if b["kind"] == "after"], old.bodies
            assert not [b for b in new.bodies if b["kind"] == "before"], new.bodies
            assert "reload: restarting notifier for the change" in d.log_text()
        finally:
            d.stop()
            old.close()
            new.close()


def test_a_chat_removed_by_a_reload_leaves_nothing_waiting(daemon_factory):
    with FakeTelegram() as tg:
        tg.send_status = 500  # Telegram down: the alert waits for both chats
        d = start(notifier_daemon(daemon_factory, tg, telegram={"chat_ids": [CHAT, "1002"]}))
        send(d, "warning", "waiting", "for two chats")
        sinks = f"telegram:{CHAT}", "telegram:1002"

        def pending():
            return sorted(s for s, in rows(
                d, "SELECT d.sink FROM notification_deliveries d JOIN notifications n ON "
                   "n.id = d.notification_id WHERE n.kind = 'waiting' AND d.state = 'pending'"))
        wait_for(lambda: tuple(pending()) == tuple(sorted(sinks)) and
                 len([a for a in tg.attempts if "for two chats" in a[2]]) >= 2, 10,
                 what="both chats tried")
        tg.send_status = 200
        d.config["notifier"]["telegram"]["chat_ids"] = [CHAT]
        rewrite_config(d)
        d.ctl("reload", check=True)
        msgs = wait_texts(tg, lambda t: any("for two chats" in m for m in t))
        assert [m for m in tg.texts(CHAT) if "for two chats" in m], msgs
        wait_for(lambda: rows(d, "SELECT delivered_ms IS NOT NULL FROM notifications WHERE "
                                 "kind = 'waiting'")[0][0] == 1, 10, what="the row settled")
        assert rows(d, "SELECT state, last_error FROM notification_deliveries WHERE sink = "
                       "'telegram:1002'") == [("failed", "the sink is no longer configured")]
        assert "telegram:1002: no longer configured: 1 pending alerts not sent there" in \
            d.log_text()
        assert not tg.texts("1002")
        d.stop()
