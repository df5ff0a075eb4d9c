"""Auth events to mails through the real stack: PostgreSQL, RabbitMQ, a `celery worker` process
hosting the notifications consumer and its delivery tasks, and an SMTP server (stack mode only)."""

from __future__ import annotations

import email
import email.policy
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import transaction

from auth.interface import EMAIL_VERIFICATION_REQUESTED, PASSWORD_RESET_REQUESTED
from notifications.models import Delivery
from project.events.outbox import outbox_record
from project.kernel.events import Envelope
from tests.support.broker import wait_for
from tests.support.factories import UserFactory

from .conftest import FRONTEND, one_time_token

pytestmark = pytest.mark.stack


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
