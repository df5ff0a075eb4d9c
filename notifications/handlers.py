"""The notifications service's consumer of events (its own durable queue, "notifications").

Each handler records a notification in the inbox's transaction; its deliveries are queued as
Celery tasks once that commits. The event id is the idempotency key, so even an event that got
past the inbox twice (a replayed dead letter) sends nothing twice.
"""

from __future__ import annotations

import uuid

from auth.interface import (
    EMAIL_VERIFICATION_REQUESTED,
    MFA_CHANGED,
    PASSKEY_ADDED,
    PASSKEY_REMOVED,
    PASSWORD_CHANGED,
    PASSWORD_RESET_REQUESTED,
    REFRESH_TOKEN_REUSED,
)
from auth.interface.oidc import CLIENT_AUTHORIZED
from notifications.core.sending import notification_create, send_notification_after_commit
from notifications.interface import (
    TYPE_APPLICATION_AUTHORIZED,
    TYPE_EMAIL_CHANGED,
    TYPE_EMAIL_VERIFICATION,
    TYPE_MFA_CHANGED,
    TYPE_ORG_INVITATION,
    TYPE_PASSKEY_CHANGED,
    TYPE_PASSWORD_CHANGED,
    TYPE_PASSWORD_RESET,
    TYPE_REFRESH_TOKEN_REUSED,
    TYPE_ROLE_ASSIGNED,
    TYPE_WELCOME,
)
from permissions.interface import ASSIGNMENT_GRANTED
from project.events.consumers import subscribe
from project.kernel.events import Envelope
from users.interface import USER_EMAIL_CHANGED, USER_REGISTERED
from users.interface.orgs import INVITATION_SENT

CONSUMER = "notifications"


def _notify(envelope: Envelope, type: str, context: dict[str, str | None]) -> None:
    notification_create(
        type=type,
        user_ids=[uuid.UUID(envelope.payload["user_id"])],
        context={key: value for key, value in context.items() if value},
        idempotency_key=f"event:{envelope.id}",
    )


@subscribe(CONSUMER, EMAIL_VERIFICATION_REQUESTED)
def email_verification_requested(envelope: Envelope) -> None:
    payload = envelope.payload
    _notify(
        envelope, TYPE_EMAIL_VERIFICATION, {"sealed_token": payload["sealed_token"], "address": payload.get("address")}
    )


@subscribe(CONSUMER, USER_EMAIL_CHANGED)
def email_changed(envelope: Envelope) -> None:
    # Told at the old address: the owner, if someone else made the change (issue 15, item 1).
    payload = envelope.payload
    _notify(envelope, TYPE_EMAIL_CHANGED, {"address": payload["old_email"], "new_email": payload["new_email"]})


@subscribe(CONSUMER, PASSWORD_RESET_REQUESTED)
def password_reset_requested(envelope: Envelope) -> None:
    payload = envelope.payload
    _notify(envelope, TYPE_PASSWORD_RESET, {"sealed_token": payload["sealed_token"], "ip": payload.get("ip")})


@subscribe(CONSUMER, PASSWORD_CHANGED)
def password_changed(envelope: Envelope) -> None:
    _notify(envelope, TYPE_PASSWORD_CHANGED, {"via": envelope.payload.get("via")})


@subscribe(CONSUMER, CLIENT_AUTHORIZED)
def client_authorized(envelope: Envelope) -> None:
    payload = envelope.payload
    if payload.get("first"):  # a new application, not the next sign-in of a known one
        _notify(
            envelope,
            TYPE_APPLICATION_AUTHORIZED,
            {"client_name": payload["client_name"], "scope": payload.get("scope")},
        )


@subscribe(CONSUMER, MFA_CHANGED)
def mfa_changed(envelope: Envelope) -> None:
    payload = envelope.payload
    _notify(envelope, TYPE_MFA_CHANGED, {"change": payload["change"], "effective_at": payload.get("effective_at")})


@subscribe(CONSUMER, PASSKEY_ADDED)
def passkey_added(envelope: Envelope) -> None:
    _notify(envelope, TYPE_PASSKEY_CHANGED, {"change": "added", "name": envelope.payload["name"]})


@subscribe(CONSUMER, PASSKEY_REMOVED)
def passkey_removed(envelope: Envelope) -> None:
    _notify(envelope, TYPE_PASSKEY_CHANGED, {"change": "removed", "name": envelope.payload["name"]})


@subscribe(CONSUMER, REFRESH_TOKEN_REUSED)
def refresh_token_reused(envelope: Envelope) -> None:
    payload = envelope.payload
    _notify(envelope, TYPE_REFRESH_TOKEN_REUSED, {"session_id": payload.get("session_id"), "ip": payload.get("ip")})


@subscribe(CONSUMER, USER_REGISTERED)
def user_registered(envelope: Envelope) -> None:
    # The verification mail comes from auth.email_verification_requested; this is the welcome.
    _notify(envelope, TYPE_WELCOME, {"display_name": envelope.payload.get("display_name")})


@subscribe(CONSUMER, ASSIGNMENT_GRANTED)
def assignment_granted(envelope: Envelope) -> None:
    payload = envelope.payload
    context = {
        "role": payload["role"],
        "scope": payload.get("scope"),
        "group": payload.get("group_id"),
        "expires_at": payload.get("expires_at"),
    }
    context = {key: value for key, value in context.items() if value}
    if payload.get("user_id"):
        _notify(envelope, TYPE_ROLE_ASSIGNED, context)
        return
    # The group's members are asked of the permissions service (maybe remote) after this commit.
    send_notification_after_commit(
        type=TYPE_ROLE_ASSIGNED,
        group_id=uuid.UUID(payload["group_id"]),
        context=context,
        idempotency_key=f"event:{envelope.id}",
    )


@subscribe(CONSUMER, INVITATION_SENT)
def org_invitation_sent(envelope: Envelope) -> None:
    # To the invited address; the recipient is its account, or an id made from the address when
    # it has none yet (the `guest` type mails the address all the same).
    payload = envelope.payload
    notification_create(
        type=TYPE_ORG_INVITATION,
        user_ids=[uuid.UUID(payload["recipient_id"])],
        context={
            "sealed_token": payload["sealed_token"],
            "address": payload["email"],
            "org_name": payload["org_name"],
            "role": payload["role"],
        },
        idempotency_key=f"event:{envelope.id}",
    )
