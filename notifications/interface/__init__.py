"""The notifications core service: the only module other apps may import from `notifications`.

Standard library only. `notification_service` is the configured implementation (in-process for
now; a gRPC client when the service is split out). It raises the errors below.

A notification is one request to tell some users something, of a declared type, on some
channels. Each recipient-and-channel pair is a delivery with its own status: `pending` until a
worker sends it, then `sent`, `failed` (after its retries: a dead letter an operator can retry
from the admin) or `skipped` (nothing to send it to, e.g. an unknown user, or the recipient turned that
channel off for the type).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from project.kernel.delegation import delegate
from project.kernel.errors import Conflict, InvalidArgument, NotFound

SERVICE_NAME = "notifications"

# Event types this module produces (docs/events.md); payloads are documented in docs/notifications.md.
NOTIFICATION_REQUESTED = "notifications.notification_requested"

# Channels (docs/notifications.md). `webhook` POSTs each delivery, HMAC-SHA256 signed, to the configured
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
TYPE_EMAIL_CHANGED = "email_changed"
# An invitation to join an organization (docs/orgs.md), mailed to the invited address.
TYPE_ORG_INVITATION = "org_invitation"
TYPE_APPLICATION_AUTHORIZED = "application_authorized"
TYPE_MFA_CHANGED = "mfa_changed"
TYPE_PASSKEY_CHANGED = "passkey_changed"
TYPE_ANNOUNCEMENT = "announcement"
TYPE_WELCOME = "welcome"
TYPE_ROLE_ASSIGNED = "role_assigned"

MAX_IDEMPOTENCY_KEY_LENGTH = 255
# Recipients of one notification, after groups and roles are resolved.
MAX_RECIPIENTS = 10000
# Inbox pages (docs/api.md).
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


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


@dataclass(frozen=True, slots=True)
class InboxMessage:
    """One in-app message in a user's inbox; `id` is what `mark_read` takes."""

    id: uuid.UUID
    notification_id: uuid.UUID
    type: str
    subject: str
    body: str
    created_at: datetime
    read_at: datetime | None

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


@dataclass(frozen=True, slots=True)
class InboxPage:
    results: tuple[InboxMessage, ...]
    next: str | None  # the cursor of the next page; None on the last one


@dataclass(frozen=True, slots=True)
class Preference:
    """Whether a user receives a type on a channel. Absent from the store means on."""

    type: str
    channel: str
    enabled: bool
    mandatory: bool = False  # a mandatory type is always on; set by the service, ignored as input


class UnknownNotificationType(InvalidArgument):
    code = "unknown_notification_type"
    default_message = "There is no notification type with this code."


class ReservedNotificationType(InvalidArgument):
    """The type is Gatehouse's own (a security notice, a mail with a one-time link, a mandatory
    type): only Gatehouse sends it, from its events; send_notification() refuses it."""

    code = "reserved_notification_type"
    default_message = "This notification type is sent by Gatehouse itself and cannot be sent on request."


class InvalidNotification(InvalidArgument):
    """Recipients, channels or context that the type does not accept; `details` maps the field
    (`recipients`, `user_ids`, `group_id`, `role`, `scope`, `org_id`, `org_role`, `channels`, `context`,
    `idempotency_key`) to its problems. For `context` the value maps each offending key to a list
    of messages."""


class InvalidPreferences(InvalidArgument):
    """Preferences naming an unknown type or channel, or turning off a mandatory type; `details`
    maps `preferences` to the problems, keyed `<type>.<channel>`."""

    code = "invalid_preferences"
    default_message = "These preferences cannot be set."


class InvalidCursor(InvalidArgument):
    code = "invalid_cursor"
    default_message = "The cursor or limit is not valid."


class NotificationNotFound(NotFound):
    code = "notification_not_found"
    default_message = "Notification not found."


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    default_message = "This idempotency key was already used for a different notification."


class NotificationService(Protocol):
    def send_notification(
        self,
        *,
        type: str,
        context: dict[str, Any],
        user_ids: list[uuid.UUID] | None = None,
        group_id: uuid.UUID | None = None,
        role: str | None = None,
        scope: str | None = None,
        channels: list[str] | None = None,
        idempotency_key: str | None = None,
        org_id: uuid.UUID | None = None,
        org_role: str | None = None,
    ) -> uuid.UUID:
        """Queue a notification of `type` on `channels` (the type's default channels when None);
        returns the notification's id.

        `org_id` (alone: not with `user_ids`, `group_id` or `role`) sends to the organization's
        members, or with `org_role` to those of them holding an org role (`owner`, `admin`,
        `member`) or a custom role granted in the org's scope (users.interface.orgs.org_service
        `member_ids`). Membership is checked again when each delivery is attempted: a recipient
        who is no longer a member (or no longer holds the role) by then is `skipped`. The caller
        authorizes the sender (`org_service.authorize_notification`); this service does not.

        The recipients are the union of `user_ids`, the members of the group `group_id` and the
        users assigned the role named `role` (directly or through a group) in an unexpired
        assignment that covers `scope` (None: global assignments only); at least one of the three
        is needed, `scope` only with `role`, and at most MAX_RECIPIENTS users may result. Groups and
        roles are resolved through the permissions service at the time of the call.

        `context` is checked against the type: only its declared keys, each a string, the required
        ones present. One delivery per recipient and channel is recorded with the notification and
        the `notifications.notification_requested` event in one transaction; workers send them
        after the commit, in batches, with retries. A delivery to a channel the recipient turned
        off for the type is recorded `skipped`; mandatory types ignore opt-outs.

        With an `idempotency_key`, a second call with the same key sends nothing and returns the
        first call's id; with the same key but a different request it raises IdempotencyKeyReused.
        Types Gatehouse sends itself (security notices, mails with a one-time link, mandatory
        types) are refused. Raises UnknownNotificationType, ReservedNotificationType,
        InvalidNotification, IdempotencyKeyReused.
        """
        ...

    def get_deliveries(self, *, notification_id: uuid.UUID) -> list[Delivery]:
        """The notification's deliveries (one per recipient and channel) with their status, attempts and
        last error, ordered by user id, then channel. Raises NotificationNotFound."""
        ...

    def list_types(self) -> list[NotificationType]:
        """Every notification type, ordered by code."""
        ...

    # The in-app inbox. Another user's message is NotificationNotFound, as a missing one.

    def list_inbox(
        self,
        *,
        user_id: uuid.UUID,
        unread_only: bool = False,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> InboxPage:
        """The user's in-app messages, newest first, `limit` (1 to MAX_PAGE_SIZE) per page from
        `cursor` (a previous page's `next`). Raises InvalidCursor."""
        ...

    def count_unread(self, *, user_id: uuid.UUID) -> int:
        """How many of the user's in-app messages are unread; exact, served from the cache."""
        ...

    def mark_read(self, *, user_id: uuid.UUID, message_id: uuid.UUID) -> None:
        """Mark one of the user's messages read (idempotent). Raises NotificationNotFound."""
        ...

    def mark_all_read(self, *, user_id: uuid.UUID) -> int:
        """Mark every unread message of the user read; returns how many were unread."""
        ...

    # Preferences.

    def get_preferences(self, *, user_id: uuid.UUID) -> list[Preference]:
        """One entry per type and channel the type may use, ordered by type, then channel;
        mandatory types are always enabled."""
        ...

    def set_preferences(self, *, user_id: uuid.UUID, preferences: list[Preference]) -> list[Preference]:
        """Turn the given type-and-channel pairs on or off (the others stay as they are), all or
        nothing; returns `get_preferences`. Raises InvalidPreferences (an unknown type or channel,
        a mandatory type turned off, a pair given twice)."""
        ...


notification_service: NotificationService = delegate(SERVICE_NAME, NotificationService)

__all__ = [
    "CHANNELS",
    "CHANNEL_EMAIL",
    "CHANNEL_IN_APP",
    "CHANNEL_WEBHOOK",
    "DEFAULT_PAGE_SIZE",
    "DELIVERY_STATUSES",
    "MAX_IDEMPOTENCY_KEY_LENGTH",
    "MAX_PAGE_SIZE",
    "MAX_RECIPIENTS",
    "NOTIFICATION_REQUESTED",
    "SERVICE_NAME",
    "STATUS_FAILED",
    "STATUS_PENDING",
    "STATUS_SENT",
    "STATUS_SKIPPED",
    "TYPE_ANNOUNCEMENT",
    "TYPE_APPLICATION_AUTHORIZED",
    "TYPE_EMAIL_CHANGED",
    "TYPE_EMAIL_VERIFICATION",
    "TYPE_MFA_CHANGED",
    "TYPE_ORG_INVITATION",
    "TYPE_PASSKEY_CHANGED",
    "TYPE_PASSWORD_CHANGED",
    "TYPE_PASSWORD_RESET",
    "TYPE_REFRESH_TOKEN_REUSED",
    "TYPE_ROLE_ASSIGNED",
    "TYPE_WELCOME",
    "Delivery",
    "IdempotencyKeyReused",
    "InboxMessage",
    "InboxPage",
    "InvalidCursor",
    "InvalidNotification",
    "InvalidPreferences",
    "NotificationNotFound",
    "NotificationService",
    "NotificationType",
    "Preference",
    "ReservedNotificationType",
    "UnknownNotificationType",
    "notification_service",
]
