"""Reads of the users core service."""

from __future__ import annotations

import uuid

from django.db.models import Q

from project.compiled import CompiledRead
from project.pagination import keyset_page
from users.interface import InvalidUserInput, UserNotFound
from users.models import User


def get_user(*, user_id: uuid.UUID) -> User:
    try:
        return User.objects.get(id=user_id)
    except User.DoesNotExist:
        raise UserNotFound() from None


# The fields of users.interface.User, and the password (for has_password), read by primary key with
# a statement compiled once (project/compiled.py): GET /users/me reads this on every call.
USER_FIELDS = (
    "id",
    "email",
    "display_name",
    "is_active",
    "is_verified",
    "is_staff",
    "is_superuser",
    "date_joined",
    "pending_email",
    "password",
)
_USER_BY_ID = CompiledRead(
    User, "id", lambda user_id: User.objects.filter(id=user_id).values_list(*USER_FIELDS), uuid.UUID(int=0)
)


def get_user_fields(*, user_id: uuid.UUID) -> dict:
    """USER_FIELDS of the user with this id, active or not, without building a model instance.
    Raises UserNotFound."""
    row = _USER_BY_ID.first(user_id)
    if row is None:
        raise UserNotFound()
    return dict(zip(USER_FIELDS, row, strict=True))


def get_user_by_email(*, email: str) -> User:
    try:
        return User.objects.get(email=email.strip().lower())
    except User.DoesNotExist:
        raise UserNotFound() from None


def get_users(*, user_ids: list[uuid.UUID]) -> list[User]:
    found = User.objects.in_bulk(user_ids)
    return [found[user_id] for user_id in user_ids if user_id in found]


def list_users(
    *, search: str | None, is_active: bool | None, limit: int, cursor: str | None
) -> tuple[list[User], str | None]:
    """A keyset page, newest first: constant cost however deep the page."""
    users = User.objects.all()
    if search:
        users = users.filter(Q(email__icontains=search) | Q(display_name__icontains=search))
    if is_active is not None:
        users = users.filter(is_active=is_active)
    return keyset_page(users, by="date_joined", limit=limit, cursor=cursor, invalid=InvalidUserInput)
