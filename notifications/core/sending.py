"""Sending: check a request, resolve its recipients, record the notification.

`send_notification` resolves the recipients (groups and roles through the permissions service,
outside any transaction), then records the notification, one delivery per recipient and channel
(`skipped` where the recipient turned the channel off) and the
`notifications.notification_requested` event in one transaction; after the commit the pending
deliveries are queued (notifications.core.delivery.deliveries_enqueue).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications.interface import (
    MAX_IDEMPOTENCY_KEY_LENGTH,
    MAX_RECIPIENTS,
    NOTIFICATION_REQUESTED,
    SERVICE_NAME,
    IdempotencyKeyReused,
    InvalidNotification,
)
from notifications.models import Delivery, Notification
from permissions.interface import GroupNotFound, InvalidScope, RoleNotFound, normalise_scope, permission_service
from project.events.outbox import outbox_record
from project.kernel.context import get_request_id
from users.interface.orgs import InvalidOrgInput, OrgNotFound, org_service

from . import queue
from .channels import CHANNELS
from .delivery import deliveries_enqueue
from .selectors import preferences_off
from .types import TypeDefinition, type_get

OPTED_OUT = "The recipient turned this channel off for this type."


def _as_uuid(value: Any, field: str, what: str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise InvalidNotification(
            f"{what} is not a valid id.", details={field: [f"Not a UUID: {str(value)[:64]!r}."]}
        ) from None


@dataclass(frozen=True, slots=True)
class RecipientSpec:
    """Who a send names; `resolve` turns it into user ids."""

    user_ids: tuple[uuid.UUID, ...]
    group_id: uuid.UUID | None
    role: str | None
    scope: str | None
    org_id: uuid.UUID | None = None
    org_role: str | None = None

    def canonical(self) -> dict[str, Any]:
        # Only what was given, so a send to user ids hashes as it always did.
        spec: dict[str, Any] = {"user_ids": sorted(map(str, self.user_ids))}
        if self.group_id is not None:
            spec["group_id"] = str(self.group_id)
        if self.role is not None:
            spec["role"], spec["scope"] = self.role, self.scope
        if self.org_id is not None:
            spec["org_id"], spec["org_role"] = str(self.org_id), self.org_role
        return spec


def _clean_org_spec(user_ids: Any, group_id: Any, role: Any, scope: Any, org_id: Any, org_role: Any) -> RecipientSpec:
    if org_id is None:
        raise InvalidNotification("An org role needs an org.", details={"org_role": ["Only with org_id."]})
    if any(value is not None for value in (user_ids, group_id, role, scope)):
        raise InvalidNotification(
            "An org's members are sent to on their own.",
            details={"org_id": ["Not with user_ids, group_id, role or scope."]},
        )
    org = _as_uuid(org_id, "org_id", "The organization")
    if org_role is not None and (not isinstance(org_role, str) or not 1 <= len(org_role) <= 100):
        raise InvalidNotification(
            "The org role is not valid.", details={"org_role": ["A role name, 1 to 100 characters."]}
        )
    return RecipientSpec(user_ids=(), group_id=None, role=None, scope=None, org_id=org, org_role=org_role)


def _clean_recipient_spec(
    user_ids: Any, group_id: Any, role: Any, scope: Any, org_id: Any = None, org_role: Any = None
) -> RecipientSpec:
    if org_id is not None or org_role is not None:
        return _clean_org_spec(user_ids, group_id, role, scope, org_id, org_role)
    if user_ids is None and group_id is None and role is None:
        raise InvalidNotification(
            "At least one recipient is needed.",
            details={"recipients": ["Give user_ids, group_id or role."]},
        )
    cleaned_users: dict[uuid.UUID, None] = {}
    if user_ids is not None:
        if not isinstance(user_ids, list | tuple) or (not user_ids and group_id is None and role is None):
            raise InvalidNotification("At least one recipient is needed.", details={"user_ids": ["At least one."]})
        if len(user_ids) > MAX_RECIPIENTS:
            raise InvalidNotification(
                "Too many recipients.", details={"user_ids": [f"At most {MAX_RECIPIENTS} per notification."]}
            )
        for value in user_ids:
            cleaned_users[_as_uuid(value, "user_ids", "A recipient")] = None
    group = _as_uuid(group_id, "group_id", "The group") if group_id is not None else None
    if role is not None and (not isinstance(role, str) or not 1 <= len(role) <= 100):
        raise InvalidNotification("The role is not valid.", details={"role": ["A role name, 1 to 100 characters."]})
    if scope is not None and role is None:
        raise InvalidNotification("A scope needs a role.", details={"scope": ["Only with role."]})
    try:
        scope = normalise_scope(scope)
    except InvalidScope as exc:
        raise InvalidNotification("The scope is not valid.", details={"scope": exc.details.get("scope", [])}) from None
    return RecipientSpec(user_ids=tuple(cleaned_users), group_id=group, role=role, scope=scope)


def _resolve_recipients(spec: RecipientSpec) -> list[uuid.UUID]:
    """The users `spec` names, in a stable order. Calls the permissions service (maybe remote):
    never inside a transaction of ours."""
    recipients: dict[uuid.UUID, None] = dict.fromkeys(spec.user_ids)
    if spec.org_id is not None:
        recipients.update(dict.fromkeys(org_recipients(spec.org_id, spec.org_role)))
    if spec.group_id is not None:
        try:
            recipients.update(dict.fromkeys(permission_service.group_members(group_id=spec.group_id)))
        except GroupNotFound:
            raise InvalidNotification("There is no such group.", details={"group_id": ["Unknown group."]}) from None
    if spec.role is not None:
        try:
            role = permission_service.get_role_by_name(name=spec.role)
            recipients.update(dict.fromkeys(permission_service.users_with_role(role_id=role.id, scope=spec.scope)))
        except RoleNotFound:
            raise InvalidNotification("There is no such role.", details={"role": ["Unknown role."]}) from None
    if not recipients:
        raise InvalidNotification(
            "These recipients name nobody.", details={"recipients": ["No user matches these recipients."]}
        )
    if len(recipients) > MAX_RECIPIENTS:
        raise InvalidNotification(
            "Too many recipients.", details={"recipients": [f"At most {MAX_RECIPIENTS} users per notification."]}
        )
    return list(recipients)


def org_recipients(org_id: uuid.UUID, org_role: str | None) -> list[uuid.UUID]:
    """The org's members (holding `org_role`, when given), from the users service (maybe
    remote: never inside a transaction of ours)."""
    try:
        return org_service.member_ids(org_id=org_id, role=org_role or None)
    except OrgNotFound:
        raise InvalidNotification("There is no such organization.", details={"org_id": ["Unknown org."]}) from None
    except InvalidOrgInput:
        raise InvalidNotification("There is no such role.", details={"org_role": ["Unknown role."]}) from None


def _clean_channels(definition: TypeDefinition, channels: Any) -> list[str]:
    if channels is None:
        return list(definition.default_channels)
    if not isinstance(channels, list | tuple) or not channels:
        raise InvalidNotification("At least one channel is needed.", details={"channels": ["At least one."]})
    unknown = [str(channel)[:32] for channel in channels if channel not in definition.channels]
    if unknown:
        raise InvalidNotification(
            f"The {definition.code} type is not sent on {', '.join(unknown)}.",
            details={"channels": [f"Not a channel of this type ({', '.join(definition.channels)})."]},
        )
    unconfigured = [CHANNELS[channel] for channel in channels if not CHANNELS[channel].configured()]
    if unconfigured:
        raise InvalidNotification(
            f"The {unconfigured[0].name} channel is not configured.",
            details={"channels": [f"The {channel.name} channel needs {channel.needs}." for channel in unconfigured]},
        )
    return list(dict.fromkeys(channels))


def _clean_context(definition: TypeDefinition, context: Any) -> dict[str, str]:
    if not isinstance(context, dict):
        raise InvalidNotification("The context must be an object.", details={"context": ["Must be an object."]})
    problems: dict[str, list[str]] = {}
    for key in context:
        if definition.field(key) is None:
            problems[str(key)[:64]] = ["Not a field of this notification type."]
    cleaned: dict[str, str] = {}
    for field in definition.fields:
        value = context.get(field.name)
        if value is None or value == "":
            if field.required:
                problems[field.name] = ["This field is required."]
        elif not isinstance(value, str):
            problems[field.name] = ["Must be a string."]
        elif len(value) > field.max_length:
            problems[field.name] = [f"At most {field.max_length} characters."]
        elif "\x00" in value:  # no text column or JSON document in PostgreSQL can hold it
            problems[field.name] = ["Null characters are not allowed."]
        else:
            cleaned[field.name] = value if field.links or field.sealed else defang_links(value)
    if problems:
        raise InvalidNotification(
            f"The context does not fit the {definition.code} type.", details={"context": problems}
        )
    return cleaned


_LINKISH = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,20})://|\b(www)\.")


def defang_links(value: str) -> str:
    """`https://evil.example` → `https[:]//evil.example`, `www.evil` → `www[.]evil`: readable,
    not clickable. For the fields where no template expects a link (issue 15, item 7)."""
    return _LINKISH.sub(lambda m: f"{m.group(1)}[:]//" if m.group(1) else f"{m.group(2)}[.]", value)


def _clean_idempotency_key(key: Any) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidNotification(
            "The idempotency key is not valid.",
            details={"idempotency_key": [f"1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters."]},
        )
    return key


def _request_hash(*, type: str, recipients: RecipientSpec, channels: list[str], context: dict[str, str]) -> str:
    canonical = json.dumps(
        {"type": type, **recipients.canonical(), "channels": sorted(channels), "context": context},
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _already_sent(key: str, request_hash: str) -> Notification | None:
    existing = Notification.objects.filter(idempotency_key=key).first()
    if existing is not None and existing.request_hash != request_hash:
        raise IdempotencyKeyReused(details={"idempotency_key": ["Already used for a different notification."]})
    return existing


@dataclass(frozen=True, slots=True)
class _Request:
    definition: TypeDefinition
    recipients: RecipientSpec
    channels: list[str]
    context: dict[str, str]
    key: str | None
    request_hash: str


def _clean_request(
    *,
    type: str,
    context: Any,
    user_ids: Any,
    group_id: Any,
    role: Any,
    scope: Any,
    channels: Any,
    idempotency_key: Any,
    org_id: Any = None,
    org_role: Any = None,
) -> _Request:
    definition = type_get(code=type)
    recipients = _clean_recipient_spec(user_ids, group_id, role, scope, org_id, org_role)
    channels = _clean_channels(definition, channels)
    context = _clean_context(definition, context)
    key = _clean_idempotency_key(idempotency_key)
    request_hash = _request_hash(type=definition.code, recipients=recipients, channels=channels, context=context)
    return _Request(definition, recipients, channels, context, key, request_hash)


def _record(request: _Request, recipients: list[uuid.UUID]) -> Notification:
    """Inside the caller's transaction: the notification, its deliveries and its event."""
    definition, channels, key = request.definition, request.channels, request.key
    if key is not None and (existing := _already_sent(key, request.request_hash)) is not None:
        return existing
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                type=definition.code,
                context=request.context,
                idempotency_key=key,
                request_hash=request.request_hash,
                request_id=get_request_id() or "",
                org_id=request.recipients.org_id,
                org_role=request.recipients.org_role or "",
            )
    except IntegrityError:
        # A concurrent send with the same key committed first (we waited on its unique key).
        existing = _already_sent(key, request.request_hash) if key is not None else None
        if existing is None:
            raise
        return existing
    off = set() if definition.mandatory else preferences_off(type=definition.code, user_ids=recipients)
    now = timezone.now()
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(
                notification=notification,
                user_id=user_id,
                channel=channel,
                created_at=now,
                updated_at=now,
                **({"status": Delivery.Status.SKIPPED, "last_error": OPTED_OUT} if (user_id, channel) in off else {}),
            )
            for user_id in recipients
            for channel in channels
        ],
        batch_size=1000,
    )
    outbox_record(
        type=NOTIFICATION_REQUESTED,
        producer=SERVICE_NAME,
        payload={
            "notification_id": str(notification.id),
            "type": definition.code,
            "user_ids": [str(user_id) for user_id in recipients],
            "channels": channels,
        },
    )
    pending = [delivery.id for delivery in deliveries if delivery.status == Delivery.Status.PENDING]
    # robust: the notification is committed whatever happens to the queueing; the sweeper
    # queues whatever is left pending.
    transaction.on_commit(lambda: deliveries_enqueue(delivery_ids=pending), robust=True)
    return notification


def notification_create(
    *,
    type: str,
    context: dict[str, Any],
    user_ids: list[uuid.UUID] | None = None,
    group_id: uuid.UUID | None = None,
    role: str | None = None,
    scope: str | None = None,
    channels: list[str] | None = None,
    idempotency_key: str | None = None,
) -> Notification:
    """`send_notification` for a caller already inside a transaction (an event handler): it joins
    that transaction, and the deliveries are queued once the outermost one commits. A group or a
    role is resolved inside that transaction: with the permissions service split out, prefer
    user ids here."""
    request = _clean_request(
        type=type,
        context=context,
        user_ids=user_ids,
        group_id=group_id,
        role=role,
        scope=scope,
        channels=channels,
        idempotency_key=idempotency_key,
    )
    if request.key is not None and (existing := _already_sent(request.key, request.request_hash)) is not None:
        return existing
    recipients = _resolve_recipients(request.recipients)
    with transaction.atomic():
        return _record(request, recipients)


def send_notification(
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
) -> Notification:
    """Validate, resolve the recipients (outside any transaction: the permissions and users
    services may be remote), then record everything in one durable transaction."""
    request = _clean_request(
        type=type,
        context=context,
        user_ids=user_ids,
        group_id=group_id,
        role=role,
        scope=scope,
        channels=channels,
        idempotency_key=idempotency_key,
        org_id=org_id,
        org_role=org_role,
    )
    # A replay answers as the first call did, even if the group or role has changed since.
    if request.key is not None and (existing := _already_sent(request.key, request.request_hash)) is not None:
        return existing
    recipients = _resolve_recipients(request.recipients)
    with transaction.atomic(durable=True):
        return _record(request, recipients)


def send_notification_after_commit(
    *, type: str, context: dict[str, Any], group_id: uuid.UUID, idempotency_key: str
) -> None:
    """`send_notification` to a group, for a caller inside a transaction (an event handler): the
    group is resolved by a job (queue.SendToGroup) after the commit, outside any transaction,
    since the permissions service may be remote. The key makes a repeated job send once."""
    job = queue.SendToGroup(type=type, context=context, group_id=group_id, idempotency_key=idempotency_key)
    transaction.on_commit(lambda: queue.enqueue(job), robust=True)
