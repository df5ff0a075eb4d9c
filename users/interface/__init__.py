"""The users core service: the only module other apps may import from `users`.

Standard library only. `user_service` is the configured implementation: in-process, or the gRPC
client when `USERS_GRPC_TARGET` is set. Both satisfy `UserService` and raise the errors below.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from project.kernel.delegation import delegate
from project.kernel.errors import Conflict, InvalidArgument, NotFound, RateLimited

SERVICE_NAME = "users"

# Event types this module produces (docs/events.md); payloads are documented in docs/events.md.
USER_REGISTERED = "users.user_registered"
USER_UPDATED = "users.user_updated"
USER_DEACTIVATED = "users.user_deactivated"
USER_REACTIVATED = "users.user_reactivated"
# An email change was asked for (payload: user_id, email = the new address): it waits for the new
# address to be verified. Then `users.email_changed` (user_id, old_email, new_email).
USER_EMAIL_CHANGE_REQUESTED = "users.email_change_requested"
USER_EMAIL_CHANGED = "users.email_changed"

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class User:
    id: uuid.UUID
    email: str
    display_name: str
    is_active: bool
    is_verified: bool
    is_staff: bool
    is_superuser: bool
    date_joined: datetime
    pending_email: str = ""  # a new address waiting for its verification; "" when none
    has_password: bool = True  # False: the account signs in only otherwise (a passkey)


@dataclass(frozen=True, slots=True)
class UserPage:
    results: tuple[User, ...]
    next: str | None


class UserNotFound(NotFound):
    code = "user_not_found"
    default_message = "User not found."


class PasswordChecksExhausted(RateLimited):
    """gRPC `VerifyPassword`: too many wrong passwords for one account (docs/grpc.md)."""

    code = "too_many_attempts"
    default_message = "Too many wrong passwords for this account. Try again later."


class EmailTaken(Conflict):
    code = "email_taken"
    default_message = "A user with this email already exists."


class InvalidUserInput(InvalidArgument):
    """Field-level validation failure; `details` maps field names to lists of messages."""


class UserService(Protocol):
    def create_user(
        self,
        *,
        email: str,
        password: str | None = None,
        display_name: str = "",
        is_active: bool = True,
        is_verified: bool = False,
        is_staff: bool = False,
        is_superuser: bool = False,
    ) -> User:
        """Create a user and emit `users.user_registered`.

        The email is normalised to lower case. A password is checked against the configured
        validators (length, common passwords, similarity) and stored hashed; without one the
        account cannot log in with a password. Raises InvalidUserInput, EmailTaken.
        """
        ...

    def get_user(self, *, user_id: uuid.UUID) -> User:
        """The user with this id, active or not. Raises UserNotFound."""
        ...

    def get_user_by_email(self, *, email: str) -> User:
        """The user with this email (case-insensitive). Raises UserNotFound."""
        ...

    def get_users(self, *, user_ids: list[uuid.UUID]) -> list[User]:
        """The users among `user_ids` that exist, in the order asked; unknown ids are left out."""
        ...

    def list_users(
        self,
        *,
        search: str | None = None,
        is_active: bool | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> UserPage:
        """Users newest first, optionally filtered by a substring of email or display name.

        `limit` is 1..200. `cursor` is the `next` of a previous page with the same filters.
        Raises InvalidUserInput for a bad limit or cursor.
        """
        ...

    def update_user(
        self,
        *,
        user_id: uuid.UUID,
        email: str | None = None,
        display_name: str | None = None,
        is_verified: bool | None = None,
    ) -> User:
        """Change the given fields (None leaves a field as it is); emit `users.user_updated`
        naming the fields that changed, if any did. A new email does not take effect here: it
        becomes `pending_email` and `users.email_change_requested` asks for its verification;
        `confirm_email_change` applies it. Raises UserNotFound, InvalidUserInput, EmailTaken.
        """
        ...

    def confirm_email_change(self, *, user_id: uuid.UUID, email: str) -> User:
        """Make the pending address `email` the user's (verified): its link was followed. Emits
        `users.user_updated` and `users.email_changed`. Raises UserNotFound, EmailTaken, and
        InvalidUserInput when `email` is not the pending address."""
        ...

    def verify_password(self, *, email: str, password: str) -> User | None:
        """The user whose email and password these are, or None. An unknown email costs the same
        hashing work as a wrong password, so the two cannot be told apart by timing. A stored hash
        made with older parameters is upgraded on success. Inactive users are returned too: the
        caller decides what an inactive account may do."""
        ...

    def check_password(self, *, user_id: uuid.UUID, password: str) -> bool:
        """Whether `password` is the user's password (False for an unknown user)."""
        ...

    def set_password(self, *, user_id: uuid.UUID, password: str) -> None:
        """Validate (length, common passwords, similarity to the user's data) and store hashed.
        Raises UserNotFound, InvalidUserInput with details["password"]."""
        ...

    def deactivate_user(self, *, user_id: uuid.UUID) -> User:
        """Mark the user inactive (soft delete) and emit `users.user_deactivated`.

        Idempotent: deactivating an inactive user changes nothing and emits nothing.
        Raises UserNotFound.
        """
        ...

    def reactivate_user(self, *, user_id: uuid.UUID) -> User:
        """Mark a deactivated user active again and emit `users.user_reactivated` (its consumers
        let RBAC checks answer from the user's assignments again). Nothing else comes back:
        sessions and OIDC grants revoked at deactivation stay revoked; the assignments, which
        deactivation kept, hold again.

        Idempotent: reactivating an active user changes nothing and emits nothing.
        Raises UserNotFound.
        """
        ...


user_service: UserService = delegate(SERVICE_NAME, UserService)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "SERVICE_NAME",
    "USER_DEACTIVATED",
    "USER_EMAIL_CHANGED",
    "USER_EMAIL_CHANGE_REQUESTED",
    "USER_REACTIVATED",
    "USER_REGISTERED",
    "USER_UPDATED",
    "EmailTaken",
    "InvalidUserInput",
    "PasswordChecksExhausted",
    "User",
    "UserNotFound",
    "UserPage",
    "UserService",
    "user_service",
]
