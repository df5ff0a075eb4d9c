"""No network call under a lock (issue 18 item 7): a delivery is claimed, sent with no
transaction open, then recorded, and a claim left by an attempt that stalled or died is taken
over. Embedded tasks; the database is SQLite embedded and PostgreSQL in stack mode."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections
from django.utils import timezone

from notifications.core.delivery import delivery_attempt, stale_after
from notifications.interface import STATUS_PENDING, STATUS_SENT, notification_service
from notifications.models import Delivery
from notifications.tasks import deliver

from .mail_backends import HeldBackend, RowWritingBackend, write_delivery_row_from_another_connection
from .webhook_receiver import SECRET, Receiver, ReceiverServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("embedded")]

HELLO = {"subject": "Maintenance tonight", "body": "Down from 22:00 to 23:00."}


def announce(user, channel: str) -> Delivery:
    notification_id = notification_service.send_notification(
        type="announcement", user_ids=[user.id], context=HELLO, channels=[channel]
    )
    return Delivery.objects.get(notification_id=notification_id, channel=channel)


def in_a_thread(target) -> threading.Thread:
    """Run `target` as another worker would: its own thread, its own database connection."""

    def run():
        try:
            target()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.fixture
def held_mail(settings):
    settings.EMAIL_BACKEND = "tests.notifications.mail_backends.HeldBackend"
    HeldBackend.reset()
    yield HeldBackend
    HeldBackend.released.set()


def test_a_mail_is_sent_with_no_transaction_open_while_another_connection_writes_its_row(ada, settings):
    settings.EMAIL_BACKEND = "tests.notifications.mail_backends.RowWritingBackend"
    RowWritingBackend.seen = []

    delivery = announce(ada, "email")

    # Inside the mail server's conversation: no atomic block in the sending thread, and another
    # connection wrote the delivery's row at once (a lock held would have made it wait and fail).
    assert RowWritingBackend.seen == [(False, 1)]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.claim_id) == (STATUS_SENT, 1, None)
    assert len(mail.outbox) == 1


def test_a_webhook_is_posted_with_no_lock_on_its_row_and_the_claim_shows_it_in_flight(ada, settings):
    with ReceiverServer(Receiver()) as receiver:
        settings.NOTIFICATIONS_WEBHOOK_URL = receiver.url
        settings.NOTIFICATIONS_WEBHOOK_SECRET = SECRET
        settings.NOTIFICATIONS_WEBHOOK_TIMEOUT = 60.0  # the request stays out until released
        receiver.answer(None)  # the first request is held open until released, then dropped
        worker = in_a_thread(lambda: announce(ada, "webhook"))
        assert receiver.holding.wait(30), "the webhook was never posted"
        [request] = receiver.requests()

        delivery = Delivery.objects.get(id=request.delivery_id)
        written = write_delivery_row_from_another_connection(delivery.notification_id, "webhook")
        receiver.release()
        worker.join(30)

    assert written == 1, written
    assert delivery.status == STATUS_PENDING and delivery.claim_id is not None  # in flight, committed
    assert delivery.claimed_by  # the task that sends it
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.claim_id) == (STATUS_SENT, 2, None)
    assert len(receiver.accepted()) == 1


def test_a_live_claim_is_left_to_its_attempt_and_an_expired_one_is_taken_over(ada, held_mail):
    worker = in_a_thread(lambda: announce(ada, "email"))  # its mail server hangs
    assert held_mail.holding.wait(30), "the mail was never sent"
    delivery = Delivery.objects.get(channel="email", user_id=ada.id, notification__type="announcement")
    first_claim = delivery.claim_id

    # Another task (a sweep, an admin's retry) while the claim is live: nothing is sent twice.
    assert deliver.apply(args=[str(delivery.id)]).result == STATUS_PENDING
    assert held_mail.calls == 1

    # The stalled attempt has not touched the row for longer than the lease: its claim expired.
    Delivery.objects.filter(id=delivery.id).update(updated_at=timezone.now() - stale_after() - timedelta(seconds=1))
    assert deliver.apply(args=[str(delivery.id)]).result == STATUS_SENT
    assert held_mail.calls == 2 and len(mail.outbox) == 1

    held_mail.released.set()  # the stalled attempt's send now fails...
    worker.join(30)

    delivery.refresh_from_db()  # ...and its outcome is dropped: the claim is no longer its own
    assert (delivery.status, delivery.attempts, delivery.last_error) == (STATUS_SENT, 1, "")
    assert delivery.claim_id is None and delivery.claim_id != first_claim
    assert len(mail.outbox) == 1


def test_the_same_task_redelivered_after_its_worker_died_takes_its_claim_over_at_once(ada, held_mail):
    worker = in_a_thread(lambda: announce(ada, "email"))
    assert held_mail.holding.wait(30), "the mail was never sent"
    delivery = Delivery.objects.get(channel="email", user_id=ada.id, notification__type="announcement")

    # The broker hands the unacknowledged task, with its id, to another worker: the claim is live,
    # but it is this task's own, so the worker that held it is gone. (What `deliver` runs, called
    # directly: two runs of one task id in one process would mix up Celery's per-task state.)
    assert delivery_attempt(delivery_id=delivery.id, owner=delivery.claimed_by) == STATUS_SENT
    held_mail.released.set()
    worker.join(30)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.claim_id) == (STATUS_SENT, 1, None)
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]
