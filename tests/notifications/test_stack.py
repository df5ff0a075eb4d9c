"""Auth events to mails through the real stack: PostgreSQL, RabbitMQ, a `celery worker` process
hosting the notifications consumer and its delivery tasks, and an SMTP server (stack mode only)."""

from __future__ import annotations

import email
import email.policy
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction

from auth.interface import EMAIL_VERIFICATION_REQUESTED, PASSWORD_RESET_REQUESTED
from notifications.handlers import CONSUMER
from notifications.models import Delivery
from project.events.outbox import outbox_record
from project.events.topology import queue_name
from project.kernel.events import Envelope
from tests.support.broker import wait_for
from tests.support.factories import UserFactory
from tests.support.processes import Process, free_port, subprocess_env

from .conftest import FRONTEND, one_time_token

pytestmark = pytest.mark.stack


class Sink:
    """An SMTP server's handler that keeps every message it is given."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def messages(self):
        with self.lock:
            return list(self.received)


@pytest.fixture
def smtp():
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    sink.port = controller.port
    yield sink
    controller.stop()


@pytest.fixture
def worker(broker, smtp, tmp_path: Path):
    """A `celery worker` hosting the notifications consumer and running the delivery tasks it
    queues, mailing through the SMTP sink."""
    args = [
        *(sys.executable, "-m", "celery", "-A", "project", "worker", "-l", "info", "-P", "solo"),
        *("-Q", broker.task_queue, "-n", f"{broker.namespace}-notifications@%h", "--without-mingle"),
        "--without-gossip",
    ]
    env = subprocess_env(
        DJANGO_SETTINGS_MODULE="tests.notifications.worker_settings",
        GATEHOUSE_TEST_TASK_QUEUE=broker.task_queue,
        GATEHOUSE_EVENTS_EXCHANGE=broker.exchange_name,
        GATEHOUSE_EVENT_CONSUMERS=CONSUMER,
        GATEHOUSE_FRONTEND_URL=FRONTEND,
        EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
        CELERY_SKIP_CHECKS="1",
    )
    process = Process("notifications-worker", args, env=env, log_dir=tmp_path)
    try:
        process.wait_until(
            lambda: broker.consumer_count(queue_name(CONSUMER)) >= 1 and broker.consumer_count(broker.task_queue) >= 1,
            timeout=30,
            what="consuming",
        )
        yield process
    finally:
        process.stop(timeout=10)


def token_in(message: email.message.EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    [link] = [word for word in text.split() if word.startswith(FRONTEND)]
    [token] = parse_qs(urlsplit(link).query)["token"]
    return link, token


def settle(seconds: float = 1.5) -> None:
    """Give a duplicate the time it would need to show up."""
    time.sleep(seconds)


def test_an_auth_event_recorded_through_the_outbox_ends_as_exactly_one_mail_with_the_token_link(smtp, worker):
    ada = UserFactory(email="ada@example.com", display_name="Ada")
    token, sealed = one_time_token(ada.id)

    with transaction.atomic():
        event = outbox_record(
            type=EMAIL_VERIFICATION_REQUESTED, producer="auth", payload={"user_id": str(ada.id), "sealed_token": sealed}
        )

    wait_for(smtp.messages, timeout=30, what="the verification mail")
    settle()
    [(recipients, message)] = smtp.messages()
    assert recipients == ["ada@example.com"]
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Confirm your email address"
    link, found = token_in(message)
    assert link.startswith(f"{FRONTEND}/verify-email?token=")
    assert found == token
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f'href="{link}"' in html
    delivery = wait_for(
        lambda: Delivery.objects.filter(notification__idempotency_key=f"event:{event.id}", status="sent").first(),
        what="the delivery to be marked sent",
    )
    assert delivery.attempts == 1


def test_an_event_the_broker_delivers_twice_sends_one_mail(broker, smtp, worker):
    ada = UserFactory(email="ada@example.com", display_name="Ada")
    token, sealed = one_time_token(ada.id)
    twice = Envelope(
        type=PASSWORD_RESET_REQUESTED,
        producer="auth",
        payload={"user_id": str(ada.id), "sealed_token": sealed, "ip": "203.0.113.9"},
    )

    broker.publish(twice, routing_key=twice.type)
    broker.publish(twice, routing_key=twice.type)

    wait_for(smtp.messages, timeout=30, what="the reset mail")
    settle()
    [(recipients, message)] = smtp.messages()
    assert recipients == ["ada@example.com"]
    assert token_in(message)[1] == token
