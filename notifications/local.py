"""The in-process implementation of NotificationService."""

from __future__ import annotations

import uuid
from typing import Any

from notifications.core import inbox, selectors, sending
from notifications.core.preferences import set_preferences
from notifications.core.types import list_types, type_get
from notifications.interface import (
    DEFAULT_PAGE_SIZE,
    Delivery,
    InboxMessage,
    InboxPage,
    NotificationType,
    Preference,
    ReservedNotificationType,
)
from notifications.models import Delivery as DeliveryModel
from notifications.models import InAppMessage


def to_data(delivery: DeliveryModel) -> Delivery:
    return Delivery(
        id=delivery.id,
        notification_id=delivery.notification_id,
        user_id=delivery.user_id,
        channel=delivery.channel,
        status=delivery.status,
        attempts=delivery.attempts,
        last_error=delivery.last_error,
        sent_at=delivery.sent_at,
        updated_at=delivery.updated_at,
    )


def message_data(message: InAppMessage) -> InboxMessage:
    return InboxMessage(
        id=message.id,
        notification_id=message.notification_id,
        type=message.notification.type,
        subject=message.subject,
        body=message.body,
        created_at=message.created_at,
        read_at=message.read_at,
    )


class LocalNotificationService:
    def send_notification(
        self,
        *,
        type: str,
        context: dict[str, Any],
        user_ids: list[uuid.UUID] | None = None,
        group_id: uuid.UUID | None = None,
        role: str | None = None,
        scope: str | None = None,
        channels: list[str] | None = None,
        idempotency_key: str | None = None,
        org_id: uuid.UUID | None = None,
        org_role: str | None = None,
    ) -> uuid.UUID:
        # The front door for callers (the API, gRPC SendNotification); Gatehouse's own events send their
        # types through the core services directly.
        if type_get(code=type).reserved:
            raise ReservedNotificationType(details={"type": [f"{type!r} is sent by Gatehouse itself."]})
        notification = sending.send_notification(
            type=type,
            context=context,
            user_ids=user_ids,
            group_id=group_id,
            role=role,
            scope=scope,
            channels=channels,
            idempotency_key=idempotency_key,
            org_id=org_id,
            org_role=org_role,
        )
        return notification.id

    def get_deliveries(self, *, notification_id: uuid.UUID) -> list[Delivery]:
        return [to_data(delivery) for delivery in selectors.get_deliveries(notification_id=notification_id)]

    def list_types(self) -> list[NotificationType]:
        return [definition.public() for definition in list_types()]

    def list_inbox(
        self,
        *,
        user_id: uuid.UUID,
        unread_only: bool = False,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> InboxPage:
        messages, next_cursor = selectors.list_inbox(
            user_id=user_id, unread_only=unread_only, limit=limit, cursor=cursor
        )
        return InboxPage(results=tuple(message_data(message) for message in messages), next=next_cursor)

    def count_unread(self, *, user_id: uuid.UUID) -> int:
        return selectors.count_unread(user_id=user_id)

    def mark_read(self, *, user_id: uuid.UUID, message_id: uuid.UUID) -> None:
        inbox.mark_read(user_id=user_id, message_id=message_id)

    def mark_all_read(self, *, user_id: uuid.UUID) -> int:
        return inbox.mark_all_read(user_id=user_id)

    def get_preferences(self, *, user_id: uuid.UUID) -> list[Preference]:
        return selectors.get_preferences(user_id=user_id)

    def set_preferences(self, *, user_id: uuid.UUID, preferences: list[Preference]) -> list[Preference]:
        set_preferences(user_id=user_id, preferences=preferences)
        return selectors.get_preferences(user_id=user_id)
