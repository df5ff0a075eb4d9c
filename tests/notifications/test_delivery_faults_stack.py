"""Deliveries through the real stack when things break: PostgreSQL, RabbitMQ, `celery worker`
processes, a real SMTP server (aiosmtpd) and a real webhook receiver (an HTTP server), each on a
local port the test owns (stack mode only).

A receiver that fails, a mail server that says "later", and a worker SIGKILLed while a delivery
is in flight: each delivery ends `sent`, once."""

from __future__ import annotations

import email
import email.policy
import threading
import time
import uuid
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from kombu import Connection

from notifications.core.delivery import deliveries_requeue_stale
from notifications.handlers import CONSUMER
from notifications.interface import STATUS_PENDING, STATUS_SENT, notification_service
from notifications.models import Delivery
from tests.support.broker import wait_for
from tests.support.factories import UserFactory
from tests.support.processes import Process, celery_worker, free_port

from .conftest import worker_env
from .webhook_receiver import SECRET, Receiver, ReceiverServer

pytestmark = pytest.mark.stack

HELLO = {"subject": "Maintenance tonight", "body": "Down from 22:00 to 23:00."}


class MailServer:
    """An SMTP server's handler: answers the next `refusals` messages with `subject` with a
    temporary failure (451), and accepts and keeps every other message."""

    def __init__(self):
        self.lock = threading.Lock()
        self.subject = None
        self.refusals = 0
        self.refused = 0
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            if self.refusals and message["Subject"] == self.subject:
                self.refusals -= 1
                self.refused += 1
                return "451 4.3.0 Try again later"
            self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def messages(self, subject: str):
        with self.lock:
            return [(to, message) for to, message in self.received if message["Subject"] == subject]


@pytest.fixture
def smtp():
    server = MailServer()
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    server.port = controller.port
    yield server
    controller.stop()


@pytest.fixture
def receiver(settings):
    with ReceiverServer(Receiver()) as receiver:
        # This process records the send; the check that the channel is configured runs here.
        settings.NOTIFICATIONS_WEBHOOK_URL = receiver.url
        settings.NOTIFICATIONS_WEBHOOK_SECRET = SECRET
        yield receiver


@pytest.fixture
def start_worker(broker, smtp, receiver, tmp_path: Path):
    """Starts `celery worker` processes (solo pool: the task runs in the process that holds the
    broker connection) that mail through the SMTP server and post to the receiver."""
    started: list[Process] = []

    def start(*, webhook_timeout: float = 5.0) -> Process:
        env = worker_env(
            broker,
            smtp,
            NOTIFICATIONS_WEBHOOK_URL=receiver.url,
            NOTIFICATIONS_WEBHOOK_SECRET=SECRET,
            NOTIFICATIONS_WEBHOOK_TIMEOUT=str(webhook_timeout),
        )
        process = celery_worker(broker, CONSUMER, log_dir=tmp_path, name=f"worker-{len(started)}", **env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop(timeout=10)


def settle(seconds: float = 2.0) -> None:
    """Give a duplicate the time it would need to show up."""
    time.sleep(seconds)


def sent(notification_id: uuid.UUID, channel: str) -> Delivery | None:
    return Delivery.objects.filter(notification_id=notification_id, channel=channel, status=STATUS_SENT).first()


def test_a_webhook_receiver_failing_twice_gets_one_delivery_after_the_workers_retries(receiver, start_worker):
    start_worker()
    ada = UserFactory(email="ada@example.com", display_name="Ada")
    receiver.answer(500, 500)

    notification_id = notification_service.send_notification(
        type="announcement", user_ids=[ada.id], context=HELLO, channels=["webhook"]
    )

    delivery = wait_for(lambda: sent(notification_id, "webhook"), timeout=60, what="the webhook delivery")
    settle()
    assert delivery.attempts == 3
    assert delivery.last_error == "WebhookError: the receiver answered HTTP 500: receiver says no"
    requests = receiver.requests()
    assert [r.status for r in requests] == [500, 500, 200]
    assert all(r.verified for r in requests)
    [accepted] = receiver.accepted()
    assert accepted.delivery_id == str(delivery.id)
    assert accepted.json["user_id"] == str(ada.id)
    assert accepted.json["subject"] == "Maintenance tonight"


def test_a_mail_server_that_says_later_twice_gets_the_mail_once_through_smtp(smtp, start_worker):
    start_worker()
    ada = UserFactory(email="ada@example.com", display_name="Ada")
    smtp.subject, smtp.refusals = HELLO["subject"], 2

    notification_id = notification_service.send_notification(
        type="announcement", user_ids=[ada.id], context=HELLO, channels=["email"]
    )

    delivery = wait_for(lambda: sent(notification_id, "email"), timeout=60, what="the mail delivery")
    settle()
    assert (delivery.attempts, smtp.refused) == (3, 2)
    assert delivery.last_error.startswith("SMTPDataError: (451")
    [(recipients, message)] = smtp.messages(HELLO["subject"])
    assert recipients == ["ada@example.com"]
    assert message["Subject"] == "Maintenance tonight"
    assert message["X-Gatehouse-Notification"] == str(notification_id)
    assert "Down from 22:00 to 23:00." in message.get_body(preferencelist=("plain",)).get_content()


def test_a_worker_killed_while_posting_a_webhook_loses_nothing_and_the_delivery_is_sent_once(receiver, start_worker):
    first = start_worker(webhook_timeout=60.0)  # it would wait for the receiver for a minute
    ada = UserFactory(email="ada@example.com", display_name="Ada")
    receiver.answer(None)  # the first request is held open: the delivery is in flight

    notification_id = notification_service.send_notification(
        type="announcement", user_ids=[ada.id], context=HELLO, channels=["webhook"]
    )
    assert receiver.holding.wait(30), "the worker never posted the webhook"
    delivery = Delivery.objects.get(notification_id=notification_id, channel="webhook")
    assert delivery.status == STATUS_PENDING

    first.kill()  # SIGKILL to the worker's process group, mid-request
    receiver.release()
    start_worker()

    delivery = wait_for(lambda: sent(notification_id, "webhook"), timeout=60, what="the delivery after the restart")
    settle()
    requests = receiver.requests()
    # Posted twice (at least once: the first post got no answer), accepted once: the receiver
    # dedupes on X-Gatehouse-Delivery, and Gatehouse records the delivery sent once.
    assert [r.delivery_id for r in requests] == [str(delivery.id)] * 2
    assert all(r.verified for r in requests)
    assert len(receiver.accepted()) == 1
    assert Delivery.objects.filter(notification_id=notification_id).count() == 1
    assert delivery.sent_at is not None


def test_a_delivery_whose_task_was_lost_with_the_worker_is_sent_once_by_the_sweeper(
    broker, receiver, start_worker, settings
):
    first = start_worker(webhook_timeout=60.0)
    ada = UserFactory(email="ada@example.com", display_name="Ada")
    receiver.answer(None)
    notification_id = notification_service.send_notification(
        type="announcement", user_ids=[ada.id], context=HELLO, channels=["webhook"]
    )
    assert receiver.holding.wait(30), "the worker never posted the webhook"

    first.kill()
    receiver.release()
    # The broker lost the task too (a broker restarted without its disk, an operator's purge).
    with Connection(settings.CELERY_BROKER_URL) as connection:
        wait_for(lambda: broker.consumer_count(broker.task_queue) == 0, what="the dead worker's channel to close")
        connection.default_channel.queue_purge(broker.task_queue)
    start_worker()
    settle()
    delivery = Delivery.objects.get(notification_id=notification_id, channel="webhook")
    assert (delivery.status, len(receiver.requests())) == (STATUS_PENDING, 1)  # nothing will send it

    # What beat's notifications.sweep_deliveries does (with the age cut to nothing). It may also
    # queue the welcome message of ada's registration, if its task was among the purged.
    assert deliveries_requeue_stale(older_than=0) >= 1

    delivery = wait_for(lambda: sent(notification_id, "webhook"), timeout=60, what="the swept delivery")
    settle()
    assert [r.delivery_id for r in receiver.requests()] == [str(delivery.id)] * 2
    assert len(receiver.accepted()) == 1
    wait_for(lambda: not Delivery.objects.filter(status=STATUS_PENDING).exists(), what="nothing left pending")
    assert deliveries_requeue_stale(older_than=0) == 0  # a sent delivery is never swept again
