"""A webhook receiver on loopback for tests and benchmarks: records each message,
answers with the queued status codes (then 204)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.perf_counter() on arrival

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    messages: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    refused: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def rows(self) -> list[dict]:
        return [row for m in self.messages for row in m.payload["data"]["results"]]

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.arrived.wait(left)
        return True


def start_receiver(port: int = 0) -> tuple[Receiver, ThreadingHTTPServer]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status = receiver.answers.pop(0) if receiver.answers else 204
            message = Received(dict(self.headers.items()), body, time.perf_counter())
            with receiver.arrived:
                if 200 <= status < 300:
                    receiver.messages.append(message)
                else:
                    receiver.refused.append(message)
                receiver.arrived.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/consent"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server
