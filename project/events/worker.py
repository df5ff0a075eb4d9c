"""Event consumers hosted in `celery worker` processes (a Celery consumer bootstep).

Each consumer reads its own durable queue. A message is acknowledged only after its outcome is
committed: processed (inbox row and effects), parked in the next retry (delay) queue, or, after
the last retry, kept as a DeadLetter row. One poison message never blocks the rest, and a worker
killed mid-way gets the message redelivered, which the inbox makes harmless.
"""

from __future__ import annotations

import json
import logging
import os
import time

from django.db import close_old_connections
from kombu import Consumer, Message

from project.kernel.context import request_id_scope
from project.kernel.events import Envelope

from .consumers import consumers, process, record_dead_letter, retry_delays
from .publishing import publish_to_queue
from .topology import consumer_queue, declare, retry_queue

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-gatehouse-attempt"
# Headers RabbitMQ adds when it dead-letters a message out of a retry queue; not copied along, so
# its cycle detection never sees a loop and the headers do not grow with every retry.
_BROKER_DEATH_PREFIXES = ("x-death", "x-first-death-", "x-last-death-")
# How long to wait before handing back a message whose outcome could not be recorded.
REQUEUE_PAUSE_SECONDS = 1.0


def selected_consumers() -> dict[str, list[str]]:
    """Consumers this worker hosts: all, or those named in GATEHOUSE_EVENT_CONSUMERS (comma list)."""
    wanted = [name.strip() for name in os.environ.get("GATEHOUSE_EVENT_CONSUMERS", "").split(",") if name.strip()]
    every = consumers()
    return {name: types for name, types in every.items() if not wanted or name in wanted}


def handle_message(consumer: str, body, message: Message) -> None:
    headers = message.headers or {}
    attempt = int(headers.get(ATTEMPT_HEADER, 0)) + 1  # this delivery's attempt, 1-based
    close_old_connections()  # the database may have gone away since the last message
    try:
        try:
            data = json.loads(body) if isinstance(body, str | bytes) else body
            envelope = Envelope.from_dict(data)
        except Exception as exc:
            log.error("malformed event on %s dead-lettered", consumer, exc_info=True)
            record_dead_letter(consumer, _as_dict(body), f"{type(exc).__name__}: {exc}", attempts=attempt)
        else:
            with request_id_scope(envelope.request_id):
                _process_or_retry(consumer, envelope, headers, attempt)
    except Exception:
        # The outcome could not be recorded (database or broker down): hand the message back
        # unacknowledged after a pause, and keep consuming.
        log.exception("could not record the outcome of a message for %s; requeued", consumer)
        time.sleep(REQUEUE_PAUSE_SECONDS)
        message.requeue()
        return
    finally:
        close_old_connections()  # back to the pool, not held while idle
    message.ack()


def _process_or_retry(consumer: str, envelope: Envelope, headers: dict, attempt: int) -> None:
    try:
        process(consumer, envelope)
    except Exception as exc:
        log.warning("consumer %s failed on event %s (attempt %d)", consumer, envelope.id, attempt, exc_info=True)
        if attempt <= len(retry_delays()):
            _retry_later(consumer, envelope, headers, attempt)
        else:
            record_dead_letter(consumer, envelope.to_dict(), f"{type(exc).__name__}: {exc}", attempts=attempt)


def _as_dict(body) -> dict:
    if isinstance(body, dict):
        return body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    return {"raw": str(body)[:10000]}


def _retry_later(consumer: str, envelope: Envelope, headers: dict, attempt: int) -> None:
    """Park the event in the delay queue of retry number `attempt`; it comes back to the consumer's
    queue when that queue's TTL expires."""
    kept = {k: v for k, v in headers.items() if not k.startswith(_BROKER_DEATH_PREFIXES)}
    publish_to_queue(retry_queue(consumer, attempt).name, envelope, headers={**kept, ATTEMPT_HEADER: attempt})


def _undecodable(consumer: str, message: Message, exc: Exception) -> None:
    """A message kombu could not decode (not JSON, or a content type not accepted): dead-lettered
    and acknowledged, instead of breaking the consumer and coming back forever."""
    log.error("undecodable message on %s dead-lettered: %s", consumer, exc)
    close_old_connections()
    try:
        record_dead_letter(consumer, _as_dict(message.body), f"{type(exc).__name__}: {exc}", attempts=1)
    except Exception:
        log.exception("could not record an undecodable message for %s; requeued", consumer)
        time.sleep(REQUEUE_PAUSE_SECONDS)
        message.requeue()
        return
    finally:
        close_old_connections()
    message.ack()


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
            on_decode_error=lambda message, exc, name=name: _undecodable(name, message, exc),
            accept=["json"],
            prefetch_count=10,
        )
        for name, types in hosted.items()
    ]
