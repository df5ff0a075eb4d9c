"""Writing events: `outbox_record` inside the transaction of the change it describes.

Recording only. What happens once that transaction commits (the relay's fast path) is installed
by EventsConfig.ready() with `on_commit`, so this module, which every core service imports, knows
nothing of publishing (docs/architecture.md, the layers of project.events).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction

from project import tracing
from project.kernel.context import get_request_id
from project.kernel.events import Envelope

from .models import OutboxEvent

_seq = itertools.count()

# Called with (event id, off_request) after the commit of every recorded event.
_after_commit: Callable[[uuid.UUID, bool], None] | None = None


class OutsideTransaction(RuntimeError):
    pass


def on_commit(callback: Callable[[uuid.UUID, bool], None]) -> None:
    """Install what runs after the commit of each recorded event (EventsConfig.ready() installs the
    relay's fast path). Without it, recorded events wait for the sweeper."""
    global _after_commit
    _after_commit = callback


def outbox_record(*, type: str, producer: str, payload: dict[str, Any], off_request: bool = False) -> Envelope:
    """Record an event in the current transaction. It is published only if that transaction commits.

    `off_request`: in embedded mode (no broker, consumers run in this process) the event's
    consumers run on a background thread after the commit instead of inside the request, so that
    the request answers before their work (a mail) is done. Used where the request's duration must
    not tell what the consumers did (a password reset for a known address against an unknown one).
    With a broker the fast path only publishes, so nothing changes.

    Must be called inside `transaction.atomic()`: an event written outside one could be published
    for a change that never happened.
    """
    if not connection.in_atomic_block:
        raise OutsideTransaction("outbox_record() must run inside transaction.atomic()")
    envelope = Envelope(
        type=type,
        producer=producer,
        payload=payload,
        request_id=get_request_id() or None,
        traceparent=tracing.current_traceparent(),
    )
    OutboxEvent.objects.create(
        id=envelope.id,
        type=envelope.type,
        producer=envelope.producer,
        version=envelope.version,
        occurred_at=envelope.occurred_at,
        request_id=envelope.request_id or "",
        traceparent=envelope.traceparent or "",
        payload=envelope.payload,
        seq=next(_seq),
    )
    after_commit = _after_commit
    if after_commit is not None:
        transaction.on_commit(lambda: after_commit(envelope.id, off_request))
    return envelope


def envelope_of(row: OutboxEvent) -> Envelope:
    return Envelope(
        id=row.id,
        type=row.type,
        producer=row.producer,
        version=row.version,
        occurred_at=row.occurred_at,
        request_id=row.request_id or None,
        payload=row.payload,
        traceparent=row.traceparent or None,
    )
