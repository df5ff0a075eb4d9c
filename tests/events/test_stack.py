"""The event pipeline against real RabbitMQ, PostgreSQL and Celery workers (stack mode only)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings
from kombu.pools import connections

from project.events import publishing, relay
from project.events.models import DeadLetter, InboxRecord, OutboxEvent
from project.events.outbox import outbox_record
from project.events.publishing import broker_connection
from project.events.relay import PublishFailed, relay_all
from project.events.tasks import sweep_outbox
from project.kernel.context import request_id_scope
from project.kernel.events import parse_rfc3339
from tests.probe.handlers import PROBE_EVENT
from tests.probe.models import Effect
from tests.probe.tasks import remember_request_id
from tests.support.broker import envelope, wait_for
from tests.support.processes import ROOT, free_port, subprocess_env
from users.core.services import create_user
from users.interface import USER_REGISTERED
from users.models import User

from .crash_after_commit import CRASH_EXIT_CODE

pytestmark = pytest.mark.stack

RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def effects(event_id) -> int:
    return Effect.objects.filter(event_id=event_id).count()


def settle(seconds: float = 0.7) -> None:
    """Give a duplicate the time it would need to show up."""
    time.sleep(seconds)


def test_an_event_whose_transaction_rolls_back_is_never_published(broker):
    tap = broker.tap()

    with pytest.raises(RuntimeError), transaction.atomic():
        outbox_record(type=PROBE_EVENT, producer="tests", payload={"n": "rolled back"})
        raise RuntimeError("the change fails")
    relay_all()
    with transaction.atomic():
        committed = outbox_record(type=PROBE_EVENT, producer="tests", payload={"n": "committed"})

    received = tap.collect(expect=1)
    assert [message.body["payload"] for message in received] == [{"n": "committed"}]
    assert received[0].body["id"] == str(committed.id)
    assert OutboxEvent.objects.count() == 1


def test_a_committed_event_is_published_once_with_the_full_envelope(broker):
    tap = broker.tap()

    with request_id_scope("req-envelope-0001"):
        user = create_user(email="Ada@Example.com", display_name="Ada")

    [message] = tap.collect(expect=1)
    body = message.body
    assert set(body) == {"id", "type", "occurred_at", "producer", "version", "request_id", "payload"}
    row = OutboxEvent.objects.get()
    assert body["id"] == str(row.id)
    assert body["type"] == USER_REGISTERED == message.routing_key
    assert RFC3339_Z.match(body["occurred_at"]), body["occurred_at"]
    assert parse_rfc3339(body["occurred_at"]) == row.occurred_at
    assert body["producer"] == "users"
    assert body["version"] == 1
    assert body["request_id"] == "req-envelope-0001" == message.headers["request_id"]
    assert (
        body["payload"].items() >= {"user_id": str(user.id), "email": "ada@example.com", "display_name": "Ada"}.items()
    )
    assert message.properties["message_id"] == body["id"]
    assert message.properties["delivery_mode"] == 2
    assert row.published_at is not None


def test_an_event_committed_by_a_process_that_dies_right_after_commit_is_published_by_the_sweeper(broker, start_worker):
    start_worker()
    crashed = subprocess.run(
        [sys.executable, "-m", "tests.events.crash_after_commit", "crash@example.com", "req-crash-0001"],
        cwd=ROOT,
        env=subprocess_env(GATEHOUSE_EVENTS_EXCHANGE=broker.exchange_name),
        capture_output=True,
        timeout=60,
    )
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr.decode()[-3000:]

    user = User.objects.get(email="crash@example.com")
    row = OutboxEvent.objects.get(payload__user_id=str(user.id))
    assert row.published_at is None
    assert row.request_id == "req-crash-0001"
    assert effects(row.id) == 0

    # The beat task, run by the worker (its GATEHOUSE_OUTBOX_SWEEP_AGE is 0).
    sweep_outbox.apply_async(queue=broker.task_queue)

    wait_for(lambda: effects(row.id), what="the probe consumer to handle the swept event")
    settle()
    assert effects(row.id) == 1
    assert InboxRecord.objects.filter(event_id=row.id).count() == 1
    row.refresh_from_db()
    assert row.published_at is not None


def test_the_relay_command_publishes_what_a_crashed_process_left_behind(broker):
    tap = broker.tap()
    OutboxEvent.objects.create(
        type=PROBE_EVENT, producer="tests", occurred_at="2026-01-01T00:00:00Z", payload={"left": "behind"}
    )

    call_command("relay_outbox", "--once")

    [message] = tap.collect(expect=1)
    assert message.body["payload"] == {"left": "behind"}
    assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 0


def test_a_consumer_that_receives_the_same_event_twice_acts_once(broker, start_worker):
    start_worker()
    twice = envelope(PROBE_EVENT)
    sentinel = envelope(PROBE_EVENT)

    broker.publish(twice, routing_key=twice.type)
    broker.publish(twice, routing_key=twice.type)
    broker.publish(sentinel, routing_key=sentinel.type)

    # One worker, one queue: once the sentinel is handled, both copies before it were too.
    wait_for(lambda: effects(sentinel.id), what="the sentinel event")
    assert effects(twice.id) == 1
    assert InboxRecord.objects.filter(consumer="probe", event_id=twice.id).count() == 1


def test_a_poison_message_is_retried_with_backoff_then_dead_lettered_and_later_events_still_flow(broker, start_worker):
    start_worker()
    poison = envelope(PROBE_EVENT, probe_fail=True)
    good = envelope(PROBE_EVENT)

    started = time.monotonic()
    broker.publish(poison, routing_key=poison.type)
    broker.publish(b"{not json", routing_key=PROBE_EVENT)
    broker.publish(good, routing_key=good.type)

    wait_for(lambda: effects(good.id), what="the good event")
    dead = wait_for(lambda: DeadLetter.objects.filter(event_id=poison.id).first(), what="the dead letter")
    elapsed = time.monotonic() - started
    assert dead.consumer == "probe"
    assert dead.attempts == 3  # the first delivery and one per retry delay (0.2 s, 0.4 s)
    assert "probe told to fail" in dead.error
    assert dead.envelope == poison.to_dict()
    assert elapsed >= 0.6  # it waited in both delay queues
    assert not InboxRecord.objects.filter(event_id=poison.id).exists()
    malformed = DeadLetter.objects.get(event_id__isnull=True)
    assert malformed.envelope == {"raw": "{not json"}
    settle()
    assert DeadLetter.objects.filter(event_id=poison.id).count() == 1
    assert broker.message_count(f"{broker.exchange_name}.probe") == 0


def test_a_dead_letter_replayed_after_the_fix_is_processed_by_the_worker(broker, start_worker):
    start_worker()
    fixed = envelope(PROBE_EVENT)
    dead = DeadLetter.objects.create(
        consumer="probe",
        event_id=fixed.id,
        event_type=fixed.type,
        envelope=fixed.to_dict(),
        error="ProbeFailure: since fixed",
        attempts=3,
    )

    call_command("replay_dead_letters", str(dead.pk))

    wait_for(lambda: effects(fixed.id), what="the replayed event")
    dead.refresh_from_db()
    assert dead.replayed_at is not None


def test_several_relays_at_once_publish_each_pending_event_exactly_once(broker):
    tap = broker.tap()
    rows = OutboxEvent.objects.bulk_create(
        OutboxEvent(
            type=PROBE_EVENT,
            producer="tests",
            occurred_at="2026-01-01T00:00:00Z",
            seq=n,
            payload={"n": n},
        )
        for n in range(400)
    )
    start = threading.Barrier(4)
    published = []

    def relay():
        try:
            start.wait()
            published.append(relay_all(batch=20))
        finally:
            connection.close()

    threads = [threading.Thread(target=relay) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    received = tap.collect(expect=400, idle=1.0)
    assert sum(published) == 400
    assert len(received) == 400
    assert {message.body["id"] for message in received} == {str(row.id) for row in rows}
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()


def test_an_event_being_handled_by_a_killed_worker_is_processed_once_by_the_next_one(broker, start_worker):
    first = start_worker("first")
    slow = envelope(PROBE_EVENT, probe_sleep=1.5)

    broker.publish(slow, routing_key=slow.type)
    first.wait_until(lambda: f"probe sleeping {slow.id}" in first.output(), what="handling the event")
    first.kill()
    wait_for(lambda: broker.consumer_count(f"{broker.exchange_name}.probe") == 0, what="the consumer to go")
    assert effects(slow.id) == 0

    start_worker("second")
    wait_for(lambda: effects(slow.id), what="the redelivered event")
    settle()
    assert effects(slow.id) == 1
    assert InboxRecord.objects.filter(event_id=slow.id).count() == 1


def test_a_commit_while_the_broker_is_unreachable_succeeds_and_the_event_is_published_later(broker):
    tap = broker.tap()
    closed = f"amqp://guest:guest@127.0.0.1:{free_port()}//"

    with override_settings(CELERY_BROKER_URL=closed):
        started = time.monotonic()
        first = create_user(email="first@example.com")
        took = time.monotonic() - started
        second = create_user(email="second@example.com")  # the fast path now backs off

    assert took < 2.0
    pending = OutboxEvent.objects.filter(published_at__isnull=True)
    assert pending.count() == 2
    first_row = pending.get(payload__user_id=str(first.id))
    assert first_row.attempts == 1
    assert first_row.last_error
    assert pending.get(payload__user_id=str(second.id)).attempts == 0  # not even tried

    assert relay_all() == 2  # the sweeper, once the broker is back
    received = tap.collect(expect=2)
    assert sorted(message.body["payload"]["email"] for message in received) == [
        "first@example.com",
        "second@example.com",
    ]


def test_the_request_id_travels_in_task_headers_to_the_worker(broker, start_worker):
    start_worker()
    marker = uuid.uuid4()

    with request_id_scope("req-task-header-0001"):
        remember_request_id.apply_async(args=[str(marker)], queue=broker.task_queue)

    effect = wait_for(lambda: Effect.objects.filter(consumer="task", event_id=marker).first(), what="the task")
    assert effect.event_type == "req-task-header-0001"


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            children.append(int(stat.parent.name))
    return children


def test_a_prefork_worker_keeps_handling_events_after_a_pool_process_is_replaced(broker, start_worker):
    worker = start_worker(pool="prefork")
    before = envelope(PROBE_EVENT)
    broker.publish(before, routing_key=before.type)
    wait_for(lambda: effects(before.id), what="the first event")  # the parent now holds pooled connections

    [child] = _children(worker.popen.pid)
    os.kill(child, signal.SIGKILL)
    marker = uuid.uuid4()
    remember_request_id.apply_async(args=[str(marker)], queue=broker.task_queue)  # runs in the new child
    wait_for(lambda: Effect.objects.filter(event_id=marker).exists(), what="the task in a new pool process")
    assert child not in _children(worker.popen.pid)

    after = envelope(PROBE_EVENT)
    broker.publish(after, routing_key=after.type)
    wait_for(lambda: effects(after.id), what="the event after the replacement")
    assert "consumer probe failed" not in worker.output()
    assert not DeadLetter.objects.exists()


def test_a_broken_pooled_broker_connection_is_replaced_on_the_next_publish(broker):
    tap = broker.tap()
    with transaction.atomic():
        outbox_record(type=PROBE_EVENT, producer="tests", payload={"n": 1})
    tap.collect(expect=1)
    # The pooled connection dies under the relay's feet (as after a broker restart).
    with connections[broker_connection()].acquire(block=True, timeout=5) as conn:
        conn.connection.sock.shutdown(socket.SHUT_RDWR)

    with transaction.atomic():
        second = outbox_record(type=PROBE_EVENT, producer="tests", payload={"n": 2})

    received = tap.collect(expect=2)
    assert [message.body["payload"] for message in received] == [{"n": 1}, {"n": 2}]
    assert OutboxEvent.objects.get(id=second.id).published_at is not None


def test_a_connection_lost_in_the_middle_of_a_batch_ends_it_and_the_next_relay_publishes_the_rest(broker, monkeypatch):
    tap = broker.tap()
    rows = OutboxEvent.objects.bulk_create(
        OutboxEvent(type=PROBE_EVENT, producer="tests", occurred_at="2026-01-01T00:00:00Z", seq=n, payload={"n": n})
        for n in range(5)
    )
    publish = publishing.publish_envelope
    calls = []

    def connection_dies_at_the_third(producer, envelope, **kwargs):
        calls.append(envelope.id)
        if len(calls) == 3:
            producer.connection.connection.sock.shutdown(socket.SHUT_RDWR)
        publish(producer, envelope, **kwargs)

    monkeypatch.setattr(publishing, "publish_envelope", connection_dies_at_the_third)
    with pytest.raises(PublishFailed, match="published 2 of 5"):
        relay_all(batch=10)

    # Only what the broker confirmed is stamped; the batch was not retried on a new connection.
    assert len(calls) == 3
    stamped = OutboxEvent.objects.filter(published_at__isnull=False)
    assert {row.id for row in stamped} == {rows[0].id, rows[1].id}
    failed = OutboxEvent.objects.get(id=rows[2].id)
    assert failed.published_at is None
    assert failed.attempts == 1
    assert failed.last_error
    assert OutboxEvent.objects.filter(published_at__isnull=True, attempts=0).count() == 2

    monkeypatch.setattr(publishing, "publish_envelope", publish)
    assert relay_all() == 3  # a fresh connection from the pool
    received = tap.collect(expect=5, idle=1.0)
    assert sorted(message.body["payload"]["n"] for message in received) == [0, 1, 2, 3, 4]


def test_a_broker_that_lost_the_topology_under_a_live_connection_fails_one_attempt_and_the_next_declares_it(broker):
    probe_queue = f"{broker.exchange_name}.probe"
    with transaction.atomic():
        outbox_record(type=PROBE_EVENT, producer="tests", payload={"n": 1})
    wait_for(lambda: broker.message_count(probe_queue) == 1, what="the first event in the probe queue")
    # The relay's pooled connection stays open and remembers having declared everything.
    broker.delete(queues=[probe_queue], exchanges=[broker.exchange_name])

    with transaction.atomic():
        second = outbox_record(type=PROBE_EVENT, producer="tests", payload={"n": 2})
    row = OutboxEvent.objects.get(id=second.id)
    assert row.published_at is None  # the fast path hit the missing exchange
    assert row.attempts == 1
    assert "NOT_FOUND" in row.last_error or "NotFound" in row.last_error

    assert relay_all() == 1  # on a new connection, which declares the topology again
    assert OutboxEvent.objects.get(id=second.id).published_at is not None
    assert broker.message_count(probe_queue) == 1


def test_the_relay_commits_its_stamps_without_waiting_for_the_wal_flush_and_only_its_own_transaction(
    broker, monkeypatch
):
    # Losing a stamp in a PostgreSQL crash only publishes the event again (at-least-once).
    with transaction.atomic():
        event = outbox_record(type=PROBE_EVENT, producer="tests", payload={"n": 1})
    OutboxEvent.objects.filter(id=event.id).update(published_at=None)
    publish = relay._publish
    seen = []

    def observing(rows, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            seen.append(cursor.fetchone()[0])
        return publish(rows, **kwargs)

    monkeypatch.setattr(relay, "_publish", observing)
    assert relay_all() == 1
    assert seen == ["off"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
