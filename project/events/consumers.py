"""Consuming events: a registry of handlers per consumer, and the inbox that makes them idempotent.

A consumer is a named subscriber (one durable queue each, e.g. `notifications`); it subscribes
handlers to event types with `@subscribe("notifications", "users.user_registered")` in the owning
app's `handlers.py`, which its AppConfig imports in `ready()`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

from django.db import IntegrityError, transaction

from project.kernel.context import request_id_scope
from project.kernel.events import Envelope

from .models import InboxRecord

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
    with request_id_scope(envelope.request_id), transaction.atomic():
        try:
            with transaction.atomic():
                InboxRecord.objects.create(consumer=consumer, event_id=envelope.id, event_type=envelope.type)
        except IntegrityError:
            log.info("duplicate event %s for %s ignored", envelope.id, consumer)
            return False
        for handler in handlers:
            handler(envelope)
    return True
