"""Scenario 4: an announcement to 10,000 users, in-app channel, through RabbitMQ and a Celery worker
(`notification_service.send_notification` returns after recording; the worker sends the deliveries in batches)
against raw kombu: publishing and consuming the same number of messages with the same durability
(persistent messages on a durable queue, publisher confirms, one ack each). Recipients/s from the
call until every delivery is `sent`, against messages/s from the first publish to the last ack."""

from __future__ import annotations

import time
import uuid

from benchmarks import stack
from benchmarks.harness import Comparison, ScenarioResult, interleave, median, ratios

CONCURRENCY = 2


def recipients(count: int) -> list[uuid.UUID]:
    from users.models import User

    ids = [uuid.uuid4() for _ in range(count)]
    User.objects.bulk_create(
        [User(id=uid, email=f"f{uid.hex}@fanout.example.com", password="!") for uid in ids], batch_size=5000
    )
    return ids


def fanout_rate(user_ids: list[uuid.UUID], timeout: float) -> float:
    from notifications.interface import CHANNEL_IN_APP, TYPE_ANNOUNCEMENT, notification_service
    from notifications.models import Delivery

    started = time.perf_counter()
    notification_id = notification_service.send_notification(
        type=TYPE_ANNOUNCEMENT,
        context={"subject": "Maintenance", "body": "Tonight, 22:00 to 23:00."},
        user_ids=user_ids,
        channels=[CHANNEL_IN_APP],
    )
    deadline = started + timeout
    while True:
        pending = Delivery.objects.filter(notification_id=notification_id).exclude(status=Delivery.Status.SENT).count()
        if pending == 0:
            break
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{pending} of {len(user_ids)} deliveries not sent after {timeout}s")
        time.sleep(0.05)
    return len(user_ids) / (time.perf_counter() - started)


def raw_rate(count: int) -> float:
    from kombu import Connection, Exchange, Queue

    queue = Queue(
        f"bench.raw.{uuid.uuid4().hex[:8]}",
        Exchange("bench.raw", type="direct", durable=True),
        routing_key="raw",
        durable=True,
        auto_delete=False,
    )
    body = {"notification_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()), "channel": "in_app"}
    with Connection(stack.BROKER_URL, transport_options={"confirm_publish": True}) as conn:
        bound = queue(conn.channel())
        bound.declare()
        try:
            producer = conn.Producer()
            started = time.perf_counter()
            for _ in range(count):
                producer.publish(body, exchange=queue.exchange, routing_key="raw", delivery_mode=2, serializer="json")
            received = 0

            def on_message(_body, message):
                nonlocal received
                message.ack()
                received += 1

            with conn.Consumer(bound, callbacks=[on_message], prefetch_count=100):
                while received < count:
                    conn.drain_events(timeout=30)
            return count / (time.perf_counter() - started)
        finally:
            bound.delete()


def run(ctx) -> ScenarioResult:
    result = ScenarioResult("4", "Announcement fan-out")
    count = ctx.size(200, 10_000)
    env = stack.gatehouse_env(ctx.db)
    worker = stack.process(
        "celery-worker",
        [
            stack.PY,
            "-m",
            "celery",
            "-A",
            "project",
            "worker",
            "--loglevel",
            "WARNING",
            "--concurrency",
            str(CONCURRENCY),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env=env,
    )
    with worker:
        fanout_rate(recipients(10), timeout=120)  # the worker is up and warm
        rounds = ctx.rounds(3)
        groups = iter([recipients(count) for _ in range(rounds)])
        f = interleave(rounds, {"gatehouse": lambda: fanout_rate(next(groups), 600), "raw": lambda: raw_rate(count)})
    result.comparisons.append(
        Comparison(
            "4",
            f"fan-out to {count:,} users (in-app) over raw kombu publish + consume",
            "≥ 0.8×",
            ">=",
            0.8,
            ratios(f["gatehouse"], f["raw"]),
            f"Gatehouse {median(f['gatehouse']):.0f} recipients/s, raw kombu {median(f['raw']):.0f} messages/s",
        )
    )
    result.notes.append(
        f"One Celery worker process with concurrency {CONCURRENCY} (prefork), RabbitMQ vhost of the bench; "
        "the clock runs from `notification_service.send_notification` to the moment no delivery of the notification is "
        "left unsent (polled every 50 ms)."
    )
    return result
