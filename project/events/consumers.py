"""Consuming events: a registry of handlers per consumer, the inbox that makes them idempotent,
and what a consumer does when its handlers fail: retry, then keep the event as a dead letter.

A consumer is a named subscriber (one durable queue each, e.g. `notifications`); it subscribes
handlers to event types with `@subscribe("notifications", "users.user_registered")` in the owning
app's `handlers.py`, which its AppConfig imports in `ready()`. With a broker, `worker.py` runs them
from RabbitMQ; embedded, `deliver_in_process` runs them after the producer's commit.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, transaction

from project import tracing
from project.kernel.context import request_id_scope
from project.kernel.events import Envelope

from .models import DeadLetter, InboxRecord

log = logging.getLogger(__name__)

Handler = Callable[[Envelope], None]

_handlers: dict[str, dict[str, list[Handler]]] = defaultdict(lambda: defaultdict(list))


def subscribe(consumer: str, event_type: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if handler not in _handlers[consumer][event_type]:
            _handlers[consumer][event_type].append(handler)
        return handler

    return register


def consumers() -> dict[str, list[str]]:
    """Every consumer with the event types it subscribes to."""
    return {name: sorted(types) for name, types in _handlers.items() if types}


def consumers_of(event_type: str) -> list[str]:
    return sorted(name for name, types in _handlers.items() if types.get(event_type))


def process(consumer: str, envelope: Envelope) -> bool:
    """Run `consumer`'s handlers for `envelope` at most once. Returns False for a duplicate.

    The inbox row and the handlers' database effects commit together: either the event counts as
    processed and its effects exist, or neither (and a redelivery tries again). Two deliveries of
    one event at the same time are safe too: the second insert waits on the first's unique key.
    Handlers run inside this transaction, so they must not open a durable one themselves.
    """
    handlers = _handlers.get(consumer, {}).get(envelope.type, [])
    attributes = {"messaging.consumer.group.name": consumer, "messaging.message.id": str(envelope.id)}
    with (
        tracing.span_from(envelope.traceparent, f"{envelope.type} process", attributes, kind="consumer"),
        request_id_scope(envelope.request_id),
        transaction.atomic(),
    ):
        try:
            with transaction.atomic():
                InboxRecord.objects.create(consumer=consumer, event_id=envelope.id, event_type=envelope.type)
        except IntegrityError:
            log.info("duplicate event %s for %s ignored", envelope.id, consumer)
            return False
        for handler in handlers:
            handler(envelope)
    return True


def retry_delays() -> list[float]:
    """Seconds before each retry of a failed handler; after the last retry, a dead letter."""
    return list(settings.GATEHOUSE_EVENT_RETRY_DELAYS)


def record_dead_letter(consumer: str, envelope: dict, error: str, *, attempts: int) -> DeadLetter:
    """Keep a failed event. A redelivery of one already kept (and not yet replayed) adds no row."""
    try:
        event_id = uuid.UUID(str(envelope.get("id")))
    except ValueError:
        event_id = None
    if event_id is not None:
        existing = DeadLetter.objects.filter(consumer=consumer, event_id=event_id, replayed_at__isnull=True).first()
        if existing is not None:
            return existing
    log.error("event %s dead-lettered for consumer %s after %d attempt(s): %s", event_id, consumer, attempts, error)
    return DeadLetter.objects.create(
        consumer=consumer,
        event_id=event_id,
        event_type=str(envelope.get("type", ""))[:100],
        envelope=envelope,
        error=error,
        attempts=attempts,
    )


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
