"""The RabbitMQ topology of events: one durable topic exchange, per consumer a durable queue bound
to the event types it subscribes to, and delay queues for retries with backoff.

    exchange  gatehouse.events (topic, durable)            routing key = event type
    queue     gatehouse.events.<consumer>                   one per consumer, durable
    queue     gatehouse.events.<consumer>.retry.<ms>ms      per retry delay: TTL, then back to the queue

Every queue is of the type GATEHOUSE_EVENT_QUEUE_TYPE: `quorum` (replicated by Raft over the
cluster's nodes, for a RabbitMQ cluster) or `classic` (one node). RabbitMQ cannot change the type
of an existing queue: declaring it with another type fails (PRECONDITION_FAILED), which `declare`
and `publishing.declare_topology` turn into QueueTypeMismatch, naming the way out (docs/events.md,
"Queue type").
"""

from __future__ import annotations

from contextlib import contextmanager

from amqp.exceptions import PreconditionFailed
from django.conf import settings
from kombu import Exchange, Queue, binding

from .consumers import consumers, retry_delays


class QueueTypeMismatch(RuntimeError):
    """A queue exists in RabbitMQ with another type than GATEHOUSE_EVENT_QUEUE_TYPE asks for."""


def _typed(arguments: dict) -> dict:
    """Queue arguments for the configured queue type. A quorum retry queue dead-letters at least
    once (RabbitMQ keeps a message until the consumer queue has confirmed it; the default, at most
    once, may drop it when that queue's leader is moving), which needs `reject-publish` overflow."""
    if settings.GATEHOUSE_EVENT_QUEUE_TYPE == "classic":
        return arguments  # as declared before the setting existed: existing queues match
    typed = {"x-queue-type": "quorum", **arguments}
    if "x-dead-letter-exchange" in arguments:
        typed.update({"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"})
    return typed


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
        queue_arguments=_typed({}),
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
        queue_arguments=_typed(
            {
                "x-message-ttl": delay_ms,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": queue_name(consumer),
            }
        ),
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
    with explained_mismatch():
        for entity in entities():
            entity(channel).declare()


@contextmanager
def explained_mismatch():
    """Turn RabbitMQ's refusal to redeclare a queue with other arguments into an error that says
    what happened and what to do; other precondition failures pass unchanged.

    The retry delays are part of the queue names, so the arguments of an event queue differ only
    when its type does (RabbitMQ names the first differing argument: `x-queue-type`, or a quorum
    queue's `x-overflow` or `x-dead-letter-strategy`)."""
    try:
        yield
    except PreconditionFailed as exc:
        if "inequivalent arg" not in str(exc):
            raise
        wanted = settings.GATEHOUSE_EVENT_QUEUE_TYPE
        raise QueueTypeMismatch(
            f"an event queue exists in RabbitMQ with another type than GATEHOUSE_EVENT_QUEUE_TYPE={wanted} "
            f"({exc.reply_text}). RabbitMQ cannot change a queue's type in place: either set "
            "GATEHOUSE_EVENT_QUEUE_TYPE back to the existing type, or move to new queues by also changing "
            "GATEHOUSE_EVENTS_EXCHANGE (the queues are named after it), then drain and delete the old ones "
            '(docs/events.md, "Queue type")'
        ) from exc
