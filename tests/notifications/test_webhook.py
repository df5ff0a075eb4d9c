"""The webhook channel against a real HTTP receiver on a local port (embedded mode: the task and
its retries run in-process, without the delays): signed POSTs, retries on 5xx, 408, 429, timeouts
and refused connections, a permanent failure on any other answer."""

from __future__ import annotations

import json
import time

import pytest
from django.db import transaction

from notifications.core.sending import notification_create
from notifications.interface import STATUS_FAILED, STATUS_SENT, InvalidNotification, notification_service
from notifications.models import Delivery, Notification
from notifications.tasks import MAX_RETRIES
from tests.support.processes import free_port

from .webhook_receiver import SECRET, Receiver, ReceiverServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("embedded")]

HELLO = {"subject": "Maintenance tonight", "body": "Down from 22:00 to 23:00 <b>UTC</b>."}


@pytest.fixture
def receiver(settings):
    with ReceiverServer(Receiver()) as receiver:
        settings.NOTIFICATIONS_WEBHOOK_URL = receiver.url
        settings.NOTIFICATIONS_WEBHOOK_SECRET = SECRET
        settings.NOTIFICATIONS_WEBHOOK_TIMEOUT = 2.0
        yield receiver


def announce(user, **kwargs) -> Delivery:
    notification_id = notification_service.send_notification(
        type="announcement", user_ids=[user.id], context=HELLO, channels=["webhook"], **kwargs
    )
    return Delivery.objects.get(notification_id=notification_id, channel="webhook")


def test_a_receiver_that_fails_twice_then_accepts_gets_one_delivery_with_the_retries_recorded(ada, receiver):
    receiver.answer(500, 500)
    before = int(time.time())

    delivery = announce(ada)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (STATUS_SENT, 3)
    assert delivery.last_error == "WebhookError: the receiver answered HTTP 500: receiver says no"
    assert delivery.sent_at is not None
    requests = receiver.requests()
    assert [r.status for r in requests] == [500, 500, 200]
    assert all(r.verified for r in requests)  # the receiver checked every signature
    assert {r.delivery_id for r in requests} == {str(delivery.id)}
    [accepted] = receiver.accepted()
    assert accepted.path == "/hooks/gatehouse"
    assert accepted.headers["Content-Type"] == "application/json"
    assert accepted.headers["X-Gatehouse-Notification-Type"] == "announcement"
    assert before <= int(accepted.headers["X-Gatehouse-Timestamp"]) <= time.time()
    notification = Notification.objects.get(id=delivery.notification_id)
    assert accepted.json == {
        "delivery_id": str(delivery.id),
        "notification_id": str(notification.id),
        "type": "announcement",
        "user_id": str(ada.id),
        "subject": "Maintenance tonight",
        "text": accepted.json["text"],
        "html": accepted.json["html"],
        "created_at": notification.created_at.isoformat(),
    }
    assert "Down from 22:00 to 23:00 <b>UTC</b>." in accepted.json["text"]
    assert "&lt;b&gt;UTC&lt;/b&gt;" in accepted.json["html"]


@pytest.mark.parametrize("status", [408, 429, 502, 503])
def test_a_receiver_that_says_later_is_retried(ada, receiver, status):
    receiver.answer(status)

    delivery = announce(ada)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (STATUS_SENT, 2)
    assert delivery.last_error.startswith(f"WebhookError: the receiver answered HTTP {status}")
    assert len(receiver.accepted()) == 1


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_a_receiver_that_refuses_fails_the_delivery_at_once(ada, receiver, status):
    receiver.answer(status)

    delivery = announce(ada)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (STATUS_FAILED, 1)
    assert delivery.last_error == f"PermanentFailure: the receiver answered HTTP {status}: receiver says no"
    assert len(receiver.requests()) == 1


def test_a_redirect_is_not_followed_and_fails_the_delivery(ada, receiver):
    receiver.answer(302)

    delivery = announce(ada)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (STATUS_FAILED, 1)
    assert delivery.last_error.startswith("PermanentFailure: the receiver answered HTTP 302")
    assert [r.path for r in receiver.requests()] == ["/hooks/gatehouse"]  # no GET to the Location


def test_a_receiver_slower_than_the_timeout_is_retried(ada, receiver, settings):
    settings.NOTIFICATIONS_WEBHOOK_TIMEOUT = 0.3
    receiver.slow(1.0)  # the first answer comes after the sender gave up; the second at once

    delivery = announce(ada)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (STATUS_SENT, 2)
    assert delivery.last_error == "WebhookError: the receiver could not be reached: TimeoutError: timed out"
    assert len(receiver.requests()) == 2


def test_a_receiver_that_is_down_is_retried_then_the_delivery_fails(ada, settings):
    settings.NOTIFICATIONS_WEBHOOK_URL = f"http://127.0.0.1:{free_port()}/hooks"  # nothing listens
    settings.NOTIFICATIONS_WEBHOOK_SECRET = SECRET

    delivery = announce(ada)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (STATUS_FAILED, MAX_RETRIES + 1)
    assert delivery.last_error == (
        "WebhookError: the receiver could not be reached: ConnectionRefusedError: [Errno 111] Connection refused"
    )


def test_the_signature_made_with_another_secret_is_refused_by_the_receiver(ada, receiver):
    receiver.secret = "not-the-shared-secret"

    delivery = announce(ada)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (STATUS_FAILED, 1)
    assert delivery.last_error.startswith("PermanentFailure: the receiver answered HTTP 401")
    assert receiver.accepted() == []


def test_the_other_channels_of_the_same_notification_do_not_wait_for_the_webhook(ada, receiver):
    receiver.answer(*[500] * (MAX_RETRIES + 1))

    notification_id = notification_service.send_notification(
        type="announcement", user_ids=[ada.id], context=HELLO, channels=["in_app", "webhook"]
    )

    statuses = {d.channel: d.status for d in Delivery.objects.filter(notification_id=notification_id)}
    assert statuses == {"in_app": STATUS_SENT, "webhook": STATUS_FAILED}


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        pytest.param("", SECRET, id="no-url"),
        pytest.param("https://hooks.example.com/gatehouse", "", id="no-secret"),
    ],
)
def test_the_webhook_channel_is_refused_while_it_is_not_configured(ada, settings, url, secret):
    settings.NOTIFICATIONS_WEBHOOK_URL = url
    settings.NOTIFICATIONS_WEBHOOK_SECRET = secret

    with pytest.raises(InvalidNotification) as error:
        announce(ada)

    assert list(error.value.details) == ["channels"]
    assert not Notification.objects.filter(type="announcement").exists()


def test_a_delivery_whose_webhook_configuration_went_away_fails_without_a_retry(ada, receiver, settings):
    with transaction.atomic():  # recorded while configured; delivered (after the commit) without
        notification = notification_create(type="announcement", user_ids=[ada.id], context=HELLO, channels=["webhook"])
        settings.NOTIFICATIONS_WEBHOOK_URL = ""

    delivery = Delivery.objects.get(notification=notification)
    assert (delivery.status, delivery.attempts) == (STATUS_FAILED, 1)
    assert delivery.last_error == (
        "PermanentFailure: the webhook channel is not configured (NOTIFICATIONS_WEBHOOK_URL and _SECRET)"
    )
    assert receiver.requests() == []


def test_the_body_is_compact_sorted_json_so_receivers_verify_the_bytes_as_sent(ada, receiver):
    announce(ada)

    [accepted] = receiver.accepted()
    assert accepted.body == json.dumps(accepted.json, separators=(",", ":"), sort_keys=True).encode()
