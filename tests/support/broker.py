"""RabbitMQ helpers for the event tests: a tap that sees everything published to the events
exchange, raw publishing, and queue inspection."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kombu import Connection, Consumer, Exchange, Queue, binding
from kombu.pools import producers

from project.kernel.events import Envelope


def envelope(event_type: str = "probe.happened", **payload) -> Envelope:
    return Envelope(
        type=event_type,
        producer="tests",
        payload=payload,
        occurred_at=datetime.now(UTC),
        request_id=f"req-{uuid.uuid4().hex[:12]}",
    )


@dataclass
class Received:
    body: dict
    routing_key: str
    headers: dict
    properties: dict
    delivery_info: dict = field(default_factory=dict)


class Tap:
    """An exclusive queue bound to the events exchange with `#`: a copy of every
    event published while it exists."""

    def __init__(self, url: str, exchange_name: str):
        self.connection = Connection(url)
        self.channel = self.connection.channel()
        exchange = Exchange(exchange_name, type="topic", durable=True)
        self.queue = Queue(
            f"{exchange_name}.tap.{uuid.uuid4().hex[:8]}",
            bindings=[binding(exchange, routing_key="#")],
            exclusive=True,
            auto_delete=True,
        )
        self.received: list[Received] = []
        self.consumer = Consumer(self.channel, queues=[self.queue], callbacks=[self._on_message], no_ack=True)
        self.consumer.consume()

    def _on_message(self, body, message):
        self.received.append(
            Received(
                body=body if isinstance(body, dict) else json.loads(body),
                routing_key=message.delivery_info.get("routing_key", ""),
                headers=dict(message.headers or {}),
                properties=dict(message.properties or {}),
                delivery_info=dict(message.delivery_info or {}),
            )
        )

    def collect(self, *, expect: int | None = None, idle: float = 0.5, timeout: float = 15.0) -> list[Received]:
        """Messages received so far, after waiting until `expect` arrived (if given) and then
        until none arrived for `idle` seconds."""
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() < deadline:
            try:
                self.connection.drain_events(timeout=0.1)
                last = time.monotonic()
            except TimeoutError:
                enough = expect is None or len(self.received) >= expect
                if enough and time.monotonic() - last >= idle:
                    break
        return list(self.received)

    def close(self) -> None:
        self.connection.release()


class Broker:
    def __init__(self, url: str, exchange_name: str):
        self.url = url
        self.exchange_name = exchange_name
        self._taps: list[Tap] = []

    def tap(self) -> Tap:
        tap = Tap(self.url, self.exchange_name)
        self._taps.append(tap)
        return tap

    def publish(
        self,
        body,
        *,
        routing_key: str,
        exchange: str | None = None,
        content_type: str = "application/json",
        headers: dict | None = None,
    ) -> None:
        """Publish as a producer would (to the events exchange unless `exchange` is given)."""
        if isinstance(body, Envelope):
            body = json.dumps(body.to_dict())
        with producers[Connection(self.url, transport_options={"confirm_publish": True})].acquire(
            block=True
        ) as producer:
            producer.publish(
                body,
                exchange=self.exchange_name if exchange is None else exchange,
                routing_key=routing_key,
                content_type=content_type,
                content_encoding="utf-8",
                delivery_mode=2,
                headers=headers or {},
            )

    def consumer_count(self, queue: str) -> int:
        with Connection(self.url) as conn:
            _, _, consumers = conn.default_channel.queue_declare(queue=queue, passive=True)
            return consumers

    def message_count(self, queue: str) -> int:
        with Connection(self.url) as conn:
            _, messages, _ = conn.default_channel.queue_declare(queue=queue, passive=True)
            return messages

    def delete(self, *, queues: list[str], exchanges: list[str]) -> None:
        for tap in self._taps:
            tap.close()
        with Connection(self.url) as conn:
            channel = conn.default_channel
            for name in queues:
                channel.queue_delete(queue=name)
            for name in exchanges:
                channel.exchange_delete(exchange=name)


def wait_for(condition: Callable[[], object], *, timeout: float = 20.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
