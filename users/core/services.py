"""Writes of the users core service. Each owns its transaction and records its event in it."""

from __future__ import annotations

import uuid

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from project.compiled import CompiledRead, model_columns
from project.events.outbox import outbox_record
from users.interface import (
    SERVICE_NAME,
    USER_DEACTIVATED,
    USER_EMAIL_CHANGE_REQUESTED,
    USER_EMAIL_CHANGED,
    USER_REACTIVATED,
    USER_REGISTERED,
    USER_UPDATED,
    EmailTaken,
    InvalidUserInput,
    UserNotFound,
)
from users.models import User

DISPLAY_NAME_MAX = 150


def _normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidUserInput(
            "Enter a valid email address.", details={"email": ["Enter a valid email address."]}
        ) from None
    if len(email) > 254:
        raise InvalidUserInput("The email is too long.", details={"email": ["At most 254 characters."]})
    return email


def _check_display_name(display_name: str) -> str:
    display_name = display_name.strip()
    if len(display_name) > DISPLAY_NAME_MAX:
        raise InvalidUserInput(
            "The display name is too long.", details={"display_name": [f"At most {DISPLAY_NAME_MAX} characters."]}
        )
    if any(ord(ch) < 32 for ch in display_name):
        raise InvalidUserInput(
            "The display name contains control characters.", details={"display_name": ["No control characters."]}
        )
    return display_name


def _email_free(email: str, *, exclude: uuid.UUID | None = None) -> None:
    taken = User.objects.filter(email=email)
    if exclude is not None:
        taken = taken.exclude(id=exclude)
    if taken.exists():
        raise EmailTaken()


def _locked(user_id: uuid.UUID) -> User:
    try:
        return User.objects.select_for_update().get(id=user_id)
    except User.DoesNotExist:
        raise UserNotFound() from None


@transaction.atomic(durable=True)
def create_user(
    *,
    email: str,
    password: str | None = None,
    display_name: str = "",
    is_active: bool = True,
    is_verified: bool = False,
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    user = User(
        email=_normalise_email(email),
        display_name=_check_display_name(display_name),
        is_active=is_active,
        is_verified=is_verified,
        is_staff=is_staff,
        is_superuser=is_superuser,
    )
    if password is None:
        user.set_unusable_password()
    else:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise InvalidUserInput("The password is too weak.", details={"password": list(exc.messages)}) from None
        user.set_password(password)
    _email_free(user.email)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError:  # a concurrent registration won the race for this email
        raise EmailTaken() from None
    outbox_record(
        type=USER_REGISTERED,
        producer=SERVICE_NAME,
        payload={
            "user_id": str(user.id),
            "email": user.email,
            "display_name": user.display_name,
            "is_verified": user.is_verified,
        },
    )
    return user


@transaction.atomic(durable=True)
def update_user(
    *,
    user_id: uuid.UUID,
    email: str | None = None,
    display_name: str | None = None,
    is_verified: bool | None = None,
) -> User:
    user = _locked(user_id)
    changes = {}
    requested = None
    if email is not None:
        email = _normalise_email(email)
        if email != user.email and email != user.pending_email:
            # Not yet: the new address must prove it is reachable, by the link mailed to it
            # (issue 15, item 1). Until then sign-in, resets and mail use the old one.
            _email_free(email, exclude=user.id)
            changes["pending_email"] = requested = email
        elif email == user.email and user.pending_email:
            changes["pending_email"] = ""  # asked back to the current address: the change is off
    if display_name is not None:
        display_name = _check_display_name(display_name)
        if display_name != user.display_name:
            changes["display_name"] = display_name
    if is_verified is not None and is_verified != user.is_verified:
        changes["is_verified"] = is_verified
    if not changes:
        return user
    for field, value in changes.items():
        setattr(user, field, value)
    try:
        with transaction.atomic():
            user.save(update_fields=[*changes, "updated_at"])
    except IntegrityError:
        raise EmailTaken() from None
    outbox_record(
        type=USER_UPDATED,
        producer=SERVICE_NAME,
        payload={"user_id": str(user.id), "changed": sorted(changes)},
    )
    if requested is not None:
        outbox_record(
            type=USER_EMAIL_CHANGE_REQUESTED,
            producer=SERVICE_NAME,
            payload={"user_id": str(user.id), "email": requested},
        )
    return user


def confirm_email_change(*, user_id: uuid.UUID, email: str) -> User:
    """Apply the pending address (its verification link was followed): it becomes the verified
    email; `users.email_changed` lets auth end the sessions and notifications tell the old address."""
    email = _normalise_email(email)
    with transaction.atomic(durable=True):
        user = _locked(user_id)
        if not user.pending_email or user.pending_email != email:
            raise InvalidUserInput(
                "No change to this address is pending.", details={"email": ["No change to this address is pending."]}
            )
        _email_free(email, exclude=user.id)
        old = user.email
        user.email, user.pending_email, user.is_verified = email, "", True
        try:
            with transaction.atomic():
                user.save(update_fields=["email", "pending_email", "is_verified", "updated_at"])
        except IntegrityError:
            raise EmailTaken() from None
        outbox_record(
            type=USER_UPDATED,
            producer=SERVICE_NAME,
            payload={"user_id": str(user.id), "changed": ["email", "is_verified", "pending_email"]},
        )
        outbox_record(
            type=USER_EMAIL_CHANGED,
            producer=SERVICE_NAME,
            payload={"user_id": str(user.id), "old_email": old, "new_email": email},
        )
    return user


# Every login reads the user by email: a statement compiled once (project/compiled.py), the row made
# a model as the ORM makes it, so that check_password can save a rehashed password.
_USER_BY_EMAIL = CompiledRead(
    User, "email", lambda email: User.objects.filter(email=email).values_list(*model_columns(User))[:1], "stand-in"
)


def verify_password(*, email: str, password: str) -> User | None:
    user = _USER_BY_EMAIL.instance((email or "").strip().lower())
    if user is None:
        # Hash anyway, with the current hasher, so an unknown email takes as long as a wrong password.
        User().set_password(password)
        return None
    # check_password re-hashes with the current parameters on success (and saves the new hash).
    return user if user.check_password(password) else None


def check_password(*, user_id: uuid.UUID, password: str) -> bool:
    user = User.objects.filter(id=user_id).first()
    if user is None:
        User().set_password(password)
        return False
    return user.check_password(password)


@transaction.atomic(durable=True)
def set_password(*, user_id: uuid.UUID, password: str) -> User:
    user = _locked(user_id)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidUserInput("The password is too weak.", details={"password": list(exc.messages)}) from None
    user.set_password(password)
    user.save(update_fields=["password", "updated_at"])
    return user


@transaction.atomic(durable=True)
def deactivate_user(*, user_id: uuid.UUID) -> User:
    user = _locked(user_id)
    if not user.is_active:
        return user
    user.is_active = False
    user.save(update_fields=["is_active", "updated_at"])
    outbox_record(type=USER_DEACTIVATED, producer=SERVICE_NAME, payload={"user_id": str(user.id)})
    return user


@transaction.atomic(durable=True)
def reactivate_user(*, user_id: uuid.UUID) -> User:
    user = _locked(user_id)
    if user.is_active:
        return user
    user.is_active = True
    user.save(update_fields=["is_active", "updated_at"])
    outbox_record(type=USER_REACTIVATED, producer=SERVICE_NAME, payload={"user_id": str(user.id)})
    return user
