"""A real SMTP server on loopback (aiosmtpd) that keeps every message it is given: the mail
server of the tests that deliver through SMTP."""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import threading
from collections.abc import Iterator

from aiosmtpd.controller import Controller

from tests.support.processes import free_port


class Sink:
    """The server's handler; `port` is where it listens."""

    port: int

    def __init__(self):
        self.lock = threading.Lock()
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def messages(self) -> list[tuple[list[str], email.message.EmailMessage]]:
        with self.lock:
            return list(self.received)

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [message for rcpt, message in self.messages() if address in rcpt]


@contextlib.contextmanager
def smtp_sink() -> Iterator[Sink]:
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    sink.port = controller.port
    try:
        yield sink
    finally:
        controller.stop()
