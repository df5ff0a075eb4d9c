"""The in-process implementation of NotificationService."""

from __future__ import annotations

import uuid
from typing import Any

from notifications.core import selectors, services
from notifications.core.types import type_list
from notifications.interface import Delivery, NotificationType
from notifications.models import Delivery as DeliveryModel


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


class LocalNotificationService:
    def send(
        self,
        *,
        type: str,
        user_ids: list[uuid.UUID],
        context: dict[str, Any],
        channels: list[str] | None = None,
        idempotency_key: str | None = None,
    ) -> uuid.UUID:
        notification = services.notification_send(
            type=type, user_ids=user_ids, context=context, channels=channels, idempotency_key=idempotency_key
        )
        return notification.id

    def get_deliveries(self, *, notification_id: uuid.UUID) -> list[Delivery]:
        return [to_data(delivery) for delivery in selectors.delivery_list(notification_id=notification_id)]

    def list_types(self) -> list[NotificationType]:
        return [definition.public() for definition in type_list()]
