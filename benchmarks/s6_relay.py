"""Scenario 6: the outbox relay (project.events.relay: SELECT … FOR UPDATE SKIP LOCKED, publish
with confirms, stamp published_at) against raw kombu publishing of the same events with the same
confirms and durability, one publisher each; then several relays at once (threads, each with its
own database connection and broker connection), to show that they share the work."""

from __future__ import annotations

import json
import threading
import time
import uuid

from benchmarks.harness import Comparison, Curve, ScenarioResult, interleave, median, profile_text, ratios

EVENT_TYPE = "bench.relay_event"  # bound to no queue: both sides pay the publish and confirm only


def pending_rows(count: int) -> None:
    from django.utils import timezone

    from project.events.models import OutboxEvent

    now = timezone.now()
    OutboxEvent.objects.bulk_create(
        [
            OutboxEvent(
                id=uuid.uuid4(),
                type=EVENT_TYPE,
                producer="bench",
                occurred_at=now,
                payload={"user_id": str(uuid.uuid4()), "n": i},
                seq=i,
            )
            for i in range(count)
        ],
        batch_size=1000,
    )


def relay_rate(count: int, relays: int) -> float:
    """Events/s published by `relays` relays draining `count` pending rows."""
    from django.db import connection

    from project.events.relay import relay_all

    pending_rows(count)
    published = [0] * relays

    def drain(i: int) -> None:
        try:
            published[i] = relay_all()
        finally:
            connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=drain, args=(i,)) for i in range(relays)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    from project.events.models import OutboxEvent

    left = OutboxEvent.objects.filter(type=EVENT_TYPE, published_at__isnull=True).count()
    assert left == 0, f"{left} events left unpublished"
    return sum(published) / elapsed


def raw_rate(count: int) -> float:
    """Events/s of a bare kombu producer: same exchange, body size, confirms and delivery mode."""
    from django.conf import settings
    from kombu import Connection

    from project.events.topology import events_exchange

    exchange = events_exchange()
    bodies = [
        json.dumps({"id": str(uuid.uuid4()), "type": EVENT_TYPE, "payload": {"user_id": str(uuid.uuid4()), "n": i}})
        for i in range(count)
    ]
    with Connection(settings.CELERY_BROKER_URL, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        producer.publish("{}", exchange=exchange, routing_key=EVENT_TYPE, declare=[exchange])
        started = time.perf_counter()
        for body in bodies:
            producer.publish(
                body,
                exchange=exchange,
                routing_key=EVENT_TYPE,
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
            )
        return count / (time.perf_counter() - started)


def run(ctx) -> ScenarioResult:
    result = ScenarioResult("6", "Outbox relay")
    count = ctx.size(50, 2000)
    f = interleave(ctx.rounds(5), {"relay": lambda: relay_rate(count, 1), "raw": lambda: raw_rate(count)})
    result.comparisons.append(
        Comparison(
            "6",
            "outbox relay over raw kombu publish with confirms",
            "≥ 0.5×",
            ">=",
            0.5,
            ratios(f["relay"], f["raw"]),
            f"relay {median(f['relay']):.0f} events/s, raw kombu {median(f['raw']):.0f} events/s ({count} events)",
        )
    )
    if not ctx.smoke and median(ratios(f["relay"], f["raw"])) < 0.5:
        from project.events.relay import relay_all

        pending_rows(count)
        result.profile = profile_text(relay_all, 1, max_lines=50)
    relay_counts = [1, 2, 4]
    scaling = interleave(ctx.rounds(3), {str(k): (lambda k=k: relay_rate(count, k)) for k in relay_counts})
    curve = Curve(
        "6", "Outbox relays draining the same outbox", "relays", "events/s (median)", logx=False, filename="relay.png"
    )
    curve.series["relay"] = [(k, median(scaling[str(k)])) for k in relay_counts]
    result.curves.append(curve)
    result.comparisons.append(
        Comparison(
            "6",
            "4 relays over 1 relay (events/s)",
            "> 1× (several relays scale)",
            ">=",
            1.0,
            ratios(scaling["4"], scaling["1"]),
            ", ".join(f"{k}: {median(scaling[str(k)]):.0f}/s" for k in relay_counts),
        )
    )
    result.notes.append(
        f"{count} pending events per measurement, bulk-inserted before the clock starts. The relays are threads "
        "of one process (publishing waits on the broker's confirms, which releases the GIL); on 2 shared cores "
        "they contend with PostgreSQL and RabbitMQ for the CPU."
    )
    return result
