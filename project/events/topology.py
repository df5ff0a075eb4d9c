"""The RabbitMQ topology of events: one durable topic exchange, per consumer a durable queue bound
to the event types it subscribes to, and delay queues for retries with backoff.

    exchange  gatehouse.events (topic, durable)            routing key = event type
    queue     gatehouse.events.<consumer>                   one per consumer, durable
    queue     gatehouse.events.<consumer>.retry.<ms>ms      per retry delay: TTL, then back to the queue
"""

from __future__ import annotations

from django.conf import settings
from kombu import Exchange, Queue, binding

from .consumers import consumers, retry_delays


def events_exchange() -> Exchange:
    return Exchange(settings.GATEHOUSE_EVENTS_EXCHANGE, type="topic", durable=True)


def queue_name(consumer: str) -> str:
    return f"{settings.GATEHOUSE_EVENTS_EXCHANGE}.{consumer}"


def consumer_queue(consumer: str, event_types: list[str]) -> Queue:
    exchange = events_exchange()
    return Queue(
        queue_name(consumer),
        bindings=[binding(exchange, routing_key=event_type) for event_type in event_types],
        durable=True,
    )


def retry_queue(consumer: str, attempt: int) -> Queue:
    """The delay queue a message waits in before its `attempt`-th retry (1-based).

    A message parks there for the queue's TTL, then RabbitMQ dead-letters it back to the consumer's
    own queue through the default exchange. One queue per delay keeps TTLs uniform, so no message
    waits behind a longer one; the delay is in the name, so changing the delays declares new queues
    instead of clashing with the arguments of existing ones.
    """
    delay_ms = int(retry_delays()[attempt - 1] * 1000)
    return Queue(
        f"{queue_name(consumer)}.retry.{delay_ms}ms",
        durable=True,
        queue_arguments={
            "x-message-ttl": delay_ms,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": queue_name(consumer),
        },
    )


def retry_queues(consumer: str) -> list[Queue]:
    unique = {}
    for attempt in range(1, len(retry_delays()) + 1):
        queue = retry_queue(consumer, attempt)
        unique.setdefault(queue.name, queue)
    return list(unique.values())


def all_queues() -> list[Queue]:
    queues = []
    for consumer, event_types in consumers().items():
        queues.append(consumer_queue(consumer, event_types))
        queues.extend(retry_queues(consumer))
    return queues


def entities() -> list:
    """Everything to declare before publishing: a message routed to no queue is dropped."""
    return [events_exchange(), *all_queues()]


def declare(channel) -> None:
    for entity in entities():
        entity(channel).declare()
