"""A webhook receiver on 127.0.0.1 that checks the HMAC signature and fails on demand."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, secret: str = "s3cret", *, status: int = 200, delay: float = 0.0):  # noqa: S107
        self.secret, self.status, self.delay = secret, status, delay
        self.received: list[dict] = []
        self.attempts = 0
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.attempts += 1
                want = (
                    "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                )
                if not hmac.compare_digest(self.headers.get("X-IoTCenter-Signature", ""), want):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                if receiver.delay:
                    time.sleep(receiver.delay)
                if receiver.status == 200:
                    receiver.received.append(json.loads(body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
