"""Mail backends for the retry tests: a mail server that is down for the next N sends."""

from __future__ import annotations

import smtplib

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


class FlakyBackend(BaseEmailBackend):
    """Fails the next `failures` sends (all of them while None) like an unreachable SMTP
    server, then delivers to `mail.outbox` as the locmem backend does."""

    failures: int | None = None
    calls = 0

    def send_messages(self, messages):
        cls = type(self)
        cls.calls += 1
        if cls.failures is None or cls.failures > 0:
            if cls.failures is not None:
                cls.failures -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return LocmemBackend().send_messages(messages)
