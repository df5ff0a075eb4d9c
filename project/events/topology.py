"""The RabbitMQ topology of events: one durable topic exchange, per consumer a durable queue,
delay queues for retries with backoff."""

from __future__ import annotations

from django.conf import settings
from kombu import Exchange, Queue

from .consumers import consumers


def events_exchange() -> Exchange:
    return Exchange(settings.GATEHOUSE_EVENTS_EXCHANGE, type="topic", durable=True)


def queue_name(consumer: str) -> str:
    return f"{settings.GATEHOUSE_EVENTS_EXCHANGE}.{consumer}"


def retry_queue_name(consumer: str, attempt: int) -> str:
    return f"{queue_name(consumer)}.retry.{attempt}"


def consumer_queue(consumer: str, event_types: list[str]) -> Queue:
    exchange = events_exchange()
    from kombu import binding

    return Queue(
        queue_name(consumer),
        bindings=[binding(exchange, routing_key=event_type) for event_type in event_types],
        durable=True,
    )


def retry_queues(consumer: str) -> list[Queue]:
    # A message parks in retry queue n for its TTL, then RabbitMQ dead-letters it back to the
    # consumer's own queue through the default exchange. One queue per delay keeps TTLs uniform,
    # so no message waits behind a longer one.
    return [
        Queue(
            retry_queue_name(consumer, attempt),
            durable=True,
            queue_arguments={
                "x-message-ttl": int(delay * 1000),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": queue_name(consumer),
            },
        )
        for attempt, delay in enumerate(settings.GATEHOUSE_EVENT_RETRY_DELAYS, start=1)
    ]


def all_queues() -> list[Queue]:
    queues = []
    for consumer, event_types in consumers().items():
        queues.append(consumer_queue(consumer, event_types))
        queues.extend(retry_queues(consumer))
    return queues


def declare(channel) -> None:
    """Declare the exchange and every consumer's queues, so no event is published before its
    queues exist (an unroutable message would be dropped)."""
    events_exchange()(channel).declare()
    for queue in all_queues():
        queue(channel).declare()
