"""The notifications core service: the only module other apps may import from `notifications`.

Standard library only. `notification_service` is the configured implementation (in-process for
now; a gRPC client when the service is split out). It raises the errors below.

A notification is one request to tell some users something, of a declared type, on some
channels. Each recipient-and-channel pair is a delivery with its own status: `pending` until a
worker sends it, then `sent`, `failed` (after its retries: a dead letter an operator can retry
from the admin) or `skipped` (nothing to send it to, e.g. an unknown user).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from project.kernel.delegation import delegate
from project.kernel.errors import Conflict, InvalidArgument, NotFound

SERVICE_NAME = "notifications"

# Event types this module produces (contract §5); payloads are documented in docs/notifications.md.
NOTIFICATION_REQUESTED = "notifications.notification_requested"

# Channels (contract §4). `webhook` POSTs each delivery, HMAC-SHA256 signed, to the configured
# NOTIFICATIONS_WEBHOOK_URL (at least once: receivers dedupe on X-Gatehouse-Delivery); a send asking
# for it while no URL and secret are configured is refused with InvalidNotification.
CHANNEL_IN_APP = "in_app"
CHANNEL_EMAIL = "email"
CHANNEL_WEBHOOK = "webhook"
CHANNELS = (CHANNEL_IN_APP, CHANNEL_EMAIL, CHANNEL_WEBHOOK)

# Delivery statuses.
STATUS_PENDING = "pending"
STATUS_SENT = "sent"
STATUS_FAILED = "failed"
STATUS_SKIPPED = "skipped"
DELIVERY_STATUSES = (STATUS_PENDING, STATUS_SENT, STATUS_FAILED, STATUS_SKIPPED)

# The notification types declared by this service (notifications.core.types defines them).
TYPE_EMAIL_VERIFICATION = "email_verification"
TYPE_PASSWORD_RESET = "password_reset"
TYPE_PASSWORD_CHANGED = "password_changed"
TYPE_REFRESH_TOKEN_REUSED = "refresh_token_reused"
TYPE_ANNOUNCEMENT = "announcement"

MAX_IDEMPOTENCY_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class NotificationType:
    code: str
    description: str
    # The channels a send without `channels` uses, and all the channels the type may use.
    default_channels: tuple[str, ...]
    channels: tuple[str, ...]
    # A mandatory type (a security notice) is sent whatever the recipient's preferences say.
    mandatory: bool
    # The context keys a sender may give (every other key is refused), and which of them it must.
    context_fields: tuple[str, ...]
    required_context_fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One recipient on one channel."""

    id: uuid.UUID
    notification_id: uuid.UUID
    user_id: uuid.UUID
    channel: str
    status: str  # one of DELIVERY_STATUSES
    attempts: int
    last_error: str
    sent_at: datetime | None
    updated_at: datetime


class UnknownNotificationType(InvalidArgument):
    code = "unknown_notification_type"
    default_message = "There is no notification type with this code."


class InvalidNotification(InvalidArgument):
    """Recipients, channels or context that the type does not accept; `details` maps the field
    (`user_ids`, `channels`, `context`, `idempotency_key`) to its problems. For `context` the
    value maps each offending key to a list of messages."""


class NotificationNotFound(NotFound):
    code = "notification_not_found"
    default_message = "Notification not found."


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    default_message = "This idempotency key was already used for a different notification."


class NotificationService(Protocol):
    def send(
        self,
        *,
        type: str,
        user_ids: list[uuid.UUID],
        context: dict[str, Any],
        channels: list[str] | None = None,
        idempotency_key: str | None = None,
    ) -> uuid.UUID:
        """Queue a notification of `type` to every user in `user_ids` on `channels` (the type's
        default channels when None); returns the notification's id.

        `context` is checked against the type: only its declared keys, each a string, the required
        ones present. One delivery per recipient and channel is recorded with the notification and
        the `notifications.notification_requested` event in one transaction; workers send them
        after the commit, with retries. Mandatory types ignore the recipients' opt-outs.

        With an `idempotency_key`, a second call with the same key sends nothing and returns the
        first call's id; with the same key but a different request it raises IdempotencyKeyReused.
        Raises UnknownNotificationType, InvalidNotification, IdempotencyKeyReused.
        """
        ...

    def get_deliveries(self, *, notification_id: uuid.UUID) -> list[Delivery]:
        """The notification's deliveries (one per recipient and channel) with their status, attempts and
        last error, ordered by user id, then channel. Raises NotificationNotFound."""
        ...

    def list_types(self) -> list[NotificationType]:
        """Every notification type, ordered by code."""
        ...


notification_service: NotificationService = delegate(SERVICE_NAME, NotificationService)

__all__ = [
    "CHANNELS",
    "CHANNEL_EMAIL",
    "CHANNEL_IN_APP",
    "CHANNEL_WEBHOOK",
    "DELIVERY_STATUSES",
    "MAX_IDEMPOTENCY_KEY_LENGTH",
    "NOTIFICATION_REQUESTED",
    "SERVICE_NAME",
    "STATUS_FAILED",
    "STATUS_PENDING",
    "STATUS_SENT",
    "STATUS_SKIPPED",
    "TYPE_ANNOUNCEMENT",
    "TYPE_EMAIL_VERIFICATION",
    "TYPE_PASSWORD_CHANGED",
    "TYPE_PASSWORD_RESET",
    "TYPE_REFRESH_TOKEN_REUSED",
    "Delivery",
    "IdempotencyKeyReused",
    "InvalidNotification",
    "NotificationNotFound",
    "NotificationService",
    "NotificationType",
    "UnknownNotificationType",
    "notification_service",
]
