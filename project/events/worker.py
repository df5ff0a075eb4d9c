"""Event consumers hosted in `celery worker` processes (a Celery consumer bootstep).

Each consumer reads its own durable queue. A failing handler's message is re-published to the
consumer's next retry (delay) queue; after the last one it is dead-lettered (a DeadLetter row)
and acknowledged, so one poison message never blocks the rest.
"""

from __future__ import annotations

import json
import logging
import os
import uuid

from django.conf import settings
from django.db import close_old_connections
from kombu import Consumer, Message
from kombu.pools import producers

from project.kernel.events import Envelope

from .consumers import consumers, process
from .models import DeadLetter
from .relay import broker_connection
from .topology import consumer_queue, declare, retry_queue_name

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-gatehouse-attempt"


def selected_consumers() -> dict[str, list[str]]:
    """Consumers this worker hosts: all, or those named in GATEHOUSE_EVENT_CONSUMERS (comma list)."""
    wanted = [name for name in os.environ.get("GATEHOUSE_EVENT_CONSUMERS", "").split(",") if name]
    every = consumers()
    return {name: types for name, types in every.items() if not wanted or name in wanted}


def handle_message(consumer: str, body, message: Message) -> None:
    attempt = int((message.headers or {}).get(ATTEMPT_HEADER, 0))
    close_old_connections()
    try:
        data = json.loads(body) if isinstance(body, str | bytes) else body
        envelope = Envelope.from_dict(data)
    except Exception as exc:
        log.error("malformed event on %s dead-lettered", consumer, exc_info=True)
        _dead_letter(consumer, body if isinstance(body, dict) else {"raw": str(body)[:10000]}, exc, attempt)
        message.ack()
        return
    try:
        process(consumer, envelope)
    except Exception as exc:
        log.warning("consumer %s failed on event %s (attempt %d)", consumer, envelope.id, attempt + 1, exc_info=True)
        if attempt < len(settings.GATEHOUSE_EVENT_RETRY_DELAYS):
            _retry_later(consumer, body, message, attempt + 1)
        else:
            _dead_letter(consumer, envelope.to_dict(), exc, attempt + 1)
    finally:
        close_old_connections()
    # Acknowledged only after the effect (or its retry / dead letter) is safely recorded: a worker
    # killed before this line gets the message redelivered, and the inbox makes that harmless.
    message.ack()


def _retry_later(consumer: str, body, message: Message, attempt: int) -> None:
    with producers[broker_connection()].acquire(block=True, timeout=10) as producer:
        producer.publish(
            body if isinstance(body, str | bytes) else json.dumps(body),
            exchange="",
            routing_key=retry_queue_name(consumer, attempt),
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            delivery_mode=2,
            headers={**(message.headers or {}), ATTEMPT_HEADER: attempt},
        )


def _dead_letter(consumer: str, envelope: dict, exc: Exception, attempts: int) -> None:
    try:
        event_id = uuid.UUID(str(envelope.get("id")))
    except ValueError:
        event_id = None
    DeadLetter.objects.create(
        consumer=consumer,
        event_id=event_id,
        event_type=str(envelope.get("type", ""))[:100],
        envelope=envelope,
        error=f"{type(exc).__name__}: {exc}",
        attempts=attempts,
    )


def event_consumers(channel) -> list[Consumer]:
    """Kombu consumers for the event consumers this worker hosts (called by the worker bootstep)."""
    hosted = selected_consumers()
    declare(channel)
    log.info("event consumers hosted: %s", ", ".join(hosted) or "none")
    return [
        Consumer(
            channel,
            queues=[consumer_queue(name, types)],
            callbacks=[lambda body, message, name=name: handle_message(name, body, message)],
            accept=["json"],
            prefetch_count=10,
        )
        for name, types in hosted.items()
    ]
