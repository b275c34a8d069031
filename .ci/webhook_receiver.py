"""A webhook receiver for the smoke test, run as its own process: verifies each
message's Standard Webhooks signature and appends one JSON line per message to the
file given (rows and arrival time, or why it was refused)."""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

PORT, SECRET, OUT = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload = Webhook(SECRET).verify(body, dict(self.headers.items()))
        except Exception as exc:
            line, status = {"refused": type(exc).__name__, "at": time.time()}, 400
        else:
            line = {"rows": payload["data"]["results"], "at": time.time()}
            status = 204
        with open(OUT, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Hook).serve_forever()
