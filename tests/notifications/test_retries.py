"""Delivery failures: retries with backoff, dead letters, the admin's retry, the sweeper
(embedded mode: the task and its retries run in-process, without the delays)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from notifications.interface import STATUS_FAILED, STATUS_PENDING, STATUS_SENT, notification_service
from notifications.models import Delivery
from notifications.tasks import MAX_RETRIES, deliver, sweep_deliveries
from permissions.interface import ADMIN_ROLE
from tests.support.factories import UserFactory
from users.models import User

from .conftest import send_as_gatehouse
from .mail_backends import FlakyBackend

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("embedded")]

FLAKY = "tests.notifications.mail_backends.FlakyBackend"


@pytest.fixture
def mail_server(settings):
    """A mail server that is down (all sends fail) until the test says how many more fail."""
    settings.EMAIL_BACKEND = FLAKY
    FlakyBackend.failures = None
    FlakyBackend.calls = 0
    yield FlakyBackend
    FlakyBackend.failures = None


def notify(user) -> Delivery:
    notification_id = send_as_gatehouse(type="password_changed", user_ids=[user.id], context={})
    return Delivery.objects.get(notification_id=notification_id, channel="email")


def test_a_mail_server_that_stays_down_is_retried_then_the_delivery_fails_with_the_error(ada, mail_server):
    delivery = notify(ada)

    delivery.refresh_from_db()
    assert delivery.status == STATUS_FAILED
    assert delivery.attempts == MAX_RETRIES + 1 == mail_server.calls
    assert delivery.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
    assert delivery.sent_at is None
    assert not mail.outbox
    # The in-app copy does not depend on the mail server.
    assert Delivery.objects.get(notification_id=delivery.notification_id, channel="in_app").status == STATUS_SENT


def test_a_transient_failure_is_retried_until_the_mail_goes_out(ada, mail_server):
    mail_server.failures = 2

    delivery = notify(ada)

    delivery.refresh_from_db()
    # The last failure stays on record: the delivery says why it needed its retries.
    assert (delivery.status, delivery.attempts) == (STATUS_SENT, 3)
    assert delivery.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
    assert len(mail.outbox) == 1


def test_the_admin_retry_action_gives_a_failed_delivery_a_new_chance_and_it_is_delivered(ada, mail_server, client):
    delivery = notify(ada)
    delivery.refresh_from_db()
    assert delivery.status == STATUS_FAILED
    mail_server.failures = 0  # the mail server is back
    # The admin role: is_superuser grants nothing.
    admin = UserFactory(email="ops@example.com", password="a-long-admin-password", is_staff=True, roles=[ADMIN_ROLE])
    client.force_login(User.objects.get(id=admin.id))
    mail.outbox.clear()

    response = client.post(
        reverse("admin:notifications_delivery_changelist"), {"action": "retry", "_selected_action": [delivery.pk]}
    )

    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == STATUS_SENT
    assert delivery.attempts == MAX_RETRIES + 2
    assert delivery.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]


def test_the_admin_lists_deliveries_by_status_and_channel(ada, client):
    notify(ada)
    # The admin role: is_superuser grants nothing.
    admin = UserFactory(email="ops@example.com", password="a-long-admin-password", is_staff=True, roles=[ADMIN_ROLE])
    client.force_login(User.objects.get(id=admin.id))

    listing = client.get(reverse("admin:notifications_delivery_changelist"), {"status": "sent", "channel": "email"})
    notification = client.get(reverse("admin:notifications_notification_changelist"))
    inbox = client.get(reverse("admin:notifications_inappmessage_changelist"))

    assert listing.status_code == notification.status_code == inbox.status_code == 200
    assert b"password_changed" in listing.content


def test_a_delivery_already_sent_is_not_sent_again(ada):
    delivery = notify(ada)
    assert len(mail.outbox) == 1

    deliver.apply(args=[str(delivery.id)])

    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_a_token_that_does_not_unseal_fails_at_once_without_retries(ada, mail_server):
    notification_id = send_as_gatehouse(
        type="email_verification", user_ids=[ada.id], context={"sealed_token": "not-sealed-by-us"}
    )

    [delivery] = notification_service.get_deliveries(notification_id=notification_id)
    assert (delivery.status, delivery.attempts) == (STATUS_FAILED, 1)
    assert "does not unseal" in delivery.last_error
    assert mail_server.calls == 0


def test_the_sweeper_queues_again_a_delivery_whose_task_was_lost(ada, mail_server):
    delivery = notify(ada)  # the mail server is down: it fails...
    Delivery.objects.filter(id=delivery.id).update(  # ...and pretend its task was lost instead
        status=STATUS_PENDING, updated_at=timezone.now() - timedelta(hours=1)
    )
    fresh = Delivery.objects.get(notification_id=delivery.notification_id, channel="in_app")
    Delivery.objects.filter(id=fresh.id).update(status=STATUS_PENDING)  # pending, but recently touched
    mail_server.failures = 0

    assert sweep_deliveries.apply().get() == 1

    delivery.refresh_from_db()
    assert delivery.status == STATUS_SENT
    assert len(mail.outbox) == 1
    assert Delivery.objects.get(id=fresh.id).status == STATUS_PENDING
