"""The one way an event reaches RabbitMQ: a pooled connection, the topology declared, publisher
confirms. The relay publishes outbox rows through it, the worker parks retries through it, and a
replayed dead letter goes back to its consumer through it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from kombu import Connection
from kombu.common import maybe_declare
from kombu.pools import connections

from project.kernel.events import Envelope

from .topology import entities, explained_mismatch

# Seconds to wait for the broker: to connect, and to confirm a message.
CONNECT_TIMEOUT = 2.0
CONFIRM_TIMEOUT = 10.0


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
        headers={
            "request_id": envelope.request_id or "",
            **({"traceparent": envelope.traceparent} if envelope.traceparent else {}),
            **(headers or {}),
        },
        confirm_timeout=CONFIRM_TIMEOUT,
    )


def declare_topology(channel) -> None:
    """Declare the exchange and every consumer's queues (retry queues included) on `channel`
    before publishing to it: a message routed to no queue is dropped. kombu remembers per
    connection what it declared, so on a live connection this sends nothing; a re-established
    connection starts with an empty memory and declares everything again."""
    with explained_mismatch():
        for entity in entities():
            maybe_declare(entity, channel)


def declared_publisher(conn, *, retries: int) -> Callable[..., None]:
    """`publish(envelope, exchange=…, routing_key=…, headers=…)` for one batch on `conn`, its first
    call through kombu's retry wrapper.

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


def publish_to_queue(queue: str, envelope: Envelope, *, headers: dict | None = None, retries: int = 2) -> None:
    """Publish one event straight to `queue` through the default exchange: a consumer's own queue
    (a replayed dead letter reaches that consumer only, not every subscriber of its type) or one of
    its retry queues (the worker parking a failed event)."""
    with connections[broker_connection()].acquire(block=True, timeout=10) as conn:
        declared_publisher(conn, retries=retries)(envelope, exchange="", routing_key=queue, headers=headers)
