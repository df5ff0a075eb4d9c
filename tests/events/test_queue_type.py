"""GATEHOUSE_EVENT_QUEUE_TYPE: quorum or classic event queues (issue 22).

The three-node cluster losing the leader of a queue is tests/reliability/test_fault_rabbit_cluster.py;
here: what each type declares, quorum queues on one node doing everything classic ones do
(events, retries through the delay queues, dead letters), and a queue of the other type refused
with an error that says what to do, the event kept in the outbox.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest
from amqp.exceptions import PreconditionFailed
from django.db import transaction
from kombu import Connection

from project.events.models import DeadLetter, OutboxEvent
from project.events.outbox import outbox_record
from project.events.relay import PublishFailed, relay_events
from project.events.topology import (
    QueueTypeMismatch,
    all_queues,
    consumer_queue,
    declare,
    queue_name,
    retry_queues,
)
from tests.probe.handlers import PROBE_EVENT
from tests.probe.models import Effect
from tests.support.broker import envelope, wait_for
from tests.support.processes import subprocess_env

RETRY_ARGUMENTS = {"x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key"}


def test_classic_queues_are_declared_exactly_as_before_the_setting_existed(settings):
    settings.GATEHOUSE_EVENT_QUEUE_TYPE = "classic"
    assert consumer_queue("probe", [PROBE_EVENT]).queue_arguments == {}
    for queue in retry_queues("probe"):
        assert set(queue.queue_arguments) == RETRY_ARGUMENTS  # no x-queue-type: existing queues match


def test_quorum_queues_are_quorum_and_their_retries_dead_letter_at_least_once(settings):
    settings.GATEHOUSE_EVENT_QUEUE_TYPE = "quorum"
    assert consumer_queue("probe", [PROBE_EVENT]).queue_arguments == {"x-queue-type": "quorum"}
    queues = retry_queues("probe")
    assert queues
    for queue in queues:
        assert queue.durable
        assert queue.queue_arguments["x-queue-type"] == "quorum"
        assert queue.queue_arguments["x-dead-letter-strategy"] == "at-least-once"
        assert queue.queue_arguments["x-overflow"] == "reject-publish"  # what at-least-once requires
        assert queue.queue_arguments["x-dead-letter-routing-key"] == queue_name("probe")


def declared_type(url: str, queue) -> str:
    """The type of an existing event queue: a passive declare says nothing of it, so declare it as
    a classic one and see whether RabbitMQ refuses (a fresh channel each time: a refusal closes it)."""
    classic = {key: value for key, value in queue.queue_arguments.items() if key in RETRY_ARGUMENTS}
    with Connection(url) as conn:
        try:
            conn.channel().queue_declare(queue=queue.name, durable=True, auto_delete=False, arguments=classic)
        except PreconditionFailed:
            return "quorum"
        return "classic"


@pytest.fixture
def native_delayed_delivery_removed(broker):
    """A worker on quorum task queues declares Celery's native delayed delivery (exchanges and
    queues `celery_delayed_<level>`, shared by every worker of the virtual host): removed after."""
    yield
    with Connection(broker.url) as conn:
        channel = conn.channel()
        for level in range(28):
            channel.queue_delete(queue=f"celery_delayed_{level}")
            channel.exchange_delete(exchange=f"celery_delayed_{level}")
        channel.exchange_delete(exchange="celery_delayed_delivery")


@pytest.mark.stack
def test_quorum_event_queues_carry_events_retries_and_dead_letters_on_one_node(
    broker, start_worker, settings, native_delayed_delivery_removed
):
    settings.GATEHOUSE_EVENT_QUEUE_TYPE = "quorum"
    start_worker(GATEHOUSE_EVENT_QUEUE_TYPE="quorum")
    assert {queue.name: declared_type(broker.url, queue) for queue in all_queues()} == {
        queue.name: "quorum" for queue in all_queues()
    }
    poison = envelope(PROBE_EVENT, probe_fail=True)
    good = envelope(PROBE_EVENT)

    started = time.monotonic()
    broker.publish(poison, routing_key=poison.type)
    with transaction.atomic():
        recorded = outbox_record(type=PROBE_EVENT, producer="tests", payload={"n": 1})
    broker.publish(good, routing_key=good.type)

    wait_for(lambda: Effect.objects.filter(event_id__in=[good.id, recorded.id]).count() == 2, what="both events")
    dead = wait_for(lambda: DeadLetter.objects.filter(event_id=poison.id).first(), what="the dead letter")
    assert dead.attempts == 3  # through both quorum delay queues and back
    assert time.monotonic() - started >= 0.6
    assert OutboxEvent.objects.get(id=recorded.id).published_at is not None
    time.sleep(0.7)  # the time a duplicate would need
    assert Effect.objects.filter(event_id__in=[good.id, recorded.id]).count() == 2
    assert broker.message_count(queue_name("probe")) == 0


@pytest.mark.stack
def test_an_event_queue_of_the_other_type_is_refused_with_an_error_naming_the_way_out_and_the_event_waits(
    broker, settings
):
    settings.GATEHOUSE_EVENT_QUEUE_TYPE = "classic"
    with Connection(broker.url) as conn:  # the queues of a release before: classic
        declare(conn.channel())

    settings.GATEHOUSE_EVENT_QUEUE_TYPE = "quorum"
    with transaction.atomic():
        event = outbox_record(type=PROBE_EVENT, producer="tests", payload={"n": 1})
    with pytest.raises(PublishFailed) as failed:
        relay_events(ids=[event.id])
    assert isinstance(failed.value.__cause__, QueueTypeMismatch)
    row = OutboxEvent.objects.get(id=event.id)
    assert row.published_at is None
    assert row.last_error.startswith("QueueTypeMismatch: ")
    assert "GATEHOUSE_EVENT_QUEUE_TYPE=quorum" in row.last_error
    assert 'docs/events.md, "Queue type"' in row.last_error
    assert declared_type(broker.url, consumer_queue("probe", [])) == "classic"  # nothing changed in RabbitMQ

    settings.GATEHOUSE_EVENT_QUEUE_TYPE = "classic"  # the operator sets it back
    assert relay_events(ids=[event.id]) == 1
    assert broker.message_count(queue_name("probe")) == 1


SEND_WITH_COUNTDOWN = """
import django, sys
django.setup()
from project.celery import app
app.send_task("probe.remember_request_id", args=[sys.argv[1]], queue=sys.argv[2], countdown=float(sys.argv[3]))
"""


@pytest.mark.stack
def test_with_quorum_queues_a_countdown_task_waits_in_the_broker_not_in_the_worker(
    broker, start_worker, native_delayed_delivery_removed
):
    """Celery's native delayed delivery: the task reaches the worker when it is due, instead of
    being handed over at once and held (with the worker's one prefetch slot) until then."""
    worker = start_worker(GATEHOUSE_EVENT_QUEUE_TYPE="quorum")
    marker = uuid.uuid4()
    subprocess.run(
        [sys.executable, "-c", SEND_WITH_COUNTDOWN, str(marker), broker.task_queue, "3"],
        env=subprocess_env(GATEHOUSE_EVENT_QUEUE_TYPE="quorum"),
        check=True,
        timeout=60,
    )
    time.sleep(1.0)
    received_at_once = str(marker) in worker.output()  # the worker logs a task it receives, with its args
    wait_for(lambda: Effect.objects.filter(consumer="task", event_id=marker).exists(), what="the task")
    assert not received_at_once
