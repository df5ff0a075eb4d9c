"""The inbox: a user marks their in-app messages read."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from notifications.interface import NotificationNotFound
from notifications.models import InAppMessage

from . import unread


@transaction.atomic(durable=True)
def mark_read(*, user_id: uuid.UUID, message_id: uuid.UUID) -> None:
    try:
        message = InAppMessage.objects.filter(id=message_id, user_id=user_id).first()
    except (ValueError, ValidationError):  # not an id at all
        message = None
    if message is None:  # another user's message is as missing as one that does not exist
        raise NotificationNotFound()
    if message.read_at is None:
        InAppMessage.objects.filter(id=message.id, read_at__isnull=True).update(read_at=timezone.now())
        unread.invalidate_on_commit([user_id])


@transaction.atomic(durable=True)
def mark_all_read(*, user_id: uuid.UUID) -> int:
    count = InAppMessage.objects.filter(user_id=user_id, read_at__isnull=True).update(read_at=timezone.now())
    if count:
        unread.invalidate_on_commit([user_id])
    return count
