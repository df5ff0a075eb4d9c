"""Reads of the notifications core service."""

from __future__ import annotations

import uuid

from notifications.interface import NotificationNotFound
from notifications.models import Delivery, Notification


def notification_get(*, notification_id: uuid.UUID) -> Notification:
    try:
        return Notification.objects.get(id=notification_id)
    except (Notification.DoesNotExist, ValueError):
        raise NotificationNotFound() from None


def delivery_list(*, notification_id: uuid.UUID) -> list[Delivery]:
    notification = notification_get(notification_id=notification_id)
    return list(notification.deliveries.order_by("user_id", "channel"))
