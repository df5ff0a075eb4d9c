"""notification_service.send_notification: what it records, what it refuses, how it renders (embedded mode)."""

from __future__ import annotations

import uuid

import pytest
from django.core import mail

from notifications.interface import (
    NOTIFICATION_REQUESTED,
    STATUS_SENT,
    STATUS_SKIPPED,
    IdempotencyKeyReused,
    InvalidNotification,
    NotificationNotFound,
    UnknownNotificationType,
    notification_service,
)
from notifications.models import Delivery, InAppMessage, Notification
from project.events.models import OutboxEvent
from project.kernel.context import request_id_scope
from users.interface import user_service

from .conftest import make_user, one_time_token, send_as_gatehouse

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("embedded")]

HELLO = {"subject": "Maintenance tonight", "body": "The service is down from 22:00 to 23:00."}


def announce(user_ids, **kwargs) -> uuid.UUID:
    return notification_service.send_notification(type="announcement", user_ids=user_ids, context=HELLO, **kwargs)


def announcements_requested() -> int:
    return OutboxEvent.objects.filter(type=NOTIFICATION_REQUESTED, payload__type="announcement").count()


def nothing_recorded() -> bool:
    return not Notification.objects.filter(type="announcement").exists() and not mail.outbox


def test_an_announcement_goes_in_app_and_by_email_to_every_recipient(ada, grace):
    with request_id_scope("req-announce-0001"):
        notification_id = announce([ada.id, grace.id])

    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "grace@example.com"]
    assert {m.subject for m in mail.outbox} == {"Maintenance tonight"}
    assert {m.body.strip() for m in mail.outbox} == {HELLO["body"]}
    assert sorted(m.user_id for m in InAppMessage.objects.filter(notification_id=notification_id)) == sorted(
        [ada.id, grace.id]
    )
    deliveries = notification_service.get_deliveries(notification_id=notification_id)
    assert len(deliveries) == 4
    assert {(d.user_id, d.channel) for d in deliveries} == {
        (user, channel) for user in (ada.id, grace.id) for channel in ("email", "in_app")
    }
    assert {(d.status, d.attempts, d.last_error) for d in deliveries} == {(STATUS_SENT, 1, "")}
    assert all(d.sent_at and d.updated_at for d in deliveries)
    assert Notification.objects.get(id=notification_id).request_id == "req-announce-0001"


def test_sending_records_the_notification_requested_event(ada):
    notification_id = announce([ada.id, ada.id], channels=["in_app"])

    event = OutboxEvent.objects.get(type=NOTIFICATION_REQUESTED, payload__notification_id=str(notification_id))
    assert event.producer == "notifications"
    assert event.payload == {
        "notification_id": str(notification_id),
        "type": "announcement",
        "user_ids": [str(ada.id)],
        "channels": ["in_app"],
    }
    assert not mail.outbox  # in-app only, and the duplicate recipient counted once


def test_the_same_idempotency_key_returns_the_same_id_and_sends_once(ada):
    first = announce([ada.id], idempotency_key="announce-2026-11-25")
    second = announce([ada.id], idempotency_key="announce-2026-11-25")

    assert first == second
    assert len(mail.outbox) == 1
    assert InAppMessage.objects.filter(user_id=ada.id).count() == 1
    assert Notification.objects.filter(type="announcement").count() == 1
    assert announcements_requested() == 1


def test_reusing_an_idempotency_key_for_a_different_notification_is_refused(ada, grace):
    announce([ada.id], idempotency_key="key-1")
    mail.outbox.clear()

    with pytest.raises(IdempotencyKeyReused) as error:
        announce([grace.id], idempotency_key="key-1")

    assert error.value.code == "idempotency_key_reused"
    assert error.value.kind == "conflict"
    assert not mail.outbox
    assert Notification.objects.filter(type="announcement").count() == 1


def test_an_unknown_type_is_refused_and_nothing_is_recorded(ada):
    with pytest.raises(UnknownNotificationType) as error:
        notification_service.send_notification(type="birthday", user_ids=[ada.id], context={})

    assert error.value.code == "unknown_notification_type"
    assert error.value.kind == "invalid_argument"
    assert "type" in error.value.details
    assert not Notification.objects.filter(type="birthday").exists()
    assert announcements_requested() == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"context": {**HELLO, "is_admin": "yes"}}, "context", id="a-key-the-type-does-not-declare"),
        pytest.param({"context": {"subject": "Hi"}}, "context", id="a-required-key-missing"),
        pytest.param({"context": {**HELLO, "body": 42}}, "context", id="a-value-that-is-not-a-string"),
        pytest.param({"context": {**HELLO, "subject": "x" * 201}}, "context", id="a-value-too-long"),
        pytest.param({"context": ["not", "an", "object"]}, "context", id="a-context-that-is-not-an-object"),
        pytest.param({"channels": ["webhook"]}, "channels", id="the-webhook-channel-while-it-is-not-configured"),
        pytest.param({"channels": ["carrier_pigeon"]}, "channels", id="an-unknown-channel"),
        pytest.param({"channels": []}, "channels", id="no-channel"),
        pytest.param({"user_ids": []}, "user_ids", id="no-recipient"),
        pytest.param({"user_ids": ["not-a-uuid"]}, "user_ids", id="a-recipient-that-is-not-a-uuid"),
        pytest.param({"idempotency_key": ""}, "idempotency_key", id="an-empty-idempotency-key"),
        pytest.param({"idempotency_key": "k" * 256}, "idempotency_key", id="an-idempotency-key-too-long"),
    ],
)
def test_a_notification_the_type_does_not_accept_is_refused_and_nothing_is_recorded(ada, kwargs, field):
    request = {"type": "announcement", "user_ids": [ada.id], "context": HELLO, **kwargs}

    with pytest.raises(InvalidNotification) as error:
        notification_service.send_notification(**request)

    assert error.value.kind == "invalid_argument"
    assert list(error.value.details) == [field]
    assert nothing_recorded()


def test_an_unknown_context_key_is_named_in_the_details(ada):
    with pytest.raises(InvalidNotification) as error:
        notification_service.send_notification(type="announcement", user_ids=[ada.id], context={**HELLO, "footer": "x"})

    assert error.value.details == {"context": {"footer": ["Not a field of this notification type."]}}


def test_a_message_carrying_a_token_cannot_be_sent_in_app(ada):
    _, sealed = one_time_token(ada.id)
    before = Notification.objects.count()

    with pytest.raises(InvalidNotification):
        send_as_gatehouse(
            type="email_verification", user_ids=[ada.id], context={"sealed_token": sealed}, channels=["in_app"]
        )

    assert Notification.objects.count() == before


def test_the_html_part_escapes_the_context_and_the_text_part_keeps_it_as_written(ada):
    body = 'Read <script>alert("x")</script> & <a href="https://evil.example">this</a>'

    announce_id = notification_service.send_notification(
        type="announcement", user_ids=[ada.id], context={"subject": "Tom & Jerry <b>", "body": body}
    )

    [message] = mail.outbox
    [(html, _)] = message.alternatives
    assert "<script>" not in html and '<a href="https://evil.example">' not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;a href=" in html
    assert "Tom &amp; Jerry &lt;b&gt;" in html
    assert message.body.strip() == body
    assert message.subject == "Tom & Jerry <b>"
    assert InAppMessage.objects.get(notification_id=announce_id).body.strip() == body


def test_a_newline_in_the_subject_cannot_add_a_mail_header(ada):
    notification_service.send_notification(
        type="announcement", user_ids=[ada.id], context={"subject": "Hi\r\nBcc: all@example.com", "body": "b"}
    )

    [message] = mail.outbox
    assert message.subject == "Hi Bcc: all@example.com"
    headers = message.message()
    assert headers["Subject"] == "Hi Bcc: all@example.com"
    assert headers["Bcc"] is None and message.bcc == []


def test_an_unknown_recipient_is_skipped(ada):
    nobody = uuid.uuid4()

    notification_id = announce([ada.id, nobody], channels=["email"])

    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    statuses = {d.user_id: d for d in notification_service.get_deliveries(notification_id=notification_id)}
    assert statuses[nobody].status == STATUS_SKIPPED
    assert statuses[nobody].attempts == 0
    assert statuses[nobody].last_error == "The user does not exist."


def test_an_inactive_user_gets_security_notices_but_not_announcements(embedded):
    gone = make_user("gone@example.com")
    user_service.deactivate_user(user_id=gone.id)

    announcement = announce([gone.id], channels=["email"])
    notice = send_as_gatehouse(type="password_changed", user_ids=[gone.id], context={}, channels=["email"])

    [skipped] = notification_service.get_deliveries(notification_id=announcement)
    [sent] = notification_service.get_deliveries(notification_id=notice)
    assert (skipped.status, sent.status) == (STATUS_SKIPPED, STATUS_SENT)
    assert [m.subject for m in mail.outbox] == ["Your password was changed"]


def test_the_deliveries_of_an_unknown_notification_are_not_found():
    with pytest.raises(NotificationNotFound) as error:
        notification_service.get_deliveries(notification_id=uuid.uuid4())

    assert error.value.kind == "not_found"


def test_the_types_are_listed_with_their_channels_and_context():
    types = {t.code: t for t in notification_service.list_types()}

    assert list(types) == sorted(types)
    assert set(types) >= {
        "announcement",
        "email_verification",
        "password_changed",
        "password_reset",
        "refresh_token_reused",
    }
    announcement = types["announcement"]
    assert announcement.mandatory is False
    assert announcement.default_channels == ("in_app", "email")
    assert announcement.context_fields == ("subject", "body")
    assert announcement.required_context_fields == ("subject", "body")
    assert all(types[code].mandatory for code in types if code not in {"announcement", "welcome", "role_assigned"})
    assert not types["welcome"].mandatory and types["welcome"].default_channels == ("in_app",)
    assert types["role_assigned"].required_context_fields == ("role",)
    assert types["email_verification"].channels == ("email",)
    assert types["password_changed"].default_channels == ("email", "in_app")


def test_a_delivery_recorded_before_the_commit_goes_out_only_after_it(ada):
    from django.db import transaction

    from notifications.core.sending import notification_create

    with transaction.atomic():
        notification = notification_create(type="announcement", user_ids=[ada.id], context=HELLO)
        assert not mail.outbox
        assert Delivery.objects.get(notification=notification, channel="email").status == "pending"

    assert len(mail.outbox) == 1


def test_a_rolled_back_send_leaves_nothing_and_sends_nothing(ada):
    from django.db import transaction

    from notifications.core.sending import notification_create

    with pytest.raises(RuntimeError), transaction.atomic():
        notification_create(type="announcement", user_ids=[ada.id], context=HELLO)
        raise RuntimeError("the caller's change fails")

    assert nothing_recorded()
    assert announcements_requested() == 0
