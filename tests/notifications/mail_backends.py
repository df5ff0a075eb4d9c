"""Mail backends for the delivery tests: a mail server that is down for the next N sends, one
that looks at the database mid-conversation, one that holds its first conversation open."""

from __future__ import annotations

import smtplib
import threading

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


def write_delivery_row_from_another_connection(notification_id: str, channel: str, *, wait_ms: int = 500):
    """From a thread of its own (so a connection of its own), write the delivery's row, waiting at
    most `wait_ms` for its lock. Returns the number of rows written, or the error that a lock held
    elsewhere caused (PostgreSQL's lock_timeout; SQLite's busy timeout)."""
    from django.db import connection, transaction
    from django.db.models import F

    from notifications.models import Delivery

    outcome: list = []

    def write():
        try:
            if connection.vendor == "sqlite":  # before BEGIN, which is where SQLite waits
                with connection.cursor() as cursor:
                    cursor.execute(f"PRAGMA busy_timeout = {wait_ms}")
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute(f"SET LOCAL lock_timeout = '{wait_ms}ms'")
                rows = Delivery.objects.filter(notification_id=notification_id, channel=channel)
                outcome.append(rows.update(last_error=F("last_error")))  # a write that changes nothing
        except Exception as exc:
            outcome.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=write)
    thread.start()
    thread.join(30)
    return outcome[0]


class RowWritingBackend(BaseEmailBackend):
    """A mail server during whose conversation the test looks at the database: whether the
    sending thread has a transaction open, and whether another connection can write the
    delivery's row meanwhile. Then it delivers to `mail.outbox`."""

    seen: list[tuple[bool, object]] = []

    def send_messages(self, messages):
        from django.db import connection

        for message in messages:
            written = write_delivery_row_from_another_connection(
                message.extra_headers["X-Gatehouse-Notification"], "email"
            )
            type(self).seen.append((connection.in_atomic_block, written))
        return LocmemBackend().send_messages(messages)


class HeldBackend(BaseEmailBackend):
    """A mail server that holds its first conversation open until the test releases it, then
    drops it (a server that hung, or a worker that stalled); later ones go to `mail.outbox`."""

    holding = threading.Event()
    released = threading.Event()
    calls = 0

    @classmethod
    def reset(cls):
        cls.holding, cls.released, cls.calls = threading.Event(), threading.Event(), 0

    def send_messages(self, messages):
        cls = type(self)
        cls.calls += 1
        if cls.calls == 1:
            cls.holding.set()
            cls.released.wait(30)
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return LocmemBackend().send_messages(messages)
