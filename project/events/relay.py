"""Publishing the outbox: after commit (fast path) and by the sweeper, safe with several relays.

Rows are locked with `SELECT … FOR UPDATE SKIP LOCKED`, published with publisher confirms, and
stamped `published_at` in the same transaction. A crash between the broker's confirm and the
commit publishes the event again later: delivery is at-least-once and consumers deduplicate.

Embedded mode (no `CELERY_BROKER_URL`): the same rows are dispatched to the in-process consumers.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu import Connection
from kombu.pools import connections

from .consumers import consumers_of, process
from .models import DeadLetter, OutboxEvent
from .outbox import envelope_of

log = logging.getLogger(__name__)

BATCH_SIZE = 100

_declared_lock = threading.Lock()
_declared_for: set[str] = set()


def relay_events(
    *, ids: list[uuid.UUID] | None = None, older_than: float | None = None, batch: int = BATCH_SIZE
) -> int:
    """Publish pending outbox rows (only `ids` if given; only rows older than `older_than`
    seconds if given). Returns how many were published. Rows another relay holds are skipped."""
    with transaction.atomic():
        pending = OutboxEvent.objects.select_for_update(skip_locked=True).filter(published_at__isnull=True)
        if ids is not None:
            pending = pending.filter(id__in=ids)
        if older_than is not None:
            pending = pending.filter(occurred_at__lte=timezone.now() - timedelta(seconds=older_than))
        rows = list(pending.order_by("occurred_at", "seq")[:batch])
        if not rows:
            return 0
        done = _publish(rows) if settings.CELERY_BROKER_URL else _dispatch_in_process(rows)
        OutboxEvent.objects.filter(id__in=[row.id for row in done]).update(published_at=timezone.now())
        return len(done)


def relay_all(*, older_than: float | None = None) -> int:
    total = 0
    while True:
        count = relay_events(older_than=older_than)
        total += count
        if count < BATCH_SIZE:
            return total


def broker_connection() -> Connection:
    return Connection(
        settings.CELERY_BROKER_URL,
        transport_options={"confirm_publish": True},
        connect_timeout=5,
        heartbeat=0,
    )


def _publish(rows: list[OutboxEvent]) -> list[OutboxEvent]:
    from .topology import declare, events_exchange

    exchange = events_exchange()
    with connections[broker_connection()].acquire(block=True, timeout=10) as conn:
        conn.ensure_connection(max_retries=1)
        channel = conn.default_channel
        key = conn.as_uri()
        with _declared_lock:
            if key not in _declared_for:
                declare(channel)
                _declared_for.add(key)
        producer = conn.Producer(channel=channel)
        for row in rows:
            # With confirm_publish the call returns only once the broker has taken the message.
            producer.publish(
                json.dumps(envelope_of(row).to_dict()),
                exchange=exchange,
                routing_key=row.type,
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                message_id=str(row.id),
                headers={"request_id": row.request_id or ""},
            )
    return rows


def forget_declared_topology() -> None:
    """After the broker restarted without its definitions, declare them again on next publish."""
    with _declared_lock:
        _declared_for.clear()


def _dispatch_in_process(rows: list[OutboxEvent]) -> list[OutboxEvent]:
    max_attempts = len(settings.GATEHOUSE_EVENT_RETRY_DELAYS) + 1
    done = []
    for row in rows:
        envelope = envelope_of(row)
        failures = {}
        for consumer in consumers_of(row.type):
            try:
                # A savepoint: one consumer's failure must not undo the other's work or the lock.
                with transaction.atomic():
                    process(consumer, envelope)
            except Exception as exc:  # a handler's bug is recorded, never raised to the producer
                log.exception("consumer %s failed on event %s", consumer, row.id)
                failures[consumer] = f"{type(exc).__name__}: {exc}"
        if not failures:
            done.append(row)
            continue
        row.attempts += 1
        row.last_error = "; ".join(f"{c}: {e}" for c, e in failures.items())
        if row.attempts >= max_attempts:
            DeadLetter.objects.bulk_create(
                DeadLetter(
                    consumer=consumer,
                    event_id=row.id,
                    event_type=row.type,
                    envelope=envelope.to_dict(),
                    error=error,
                    attempts=row.attempts,
                )
                for consumer, error in failures.items()
            )
            done.append(row)
        row.save(update_fields=["attempts", "last_error"])
    return done
