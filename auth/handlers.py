"""The auth service's consumer of events (its own durable queue, "auth")."""

from __future__ import annotations

import uuid

from auth.core import services
from auth.core.sessions import mark_revoked_in_cache
from auth.interface import SESSION_REVOKED
from project.events.consumers import subscribe
from project.kernel.events import Envelope
from users.interface import (
    USER_DEACTIVATED,
    USER_EMAIL_CHANGE_REQUESTED,
    USER_EMAIL_CHANGED,
    USER_REGISTERED,
    USER_UPDATED,
)

CONSUMER = "auth"


@subscribe(CONSUMER, USER_REGISTERED)
def send_verification_on_registration(envelope: Envelope) -> None:
    if not envelope.payload.get("is_verified"):
        services.email_verification_issue(
            user_id=uuid.UUID(envelope.payload["user_id"]), email=envelope.payload["email"]
        )


@subscribe(CONSUMER, USER_DEACTIVATED)
def revoke_sessions_of_deactivated_user(envelope: Envelope) -> None:
    services.revoke_all_sessions(
        user_id=uuid.UUID(envelope.payload["user_id"]), except_session_id=None, reason="deactivated"
    )


@subscribe(CONSUMER, USER_UPDATED)
def revoke_one_time_tokens_on_email_change(envelope: Envelope) -> None:
    # Links mailed to the old address (reset, verification) must not outlive it (issue 15, item 8).
    if "email" in envelope.payload.get("changed", ()):
        services.one_time_tokens_revoke(user_id=uuid.UUID(envelope.payload["user_id"]))


@subscribe(CONSUMER, USER_EMAIL_CHANGE_REQUESTED)
def verify_a_new_address(envelope: Envelope) -> None:
    # The new address gets a link; the change waits for it (issue 15, item 1).
    services.email_verification_issue(user_id=uuid.UUID(envelope.payload["user_id"]), email=envelope.payload["email"])


@subscribe(CONSUMER, USER_EMAIL_CHANGED)
def end_sessions_on_email_change(envelope: Envelope) -> None:
    # Whoever held a session under the old address no longer speaks for the account.
    services.revoke_all_sessions(
        user_id=uuid.UUID(envelope.payload["user_id"]), except_session_id=None, reason="email_changed"
    )


@subscribe(CONSUMER, SESSION_REVOKED)
def remember_revocation_in_cache(envelope: Envelope) -> None:
    # The revoke already told the cache right after commit; this repeats it with the event's
    # retries, for the case where the cache was unreachable then.
    mark_revoked_in_cache([uuid.UUID(sid) for sid in envelope.payload["session_ids"]])
