"""A fake Telegram Bot API for the notifier's tests: a real HTTP server on loopback (http.server
in a thread) that records every sendMessage, answers as told (ok, 429 with retry_after, 5xx,
401, a held answer), and serves getUpdates from a queue of commands."""
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "123456789:AAtestTOKENforTHEfakeSERVERonly_xyz"


class FakeTelegram:
    def __init__(self, token=TOKEN):
        self.token = token
        self.lock = threading.Condition()
        self.messages = []       # dicts: chat_id, text, t (monotonic), answered
        self.requests = []       # (method, path without the token) of every request
        self.attempts = []       # (monotonic time, status, text) of every sendMessage
        self.send_script = []    # answers for the next sendMessages: (status, body dict)
        self.send_status = 200   # answer when the script is empty
        self.hold = threading.Event()  # set: sendMessage waits until released
        self.held = threading.Event()  # a sendMessage is being held
        self.updates = []        # update dicts; served by update_id >= offset
        self.next_update = 100
        self.updates_status = 200
        self.polls = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body):
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the notifier was killed or stopped mid-request

            def do_GET(self):
                fake.dispatch(self, b"")

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                fake.dispatch(self, self.rfile.read(n))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.hold.clear()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # What the tests tell it.
    def command(self, chat_id, text):
        with self.lock:
            self.updates.append({"update_id": self.next_update,
                                 "message": {"message_id": self.next_update,
                                             "chat": {"id": int(chat_id), "type": "private"},
                                             "date": int(time.time()), "text": text}})
            self.next_update += 1
            self.lock.notify_all()

    def texts(self, chat_id=None):
        with self.lock:
            return [m["text"] for m in self.messages
                    if chat_id is None or m["chat_id"] == str(chat_id)]

    # The server side.
    def dispatch(self, h, body):
        m = re.match(r"^/bot([^/]+)/(\w+)", h.path)
        if not m:
            return h.reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        token, method = m.group(1), m.group(2)
        with self.lock:
            self.requests.append((method, h.path.replace(token, "<token>")))
        if token != self.token:
            return h.reply(401, {"ok": False, "error_code": 401,
                                 "description": "Unauthorized"})
        if method == "sendMessage":
            return self.send_message(h, json.loads(body or b"{}"))
        if method == "getUpdates":
            return self.get_updates(h)
        return h.reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    def send_message(self, h, msg):
        with self.lock:
            entry = {"chat_id": str(msg.get("chat_id")), "text": msg.get("text", ""),
                     "t": time.monotonic(), "answered": False}
            script = self.send_script.pop(0) if self.send_script else None
            status = script[0] if script else self.send_status
            self.attempts.append((time.monotonic(), status, entry["text"]))
            if status == 200:
                self.messages.append(entry)
        if self.hold.is_set() and status == 200:
            self.held.set()
            while self.hold.is_set():
                time.sleep(0.02)
            self.held.clear()
        if status == 200:
            entry["answered"] = True
            return h.reply(200, {"ok": True, "result": {"message_id": 1, "text": entry["text"]}})
        body = script[1] if script and len(script) > 1 else {
            "ok": False, "error_code": status, "description": f"status {status}"}
        return h.reply(status, body)

    def get_updates(self, h):
        q = dict(p.split("=", 1) for p in h.path.split("?", 1)[1].split("&")) \
            if "?" in h.path else {}
        offset = int(q.get("offset", 0))
        timeout = min(int(q.get("timeout", 0)), 1)
        with self.lock:
            self.polls += 1
            if self.updates_status != 200:
                status = self.updates_status
                return h.reply(status, {"ok": False, "error_code": status,
                                        "description": "Conflict: terminated by other "
                                        "getUpdates request"})
            deadline = time.monotonic() + timeout
            while True:
                ready = [u for u in self.updates if u["update_id"] >= offset]
                left = deadline - time.monotonic()
                if ready or left <= 0:
                    break
                self.lock.wait(left)
        return h.reply(200, {"ok": True, "result": ready})
