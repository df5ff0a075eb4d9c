"""Writing events: `outbox_record` inside the transaction of the change it describes."""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from project.kernel.context import get_request_id
from project.kernel.events import Envelope

from .models import OutboxEvent

log = logging.getLogger(__name__)
_seq = itertools.count()


class OutsideTransaction(RuntimeError):
    pass


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
    envelope = Envelope(type=type, producer=producer, payload=payload, request_id=get_request_id() or None)
    OutboxEvent.objects.create(
        id=envelope.id,
        type=envelope.type,
        producer=envelope.producer,
        version=envelope.version,
        occurred_at=envelope.occurred_at,
        request_id=envelope.request_id or "",
        payload=envelope.payload,
        seq=next(_seq),
    )
    if off_request and not settings.CELERY_BROKER_URL and settings.GATEHOUSE_EVENTS_OFF_REQUEST:
        transaction.on_commit(lambda: _off_request().submit(_after_commit_off_request, envelope.id))
    else:
        transaction.on_commit(lambda: _after_commit(envelope.id))
    return envelope


_executor = None
_executor_lock = threading.Lock()


def _off_request():
    """One background thread per process, started on first use."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gatehouse-events")
        return _executor


def _after_commit_off_request(event_id: uuid.UUID) -> None:
    from django.db import close_old_connections

    try:
        _after_commit(event_id)
    finally:
        close_old_connections()


def wait_off_request(timeout: float = 10.0) -> None:
    """Wait until every event handed to the background thread so far has been handled (tests)."""
    _off_request().submit(lambda: None).result(timeout=timeout)


# After the fast path fails (broker down), this process skips it for a while instead of making
# every request wait for a failing connect; the sweeper publishes what is left behind.
FAST_PATH_BACKOFF_SECONDS = 5.0
_fast_path_paused_until = 0.0


def _after_commit(event_id: uuid.UUID) -> None:
    # The fast path. Anything it fails to publish stays pending and the sweeper takes it later,
    # so an exception here must never reach the caller whose transaction already committed.
    global _fast_path_paused_until
    from .relay import relay_events

    if time.monotonic() < _fast_path_paused_until:
        log.info("outbox fast path paused; the sweeper will publish event %s", event_id)
        return
    try:
        relay_events(ids=[event_id], retries=1)
    except Exception:
        if settings.CELERY_BROKER_URL:
            _fast_path_paused_until = time.monotonic() + FAST_PATH_BACKOFF_SECONDS
        log.warning("outbox fast path failed; the sweeper will publish event %s", event_id, exc_info=True)


def resume_fast_path() -> None:
    """Stop skipping the fast path (after a broker outage; used by tests)."""
    global _fast_path_paused_until
    _fast_path_paused_until = 0.0


def envelope_of(row: OutboxEvent) -> Envelope:
    return Envelope(
        id=row.id,
        type=row.type,
        producer=row.producer,
        version=row.version,
        occurred_at=row.occurred_at,
        request_id=row.request_id or None,
        payload=row.payload,
    )
