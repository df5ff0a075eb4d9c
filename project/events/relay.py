"""Publishing the outbox: after commit (fast path) and by the sweeper, safe with several relays.

Rows are locked with `SELECT … FOR UPDATE SKIP LOCKED`, published with publisher confirms, and
stamped `published_at` in the same transaction. A crash between the broker's confirm and the
commit publishes the event again later: delivery is at-least-once and consumers deduplicate.

Embedded mode (no `CELERY_BROKER_URL`): the same rows are dispatched to the in-process consumers.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from kombu import Connection
from kombu.common import maybe_declare
from kombu.pools import connections

from project.kernel.events import Envelope

from .consumers import consumers_of, process
from .deadletters import record_dead_letter
from .models import OutboxEvent
from .outbox import envelope_of
from .topology import entities, events_exchange, queue_name, retry_delays

log = logging.getLogger(__name__)

BATCH_SIZE = 100
# Seconds to wait for the broker: to connect, and to confirm a message.
CONNECT_TIMEOUT = 2.0
CONFIRM_TIMEOUT = 10.0


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


def relay_all(*, older_than: float | None = None, batch: int = BATCH_SIZE) -> int:
    """Publish everything pending, batch after batch. Returns how many were published."""
    total = 0
    while True:
        count = relay_events(older_than=older_than, batch=batch)
        total += count
        if count < batch:
            return total


def broker_connection() -> Connection:
    """A connection for publishing (used through kombu's connection pool)."""
    return Connection(
        settings.CELERY_BROKER_URL,
        connect_timeout=CONNECT_TIMEOUT,
        # Publisher confirms; and fail fast when the broker is down instead of retrying forever:
        # the outbox keeps the event and the sweeper tries again.
        transport_options={"confirm_publish": True, "max_retries": 1, "interval_start": 0, "interval_max": 1},
        heartbeat=0,
    )


def _retry_policy(retries: int) -> dict:
    return {"max_retries": retries, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


def publish_envelope(producer, envelope: Envelope, *, exchange, routing_key: str, headers: dict | None = None) -> None:
    """Publish one event and wait for the broker's confirm (confirm_publish): the call returns only
    once the broker has taken the message, or raises. No declaring, no reconnecting: the caller
    declares the topology and decides what a lost connection means (`declared_publisher`)."""
    producer.publish(
        json.dumps(envelope.to_dict()),
        exchange=exchange,
        routing_key=routing_key,
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=2,
        message_id=str(envelope.id),
        type=envelope.type,
        headers={"request_id": envelope.request_id or "", **(headers or {})},
        confirm_timeout=CONFIRM_TIMEOUT,
    )


def declare_topology(channel) -> None:
    """Declare the exchange and every consumer's queues on `channel` before publishing to it: a
    message routed to no queue is dropped. kombu remembers per connection what it declared, so on
    a live connection this sends nothing; a re-established connection starts with an empty
    memory and declares everything again."""
    for entity in entities():
        maybe_declare(entity, channel)


def declared_publisher(conn, *, retries: int) -> Callable[..., None]:
    """`publish(envelope, exchange=…, routing_key=…)` for one batch on `conn`, its first call
    through kombu's retry wrapper.

    That first call declares the topology and publishes: a pooled connection that broke (after a
    broker restart) fails it, and kombu re-establishes the connection up to `retries` times,
    declares again and publishes again. Later calls publish only. A connection lost in the middle
    of a batch raises, which ends the batch: what the broker confirmed is stamped, the rest stays
    pending, and the pool replaces the connection (kombu's PooledConnection does on an exception),
    so the next attempt reconnects and declares the topology again. Declaring and wrapping every
    publish instead cost the relay about half of its time per event (docs/benchmarks.md,
    scenario 6)."""
    producer = conn.Producer(auto_declare=False)
    first = True

    def declare_and_publish(envelope: Envelope, **kwargs) -> None:
        declare_topology(producer.channel)
        publish_envelope(producer, envelope, **kwargs)

    def publish(envelope: Envelope, **kwargs) -> None:
        nonlocal first
        if first:
            conn.ensure(producer, declare_and_publish, **_retry_policy(retries))(envelope, **kwargs)
            first = False
        else:
            publish_envelope(producer, envelope, **kwargs)

    return publish


def _publish(rows: list[OutboxEvent], *, retries: int) -> tuple[list[OutboxEvent], Exception | None]:
    """Publish `rows` in order; returns those the broker confirmed, and the error that stopped it."""
    exchange = events_exchange()
    published: list[OutboxEvent] = []
    try:
        with connections[broker_connection()].acquire(block=True, timeout=10) as conn:
            publish = declared_publisher(conn, retries=retries)
            for row in rows:
                publish(envelope_of(row), exchange=exchange, routing_key=row.type)
                published.append(row)
    except Exception as exc:
        log.warning("publishing outbox event failed after %d of %d", len(published), len(rows), exc_info=True)
        return published, exc
    return published, None


def publish_to_consumer(consumer: str, envelope: Envelope) -> None:
    """Deliver `envelope` to one consumer's queue only (replaying a dead letter), not to every
    subscriber of its type."""
    with connections[broker_connection()].acquire(block=True, timeout=10) as conn:
        declared_publisher(conn, retries=2)(envelope, exchange="", routing_key=queue_name(consumer))


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


def deliver_in_process(consumer: str, envelope: Envelope) -> tuple[int, str | None]:
    """Embedded mode: run `consumer`'s handlers for `envelope` now, retrying right away (no delay:
    this runs in the request that committed the event) and dead-lettering after the last attempt.
    A handler's failure is never raised to the producer. Returns (attempts, last error or None)."""
    max_attempts = len(retry_delays()) + 1
    error = ""
    for attempt in range(1, max_attempts + 1):
        try:
            process(consumer, envelope)  # its own savepoint: a failure undoes only its own work
            return attempt, None
        except Exception as exc:
            log.warning("consumer %s failed on event %s (attempt %d)", consumer, envelope.id, attempt, exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
    record_dead_letter(consumer, envelope.to_dict(), error, attempts=max_attempts)
    return max_attempts, error
