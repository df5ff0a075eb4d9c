"""Reads of the users core service."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import Q

from project.kernel.cursors import decode_keyset_cursor, encode_keyset_cursor
from users.interface import MAX_PAGE_SIZE, InvalidUserInput, UserNotFound
from users.models import User


def get_user(*, user_id: uuid.UUID) -> User:
    try:
        return User.objects.get(id=user_id)
    except User.DoesNotExist:
        raise UserNotFound() from None


def get_user_by_email(*, email: str) -> User:
    try:
        return User.objects.get(email=email.strip().lower())
    except User.DoesNotExist:
        raise UserNotFound() from None


def get_users(*, user_ids: list[uuid.UUID]) -> list[User]:
    found = User.objects.in_bulk(user_ids)
    return [found[user_id] for user_id in user_ids if user_id in found]


def _encode_cursor(user: User) -> str:
    return encode_keyset_cursor(user.date_joined, user.id)


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        return decode_keyset_cursor(cursor)
    except ValueError:
        raise InvalidUserInput("The cursor is not valid.", details={"cursor": ["Invalid cursor."]}) from None


def list_users(
    *, search: str | None, is_active: bool | None, limit: int, cursor: str | None
) -> tuple[list[User], str | None]:
    """A keyset page, newest first: constant cost however deep the page."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidUserInput(
            f"limit must be between 1 and {MAX_PAGE_SIZE}.", details={"limit": [f"Must be 1..{MAX_PAGE_SIZE}."]}
        )
    users = User.objects.all()
    if search:
        users = users.filter(Q(email__icontains=search) | Q(display_name__icontains=search))
    if is_active is not None:
        users = users.filter(is_active=is_active)
    if cursor:
        joined, user_id = _decode_cursor(cursor)
        users = users.filter(Q(date_joined__lt=joined) | Q(date_joined=joined, id__lt=user_id))
    page = list(users.order_by("-date_joined", "-id")[: limit + 1])
    next_cursor = _encode_cursor(page[limit - 1]) if len(page) > limit else None
    return page[:limit], next_cursor
