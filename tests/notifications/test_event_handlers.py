"""The auth service's events become mails (embedded mode: events and tasks run in-process)."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.db import transaction

from auth.interface import (
    EMAIL_VERIFICATION_REQUESTED,
    ONE_TIME_TOKEN_SEAL,
    PASSWORD_CHANGED,
    PASSWORD_RESET_REQUESTED,
    REFRESH_TOKEN_REUSED,
)
from notifications.handlers import CONSUMER, email_verification_requested
from notifications.interface import STATUS_SENT, notification_service
from notifications.models import Delivery, InAppMessage, Notification
from project.crypto import seal, seal_for, unseal_for
from project.events.consumers import process
from project.events.models import OutboxEvent
from project.events.outbox import outbox_record
from project.kernel.events import Envelope

from .conftest import FRONTEND, one_time_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("embedded")]


def record(event_type: str, payload: dict) -> Envelope:
    """What the auth service does: record the event with its change; it is handled after commit."""
    with transaction.atomic():
        return outbox_record(type=event_type, producer="auth", payload=payload)


def notification_of(event: Envelope) -> Notification:
    return Notification.objects.get(idempotency_key=f"event:{event.id}")


def link_in(text: str) -> str:
    [link] = [word for word in text.split() if word.startswith(FRONTEND)]
    return link


def token_of(link: str) -> str:
    [token] = parse_qs(urlsplit(link).query)["token"]
    return token


def test_an_email_verification_request_sends_one_mail_whose_link_carries_the_token(ada):
    token, sealed = one_time_token(ada.id)

    event = record(EMAIL_VERIFICATION_REQUESTED, {"user_id": str(ada.id), "sealed_token": sealed})

    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == "Confirm your email address"
    link = link_in(message.body)
    assert link.startswith(f"{FRONTEND}/verify-email?token=")
    assert token_of(link) == token == unseal_for(sealed, purpose=ONE_TIME_TOKEN_SEAL, subject=str(ada.id))
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert f'href="{link}"' in html
    [delivery] = notification_service.get_deliveries(notification_id=notification_of(event).id)
    assert (delivery.channel, delivery.status, delivery.attempts) == ("email", STATUS_SENT, 1)


def test_a_password_reset_request_sends_one_mail_whose_link_carries_the_token(ada):
    token, sealed = one_time_token(ada.id)

    record(PASSWORD_RESET_REQUESTED, {"user_id": str(ada.id), "sealed_token": sealed, "ip": "203.0.113.7"})

    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == "Reset your password"
    link = link_in(message.body)
    assert link.startswith(f"{FRONTEND}/reset-password?token=")
    assert token_of(link) == token
    assert "203.0.113.7" in message.body
    [(html, _)] = message.alternatives
    assert f'href="{link}"' in html


def test_a_token_with_characters_that_need_quoting_survives_the_link(ada):
    token = "a+b/c=d&e f"
    record(
        EMAIL_VERIFICATION_REQUESTED,
        {"user_id": str(ada.id), "sealed_token": seal_for(token, purpose=ONE_TIME_TOKEN_SEAL, subject=str(ada.id))},
    )

    [message] = mail.outbox
    assert token_of(link_in(message.body)) == token


def test_a_password_change_sends_one_security_notice_by_mail_and_in_app(ada):
    event = record(PASSWORD_CHANGED, {"user_id": str(ada.id)})

    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == "Your password was changed"
    assert "other sessions were signed out" in message.body
    assert message.alternatives[0][1] == "text/html"
    [inbox] = InAppMessage.objects.filter(user_id=ada.id)
    assert inbox.subject == "Your password was changed"
    assert inbox.notification_id == notification_of(event).id
    deliveries = notification_service.get_deliveries(notification_id=notification_of(event).id)
    assert sorted((d.channel, d.status) for d in deliveries) == [("email", "sent"), ("in_app", "sent")]


def test_a_password_reset_confirmation_says_the_password_was_reset(ada):
    record(PASSWORD_CHANGED, {"user_id": str(ada.id), "via": "reset"})

    [message] = mail.outbox
    assert message.subject == "Your password was reset"


def test_a_reused_refresh_token_sends_one_security_notice(ada):
    record(
        REFRESH_TOKEN_REUSED,
        {"user_id": str(ada.id), "session_id": "7d1f4c52-27f6-4a4e-9b0e-8a1c2f0b9d11", "ip": "198.51.100.4"},
    )

    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == "Security alert: a session was signed out"
    assert "198.51.100.4" in message.body
    assert message.alternatives[0][1] == "text/html"
    assert InAppMessage.objects.filter(user_id=ada.id).count() == 1


def test_the_same_event_processed_twice_sends_one_mail(ada):
    _, sealed = one_time_token(ada.id)
    event = Envelope(
        type=EMAIL_VERIFICATION_REQUESTED, producer="auth", payload={"user_id": str(ada.id), "sealed_token": sealed}
    )

    assert process(CONSUMER, event) is True
    assert process(CONSUMER, event) is False

    assert len(mail.outbox) == 1
    assert Notification.objects.filter(idempotency_key=f"event:{event.id}").count() == 1


def test_an_event_that_gets_past_the_inbox_twice_still_sends_once(ada):
    # A replayed dead letter of an event that was in fact handled, say: the event id is the key.
    _, sealed = one_time_token(ada.id)
    event = Envelope(
        type=EMAIL_VERIFICATION_REQUESTED, producer="auth", payload={"user_id": str(ada.id), "sealed_token": sealed}
    )

    for _ in range(2):
        with transaction.atomic():
            email_verification_requested(event)

    assert len(mail.outbox) == 1
    assert Delivery.objects.filter(notification__idempotency_key=f"event:{event.id}").count() == 1


def test_the_token_stays_sealed_at_rest_and_out_of_the_logs(ada, caplog):
    token, sealed = one_time_token(ada.id)
    caplog.set_level(logging.DEBUG)

    record(PASSWORD_RESET_REQUESTED, {"user_id": str(ada.id), "sealed_token": sealed, "ip": ""})

    assert len(mail.outbox) == 1 and token in mail.outbox[0].body
    stored = [
        *(json.dumps(n.context) for n in Notification.objects.all()),
        *(json.dumps(e.payload) for e in OutboxEvent.objects.all()),
        *(f"{d.last_error}" for d in Delivery.objects.all()),
        *(f"{m.subject} {m.body}" for m in InAppMessage.objects.all()),
    ]
    assert not [row for row in stored if token in row]
    assert Notification.objects.get(type="password_reset").context == {"sealed_token": sealed}
    assert token not in caplog.text


def test_a_token_sealed_for_one_user_opens_nothing_in_another_users_message(ada, grace):
    """Issue 15 item 2: a sealed one-time token unseals only for the user it was issued to. Placed
    in someone else's notification (through the core service: the API refuses these types), it
    makes no link and no mail goes out; an unbound sealed token (as before) opens nothing either."""
    _, sealed_for_grace = one_time_token(grace.id)
    event = record(PASSWORD_RESET_REQUESTED, {"user_id": str(ada.id), "sealed_token": sealed_for_grace})
    assert mail.outbox == []
    [delivery] = notification_service.get_deliveries(notification_id=notification_of(event).id)
    assert delivery.status == "failed" and "another user" in delivery.last_error
    unbound = seal("a-token-with-no-owner", purpose=ONE_TIME_TOKEN_SEAL)
    record(EMAIL_VERIFICATION_REQUESTED, {"user_id": str(ada.id), "sealed_token": unbound})
    assert mail.outbox == []


def test_a_link_in_a_field_no_template_expects_is_defanged_not_made_clickable(ada):
    """Issue 15 item 7: a name an administrator typed ("Verify now at https://evil…") reaches the
    security mail as text a mail client does not turn into a link."""
    from auth.interface.oidc import CLIENT_AUTHORIZED

    record(
        CLIENT_AUTHORIZED,
        {
            "user_id": str(ada.id),
            "client_name": "Verify now at https://evil.example.com or www.evil.example",
            "first": True,
        },
    )
    [message] = [m for m in mail.outbox if "can now access" in m.subject]
    for part in (message.subject, message.body, message.alternatives[0][0]):
        assert "https://evil" not in part and "www.evil" not in part
    assert "https[:]//evil.example.com" in message.body and "www[.]evil.example" in message.body


def test_defanging_leaves_ordinary_text_and_email_addresses_alone():
    from notifications.core.sending import defang_links

    assert defang_links("Ada's laptop (ada@example.com) at 10:00") == "Ada's laptop (ada@example.com) at 10:00"
    assert defang_links("ftp://x and HTTP://Y") == "ftp[:]//x and HTTP[:]//Y"
