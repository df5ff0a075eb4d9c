"""Faults of the broker (issue 8), on a RabbitMQ node the test owns (stack mode).

A throwaway RabbitMQ node (its own node name, ports and data directory: tests/reliability/faults.py)
carries the events of a real gunicorn, a real `manage.py relay_outbox` and a real `celery worker`
on the test database. The machine's own RabbitMQ is never touched, and still answers at the end.

- The broker is stopped, or SIGKILLed, while users register: every registration succeeds (201),
  and once the broker is back every event is consumed exactly once; a poison event committed during
  the outage is dead-lettered after its retries while the rest flows.
- The broker is SIGKILLed while the relay publishes a backlog: only rows the broker confirmed are
  stamped published (each of them is in the durable queue after the restart), the rest are
  published after the restart, and every event is consumed exactly once.
- A worker dies between its consumer's commit and the ack: the effect happens once.

Each test prints the requests made / succeeded / failed and the events expected / seen once / seen
twice / lost (lost is always zero).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter

import pytest
from django.db import transaction
from kombu import Connection, Consumer, Queue

from project.events.models import DeadLetter, InboxRecord, OutboxEvent
from project.events.outbox import outbox_record
from project.events.topology import queue_name
from project.kernel.events import Envelope
from tests.probe.handlers import CONSUMER as PROBE
from tests.probe.handlers import CRASH_AFTER_COMMIT_EXIT_CODE, PROBE_EVENT
from tests.support.broker import wait_for
from tests.support.factories import PASSWORD
from users.interface import USER_REGISTERED

from .faults import RabbitNode, call, consumption, machine_services_answer

pytestmark = [pytest.mark.stack, pytest.mark.serial, pytest.mark.django_db(transaction=True)]

# How long the broker stays down (issue 8 asks for 30 s; CI keeps it short).
OUTAGE_SECONDS = float(os.environ.get("GATEHOUSE_FAULT_OUTAGE_SECONDS", "8"))


@pytest.fixture
def rabbit(tmp_path):
    node = RabbitNode(tmp_path)
    node.start()
    yield node
    node.close()
    assert machine_services_answer()["rabbitmq:5672"], "the machine's own RabbitMQ must still answer"


def queued_event_ids(rabbit: RabbitNode, queue: str) -> list[str]:
    """The ids of the events waiting in `queue`, without taking them: consumed unacknowledged,
    then handed back when the connection closes."""
    seen: list[str] = []
    with Connection(rabbit.url, connect_timeout=2) as conn:
        consumer = Consumer(
            conn.channel(),
            queues=[Queue(queue, no_declare=True)],
            callbacks=[lambda body, message: seen.append(message.properties.get("message_id"))],
            accept=["json"],
            no_ack=False,
        )
        consumer.consume()
        while True:
            try:
                conn.drain_events(timeout=1.0)
            except TimeoutError:
                break
    return seen


@pytest.mark.parametrize("fault", ["stop", "kill"])
def test_broker_down_while_users_register_every_request_succeeds_every_event_consumed_once(fault, rabbit, stack):
    web = stack.web()
    stack.relay()
    stack.worker()
    statuses: Counter = Counter()
    emails: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def register():
        while not stop.is_set():
            email = f"reg-{uuid.uuid4().hex[:12]}@example.com"
            status, _, _ = call(web, "POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD})
            with lock:
                statuses[status] += 1
                if status == 201:
                    emails.append(email)

    threads = [threading.Thread(target=register) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(2)  # traffic with the broker up

    # --- the broker goes away: a clean stop (connections closed, queues flushed to disk), or a
    # SIGKILL in the middle of the publishes (connections dropped, unconfirmed messages lost) ------
    rabbit.stop() if fault == "stop" else rabbit.kill()
    stopped_at = time.monotonic()
    before_outage = statuses[201]
    # A poison event committed during the outage: retried, then dead-lettered, while the rest flows.
    with transaction.atomic():
        poison = outbox_record(type=PROBE_EVENT, producer="tests", payload={"probe_fail": True})
    time.sleep(OUTAGE_SECONDS)
    during_outage = statuses[201] - before_outage
    pending_at_restart = OutboxEvent.objects.filter(published_at__isnull=True).count()
    rabbit.start()
    outage = time.monotonic() - stopped_at
    time.sleep(2)  # traffic with the broker back
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    made = sum(statuses.values())
    registered = list(
        OutboxEvent.objects.filter(type=USER_REGISTERED, payload__email__in=emails).values_list("id", flat=True)
    )
    # Everything committed is published and consumed: wait for the last one.
    wait_for(lambda: consumption(registered)["lost"] == 0, timeout=90, what="every registration to be consumed")
    dead = wait_for(lambda: DeadLetter.objects.filter(event_id=poison.id).first(), timeout=30, what="the dead letter")
    time.sleep(1.0)  # the time a duplicate would need to show up
    figures = consumption(registered)
    print(
        f"\nRabbitMQ {'stopped' if fault == 'stop' else 'SIGKILLed'}, down {outage:.1f}s (outage {OUTAGE_SECONDS}s + restart) while users register: "
        f"requests made {made}, succeeded {statuses[201]}, failed {made - statuses[201]} "
        f"(statuses {dict(statuses)}; {during_outage} registered while the broker was down, "
        f"{pending_at_restart} events pending at the restart)\n"
        f"users.user_registered events: " + ", ".join(f"{k} {v}" for k, v in figures.items()) + "\n"
        f"poison event: dead-lettered after {dead.attempts} attempts"
    )
    assert made >= 10 and during_outage >= 3
    assert set(statuses) == {201}, statuses
    assert len(registered) == len(emails) == statuses[201]  # one committed event per registration
    assert figures == {"expected": len(registered), "seen once": len(registered), "seen twice": 0, "lost": 0}
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()
    assert dead.consumer == PROBE and dead.attempts == 3  # the first delivery and one per retry delay
    assert not InboxRecord.objects.filter(event_id=poison.id).exists()
    assert DeadLetter.objects.count() == 1


BACKLOG = 3000


def test_broker_killed_mid_publish_only_confirmed_rows_are_stamped_and_nothing_is_lost(rabbit, stack):
    rows = OutboxEvent.objects.bulk_create(
        OutboxEvent(type=PROBE_EVENT, producer="tests", occurred_at="2026-01-01T00:00:00Z", seq=n, payload={"n": n})
        for n in range(BACKLOG)
    )
    expected = [row.id for row in rows]
    relay = stack.relay(interval=0.2, min_age=0)

    # Kill the broker once the relay has committed some batches, while it publishes the next.
    wait_for(lambda: OutboxEvent.objects.filter(published_at__isnull=False).count() >= 200, timeout=60,
             what="the relay to publish some batches")  # fmt: skip
    rabbit.kill()
    time.sleep(1.0)  # the relay's transaction of the interrupted batch rolls back (or never commits)
    stamped = {str(i) for i in OutboxEvent.objects.filter(published_at__isnull=False).values_list("id", flat=True)}
    relay.stop()  # no publishing while the queue is inspected

    rabbit.start()
    in_queue = set(queued_event_ids(rabbit, queue_name(PROBE)))
    stamped_not_queued = stamped - in_queue
    queued_not_stamped = in_queue - stamped  # confirmed by the broker but not yet stamped: published again
    relay_again = stack.relay(interval=0.2, min_age=0)
    stack.worker()
    wait_for(lambda: consumption(expected)["lost"] == 0, timeout=120, what="every event to be consumed")
    time.sleep(1.0)
    figures = consumption(expected)
    attempts = sum(OutboxEvent.objects.filter(attempts__gt=0).values_list("attempts", flat=True))
    print(
        f"\nRabbitMQ SIGKILLed mid-publish of {BACKLOG} events: stamped published before the kill {len(stamped)}, "
        f"of them in the durable queue after the restart {len(stamped) - len(stamped_not_queued)}, "
        f"in the queue but not stamped (published twice) {len(queued_not_stamped)}, failed publish attempts "
        f"recorded {attempts}\nevents: " + ", ".join(f"{k} {v}" for k, v in figures.items())
    )
    assert 0 < len(stamped) < BACKLOG
    assert not stamped_not_queued  # a row is stamped only for what the broker confirmed
    assert figures == {"expected": BACKLOG, "seen once": BACKLOG, "seen twice": 0, "lost": 0}
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()
    relay_again.stop()


def test_a_worker_dying_between_its_commit_and_the_ack_leaves_the_effect_once(rabbit, stack):
    """The data-loss case of issue 8: the consumer's transaction (inbox row and effect) commits,
    then the process dies before acknowledging. RabbitMQ redelivers the message to the next worker,
    whose inbox finds the event processed: the effect happens once, and nothing is lost."""
    first = stack.worker()
    crash = Envelope(type=PROBE_EVENT, producer="tests", payload={"probe_exit_after_commit": True})
    after = [Envelope(type=PROBE_EVENT, producer="tests", payload={"n": n}) for n in range(20)]
    with Connection(rabbit.url) as conn:
        producer = conn.Producer()
        for envelope in [crash, *after]:
            producer.publish(
                json.dumps(envelope.to_dict()),
                exchange=stack.exchange,
                routing_key=PROBE_EVENT,
                content_type="application/json",
                delivery_mode=2,
                message_id=str(envelope.id),
            )

    first.popen.wait(timeout=60)
    assert first.popen.returncode == CRASH_AFTER_COMMIT_EXIT_CODE, first.output()[-3000:]
    committed_before_the_crash = consumption([crash.id])["seen once"]
    stack.worker()
    expected = [crash.id, *(envelope.id for envelope in after)]
    wait_for(lambda: consumption(expected)["lost"] == 0, timeout=60, what="every event to be consumed")
    time.sleep(1.0)
    figures = consumption(expected)
    print(
        f"\nworker exited between its commit and the ack: the effect committed before the exit "
        f"{committed_before_the_crash}; the first process exited with {first.popen.returncode}\nevents: "
        + ", ".join(f"{k} {v}" for k, v in figures.items())
    )
    assert committed_before_the_crash == 1
    assert figures == {"expected": 21, "seen once": 21, "seen twice": 0, "lost": 0}
    assert InboxRecord.objects.filter(event_id=crash.id).count() == 1
