"""A tradingd whose notifier talks to a fake Telegram (fake_telegram.py) and, when asked, to a
webhook recorder: the rig of the notifier's tests. Only the notifier and maintenance run, so a
test costs a second of start-up."""
import json
import os
import re
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import wait_for
from fake_telegram import TOKEN

CHAT = "1001"
QUIET = {"workers.market-data.enabled": False, "workers.strategy.enabled": False,
         "workers.order-execution.enabled": False}


class Webhook:
    """Records the JSON body of every POST; answers 200."""

    def __init__(self):
        self.bodies = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                hook.bodies.append(json.loads(self.rfile.read(n)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def notifier_daemon(daemon_factory, tg, extra=None, token=TOKEN, telegram=None, webhook=None,
                    env=None):
    """A daemon (not started) whose token file holds token, pointed at tg."""
    tel = {"base_url": tg.url, "chat_ids": [CHAT], "poll_timeout_s": 1,
           "chat_interval_ms": 20, **(telegram or {})}
    notifier = {"retry_initial_ms": 100, "retry_max_ms": 400, "rescan_interval_ms": 500,
                "telegram": tel}
    if webhook:
        notifier["webhook"] = {"url": webhook.url, "min_severity": "info"}
    overrides = {**QUIET, "notifier": notifier, **(extra or {})}
    d = daemon_factory(overrides, env=env)
    token_file = d.dir / "bot-token"
    token_file.write_text(token + "\n")
    os.chmod(token_file, 0o600)
    d.config["notifier"]["telegram"]["token_file"] = str(token_file)
    d.config_path.write_text(json.dumps(d.config, indent=2))
    return d


def start(d):
    d.start(wait_running=False)
    d.wait_state("notifier", "RUNNING", timeout=20)
    return d


def send(d, severity, kind, text):
    res = d.ctl("alerts", "send", severity, kind, text)
    assert res.returncode == 0, res.stderr


def alerts_json(d):
    res = d.ctl("--json", "alerts")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def db(d):
    return sqlite3.connect(f"file:{d.dir}/data/tradingd.db?mode=ro", uri=True)


def rows(d, sql, args=()):
    conn = db(d)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def undelivered(d):
    return rows(d, "SELECT COUNT(*) FROM notifications WHERE delivered_ms IS NULL")[0][0]


def count_of(text):
    """The ×N a message carries, 1 when none."""
    m = re.search(r"×(\d+)", text)
    return int(m.group(1)) if m else 1


def wait_texts(tg, pred, timeout=15, what="telegram messages"):
    return wait_for(lambda: pred(tg.texts()) and tg.texts(), timeout, what=what)


def rewrite_config(d):
    """Writes d.config back, for a reload."""
    d.config_path.write_text(json.dumps(d.config, indent=2))
