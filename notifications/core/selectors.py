"""Reads of the notifications core service."""

from __future__ import annotations

import uuid

from notifications.interface import InvalidCursor, NotificationNotFound, Preference
from notifications.models import Delivery, InAppMessage, Notification
from notifications.models import Preference as PreferenceModel
from project.pagination import keyset_page

from . import unread
from .types import list_types


def notification_get(*, notification_id: uuid.UUID) -> Notification:
    try:
        return Notification.objects.get(id=notification_id)
    except (Notification.DoesNotExist, ValueError):
        raise NotificationNotFound() from None


def get_deliveries(*, notification_id: uuid.UUID) -> list[Delivery]:
    notification = notification_get(notification_id=notification_id)
    return list(notification.deliveries.order_by("user_id", "channel"))


# --- The inbox -------------------------------------------------------------------------------------


def list_inbox(
    *, user_id: uuid.UUID, unread_only: bool, limit: int, cursor: str | None
) -> tuple[list[InAppMessage], str | None]:
    """A page of the user's messages, newest first, keyset on (created_at, id)."""
    messages = InAppMessage.objects.filter(user_id=user_id).select_related("notification")
    if unread_only:
        messages = messages.filter(read_at__isnull=True)
    return keyset_page(messages, by="created_at", limit=limit, cursor=cursor, invalid=InvalidCursor)


def count_unread(*, user_id: uuid.UUID) -> int:
    return unread.cached_count(
        user_id, lambda: InAppMessage.objects.filter(user_id=user_id, read_at__isnull=True).count()
    )


# --- Preferences -----------------------------------------------------------------------------------


def preferences_off(*, type: str, user_ids: list[uuid.UUID]) -> set[tuple[uuid.UUID, str]]:
    """The (user, channel) pairs turned off for `type` among `user_ids`."""
    off: set[tuple[uuid.UUID, str]] = set()
    for start in range(0, len(user_ids), 1000):  # bounded IN lists
        off.update(
            PreferenceModel.objects.filter(
                type=type, enabled=False, user_id__in=user_ids[start : start + 1000]
            ).values_list("user_id", "channel")
        )
    return off


def get_preferences(*, user_id: uuid.UUID) -> list[Preference]:
    stored = {(row.type, row.channel): row.enabled for row in PreferenceModel.objects.filter(user_id=user_id)}
    return [
        Preference(
            type=definition.code,
            channel=channel,
            enabled=True if definition.mandatory else stored.get((definition.code, channel), True),
            mandatory=definition.mandatory,
        )
        for definition in list_types()
        for channel in sorted(definition.channels)
    ]
