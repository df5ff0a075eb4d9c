"""Fan-out in batches, the unread count without its cache, odd inbox input (embedded mode)."""

from __future__ import annotations

import uuid

import pytest
from django.test import override_settings

from notifications.core.delivery import DELIVERY_BATCH_SIZE
from notifications.interface import STATUS_SENT, STATUS_SKIPPED, NotificationNotFound, notification_service
from notifications.models import Delivery
from notifications.tasks import DELIVER_BATCH_TASK, DELIVER_TASK
from project.celery import app as celery_app

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("embedded")]

HELLO = {"subject": "Maintenance tonight", "body": "Down from 22:00 to 23:00."}


@pytest.fixture
def queued(monkeypatch):
    """The delivery tasks queued, with their arguments (they still run)."""
    calls: list[tuple[str, list]] = []
    for name in (DELIVER_TASK, DELIVER_BATCH_TASK):
        task = celery_app.tasks[name]
        original = task.apply_async

        def record(args=None, kwargs=None, _name=name, _original=original, **options):
            calls.append((_name, args))
            return _original(args=args, kwargs=kwargs, **options)

        monkeypatch.setattr(task, "apply_async", record)
    return calls


def test_deliveries_are_queued_one_task_per_batch_not_per_delivery(ada, grace, queued):
    unknown = [uuid.uuid4() for _ in range(2 * DELIVERY_BATCH_SIZE + 48)]

    notification_id = notification_service.send_notification(
        type="announcement", user_ids=[ada.id, *unknown, grace.id], context=HELLO, channels=["in_app"]
    )

    assert [(name, len(args[0])) for name, args in queued] == [
        (DELIVER_BATCH_TASK, DELIVERY_BATCH_SIZE),
        (DELIVER_BATCH_TASK, DELIVERY_BATCH_SIZE),
        (DELIVER_BATCH_TASK, 50),
    ]
    statuses = dict(Delivery.objects.filter(notification_id=notification_id).values_list("user_id", "status"))
    assert statuses.pop(ada.id) == statuses.pop(grace.id) == STATUS_SENT
    assert set(statuses.values()) == {STATUS_SKIPPED}  # unknown users, found out in the batch's one lookup


def test_a_single_delivery_is_queued_as_its_own_task(ada, queued):
    notification_service.send_notification(type="announcement", user_ids=[ada.id], context=HELLO, channels=["in_app"])
    assert [name for name, _ in queued] == [DELIVER_TASK]


def test_the_unread_count_comes_from_the_database_while_the_cache_is_unreachable(ada):
    notification_service.send_notification(type="announcement", user_ids=[ada.id], context=HELLO, channels=["in_app"])
    broken = {"default": {"BACKEND": "tests.notifications.broken_cache.UnreachableCache"}}

    with override_settings(CACHES=broken):
        assert notification_service.count_unread(user_id=ada.id) == 1
        notification_service.mark_all_read(user_id=ada.id)  # its invalidation fails, and is logged
        assert notification_service.count_unread(user_id=ada.id) == 0


def test_marking_something_that_is_not_a_message_id_read_is_not_found(ada):
    with pytest.raises(NotificationNotFound):
        notification_service.mark_read(user_id=ada.id, message_id="not-a-uuid")
