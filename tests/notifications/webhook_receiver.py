"""A real webhook receiver for the tests: an HTTP server on a free local port, in a thread, that
checks each request's signature the way docs/notifications.md tells receivers to, answers with
the statuses a test scripts, and remembers everything it was sent."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = "whsec-test-0123456789abcdef"
TOLERANCE_SECONDS = 300


def verify(secret: str, headers, body: bytes, *, now: float | None = None) -> bool:
    """The receiver's check, as in docs/notifications.md: a fresh timestamp and a signature over
    `<timestamp>.<body>` that matches in constant time."""
    timestamp = headers.get("X-Gatehouse-Timestamp", "")
    signature = headers.get("X-Gatehouse-Signature", "")
    if not timestamp.isdigit() or abs((time.time() if now is None else now) - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, f"sha256={expected}")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def delivery_id(self) -> str:
        return self.headers["X-Gatehouse-Delivery"]


@dataclass
class Receiver:
    """Answers the scripted statuses in order, then `then` (200). A status of None holds the
    request open until `release()`, then drops it without an answer (a receiver that hangs)."""

    secret: str = SECRET
    then: int = 200
    script: deque = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    delays: deque = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    holding: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def answer(self, *statuses: int | None) -> None:
        with self.lock:
            self.script.extend(statuses)

    def slow(self, *seconds: float) -> None:
        """Wait this long before answering the next requests (one value each)."""
        with self.lock:
            self.delays.extend(seconds)

    def requests(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def accepted(self) -> list[Received]:
        """The requests answered 2xx, one per delivery id (a receiver dedupes on it)."""
        unique: dict[str, Received] = {}
        for request in self.requests():
            if 200 <= request.status < 300 and request.verified:
                unique.setdefault(request.delivery_id, request)
        return list(unique.values())

    def release(self) -> None:
        self.released.set()

    def _next(self) -> tuple[int | None, float]:
        with self.lock:
            status = self.script.popleft() if self.script else self.then
            return status, self.delays.popleft() if self.delays else 0.0

    def handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                verified = verify(receiver.secret, self.headers, body)
                status, delay = receiver._next() if verified else (401, 0.0)
                record = Received(self.path, dict(self.headers), body, verified, status or 0)
                with receiver.lock:
                    receiver.received.append(record)
                if status is None:
                    receiver.holding.set()
                    receiver.released.wait(120)
                    self.close_connection = True
                    return
                if delay:
                    time.sleep(delay)
                answer = b"receiver says no" if status >= 300 else b"ok"
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/elsewhere")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:  # the sender gave up (its timeout) or died
                    pass

            def do_GET(self):  # a followed redirect would come back as a GET
                with receiver.lock:
                    receiver.received.append(Received(self.path, dict(self.headers), b"", False, 0))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format, *args):
                pass

        return Handler


class ReceiverServer:
    def __init__(self, receiver: Receiver, path: str = "/hooks/gatehouse"):
        self.receiver = receiver
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
        self.server.daemon_threads = True
        receiver.url = f"http://127.0.0.1:{self.server.server_port}{path}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self.receiver

    def __exit__(self, *exc) -> None:
        self.receiver.release()
        self.server.shutdown()
        self.server.server_close()
