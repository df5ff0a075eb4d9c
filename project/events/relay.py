"""Publishing the outbox: after commit (the fast path) and by the sweepers, safe with several relays.

Rows are locked with `SELECT … FOR UPDATE SKIP LOCKED`, published with publisher confirms, and
stamped `published_at` in the same transaction. A crash between the broker's confirm and the
commit publishes the event again later: delivery is at-least-once and consumers deduplicate.

Embedded mode (no `CELERY_BROKER_URL`): the same rows are dispatched to the in-process consumers.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone
from kombu.pools import connections

from project import tracing

from .consumers import consumers_of, deliver_in_process
from .models import OutboxEvent
from .outbox import envelope_of
from .publishing import broker_connection, declared_publisher
from .topology import events_exchange

log = logging.getLogger(__name__)

BATCH_SIZE = 100


class PublishFailed(RuntimeError):
    """The broker did not take an event; it stays pending (with `attempts` and `last_error`)."""


def relay_events(
    *,
    ids: list[uuid.UUID] | None = None,
    older_than: float | None = None,
    batch: int = BATCH_SIZE,
    retries: int = 2,
) -> int:
    """Publish pending outbox rows (only `ids` if given; only rows older than `older_than`
    seconds if given). Returns how many were published; rows another relay holds are skipped.

    `retries` is how often a broken broker connection is re-established at the start of the
    batch before giving up; a connection lost in the middle ends the batch. Raises
    PublishFailed after recording what was published and the error on the row that failed.
    """
    error = None
    with transaction.atomic():
        pending = OutboxEvent.objects.select_for_update(skip_locked=True).filter(published_at__isnull=True)
        if ids is not None:
            pending = pending.filter(id__in=ids)
        if older_than is not None:
            pending = pending.filter(occurred_at__lte=timezone.now() - timedelta(seconds=older_than))
        rows = list(pending.order_by("occurred_at", "seq")[:batch])
        if not rows:
            return 0
        if settings.CELERY_BROKER_URL:
            _commit_without_flush_wait()
            done, error = _publish(rows, retries=retries)
        else:
            done = _dispatch_in_process(rows)
        if done:
            OutboxEvent.objects.filter(id__in=[row.id for row in done]).update(published_at=timezone.now())
        if error is not None:
            OutboxEvent.objects.filter(id=rows[len(done)].id).update(
                attempts=F("attempts") + 1, last_error=f"{type(error).__name__}: {error}"[:2000]
            )
    if error is not None:
        raise PublishFailed(f"published {len(done)} of {len(rows)} event(s): {error}") from error
    return len(done)


def _commit_without_flush_wait() -> None:
    # What this transaction writes is a stamp: published_at, or attempts and last_error. If
    # PostgreSQL loses it in a crash (the last fraction of a second of asynchronous commits), the
    # events are published again, which at-least-once delivery and the consumers' inboxes already
    # absorb. So its commit need not wait for the WAL flush, which took a third to a half of the
    # relay's database time per batch (benchmarks/ANALYSIS.md, scenario 6). The events themselves
    # were committed durably by their producers; this setting ends with this transaction.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def outbox_pending() -> int:
    return OutboxEvent.objects.filter(published_at__isnull=True).count()


def outbox_lag_seconds() -> float:
    oldest = (
        OutboxEvent.objects.filter(published_at__isnull=True).order_by("occurred_at").values_list("occurred_at").first()
    )
    return 0.0 if oldest is None else max((timezone.now() - oldest[0]).total_seconds(), 0.0)


def relay_all(*, older_than: float | None = None, batch: int = BATCH_SIZE) -> int:
    """Publish everything pending, batch after batch. Returns how many were published."""
    total = 0
    while True:
        count = relay_events(older_than=older_than, batch=batch)
        total += count
        if count < batch:
            return total


def _publish(rows: list[OutboxEvent], *, retries: int) -> tuple[list[OutboxEvent], Exception | None]:
    """Publish `rows` in order; returns those the broker confirmed, and the error that stopped it."""
    exchange = events_exchange()
    published: list[OutboxEvent] = []
    try:
        with connections[broker_connection()].acquire(block=True, timeout=10) as conn:
            publish = declared_publisher(conn, retries=retries)
            for row in rows:
                # A child of the request that wrote the row; the consumer's span is this one's child.
                attributes = {"messaging.system": "rabbitmq", "messaging.message.id": str(row.id)}
                with tracing.span_from(row.traceparent, f"{row.type} publish", attributes, kind="producer") as hop:
                    envelope = envelope_of(row)
                    if hop:
                        envelope = dataclasses.replace(envelope, traceparent=hop)
                    publish(envelope, exchange=exchange, routing_key=row.type)
                published.append(row)
    except Exception as exc:
        log.warning("publishing outbox event failed after %d of %d", len(published), len(rows), exc_info=True)
        return published, exc
    return published, None


def _dispatch_in_process(rows: list[OutboxEvent]) -> list[OutboxEvent]:
    for row in rows:
        envelope = envelope_of(row)
        errors = {}
        for consumer in consumers_of(row.type):
            attempts, error = deliver_in_process(consumer, envelope)
            if error:
                errors[consumer] = (attempts, error)
        if errors:
            row.attempts = max(attempts for attempts, _ in errors.values())
            row.last_error = "; ".join(f"{consumer}: {error}" for consumer, (_, error) in errors.items())[:2000]
            row.save(update_fields=["attempts", "last_error"])
    return rows


# --- The fast path: right after the producer's commit ---------------------------------------------

# After the fast path fails (broker down), this process skips it for a while instead of making
# every request wait for a failing connect; the sweeper publishes what is left behind.
FAST_PATH_BACKOFF_SECONDS = 5.0
_fast_path_paused_until = 0.0


def publish_after_commit(event_id: uuid.UUID, off_request: bool) -> None:
    """The fast path, run once the transaction that recorded the event has committed (EventsConfig
    installs it with `outbox.on_commit`). An `off_request` event's in-process consumers run on a
    background thread (outbox_record says why); everything else is relayed at once."""
    if off_request and not settings.CELERY_BROKER_URL and settings.GATEHOUSE_EVENTS_OFF_REQUEST:
        _off_request().submit(_fast_path_off_request, event_id)
    else:
        _fast_path(event_id)


def _fast_path(event_id: uuid.UUID) -> None:
    # Anything it fails to publish stays pending and the sweeper takes it later, so an exception
    # here must never reach the caller whose transaction already committed.
    global _fast_path_paused_until
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


_executor = None
_executor_lock = threading.Lock()


def _off_request():
    """One background thread per process, started on first use."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gatehouse-events")
        return _executor


def _fast_path_off_request(event_id: uuid.UUID) -> None:
    try:
        _fast_path(event_id)
    finally:
        close_old_connections()


def wait_off_request(timeout: float = 10.0) -> None:
    """Wait until every event handed to the background thread so far has been handled (tests)."""
    _off_request().submit(lambda: None).result(timeout=timeout)
