"""The in-app channel: a message in the user's inbox, an `InAppMessage` row of this service."""

from __future__ import annotations

from collections.abc import Sequence

from notifications.interface import CHANNEL_IN_APP
from notifications.models import Delivery, InAppMessage
from users.interface import User

from .. import unread
from ..rendering import Rendered
from .base import Channel


def send_in_app(delivery: Delivery, user: User, rendered: Rendered) -> None:
    # The unique key keeps a second copy out, whatever happens.
    InAppMessage.objects.get_or_create(
        notification_id=delivery.notification_id,
        user_id=delivery.user_id,
        defaults={"subject": rendered.subject, "body": rendered.text},
    )


def send_in_app_many(items: Sequence[tuple[Delivery, User, Rendered]]) -> None:
    InAppMessage.objects.bulk_create(
        [
            InAppMessage(
                notification_id=delivery.notification_id,
                user_id=delivery.user_id,
                subject=rendered.subject,
                body=rendered.text,
            )
            for delivery, _, rendered in items
        ],
        ignore_conflicts=True,  # the unique key, as in send_in_app
    )


def invalidate_unread_counts(deliveries: Sequence[Delivery]) -> None:
    unread.invalidate_on_commit({delivery.user_id for delivery in deliveries})


CHANNEL = Channel(
    name=CHANNEL_IN_APP,
    send=send_in_app,
    local=True,
    send_many=send_in_app_many,
    after_sent=invalidate_unread_counts,
)
