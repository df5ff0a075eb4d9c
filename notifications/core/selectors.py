"""Reads of the notifications core service."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import Q

from notifications.interface import MAX_PAGE_SIZE, InvalidCursor, NotificationNotFound, Preference
from notifications.models import Delivery, InAppMessage, Notification
from notifications.models import Preference as PreferenceModel
from project.kernel.cursors import decode_keyset_cursor, encode_keyset_cursor

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


def _encode_cursor(at: datetime, row_id: uuid.UUID) -> str:
    return encode_keyset_cursor(at, row_id)


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        return decode_keyset_cursor(cursor)
    except ValueError:
        raise InvalidCursor("The cursor is not valid.", details={"cursor": ["Invalid cursor."]}) from None


def list_inbox(
    *, user_id: uuid.UUID, unread_only: bool, limit: int, cursor: str | None
) -> tuple[list[InAppMessage], str | None]:
    """A page of the user's messages, newest first, keyset on (created_at, id)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidCursor(f"limit must be 1 to {MAX_PAGE_SIZE}.", details={"limit": [f"Must be 1..{MAX_PAGE_SIZE}."]})
    messages = InAppMessage.objects.filter(user_id=user_id).select_related("notification")
    if unread_only:
        messages = messages.filter(read_at__isnull=True)
    if cursor:
        at, message_id = _decode_cursor(cursor)
        messages = messages.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=message_id))
    page = list(messages.order_by("-created_at", "-id")[: limit + 1])
    next_cursor = _encode_cursor(page[limit - 1].created_at, page[limit - 1].id) if len(page) > limit else None
    return page[:limit], next_cursor


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
