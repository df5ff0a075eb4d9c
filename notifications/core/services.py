"""Writes of the notifications core service: record a notification, then deliver it.

`notification_send` resolves the recipients (groups and roles through the permissions service,
outside any transaction), then records the notification, one delivery per recipient and channel
(`skipped` where the recipient turned the channel off) and the
`notifications.notification_requested` event in one transaction; after the commit the pending
deliveries are queued in batches of DELIVERY_BATCH_SIZE as Celery tasks
(`notifications.deliver_batch`, or `notifications.deliver` for a single one), which call
`delivery_attempt` for each.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from notifications.interface import (
    CHANNEL_IN_APP,
    CHANNEL_WEBHOOK,
    MAX_IDEMPOTENCY_KEY_LENGTH,
    MAX_RECIPIENTS,
    NOTIFICATION_REQUESTED,
    SERVICE_NAME,
    IdempotencyKeyReused,
    InvalidNotification,
    InvalidPreferences,
    NotificationNotFound,
    Preference,
)
from notifications.models import Delivery, InAppMessage, Notification
from notifications.models import Preference as PreferenceModel
from permissions.interface import GroupNotFound, InvalidScope, RoleNotFound, normalise_scope, permission_service
from project.celery import app as celery_app
from project.events.outbox import outbox_record
from project.kernel.context import get_request_id
from project.kernel.errors import ServiceUnavailable
from users.interface import User, user_service

from . import unread
from .channels import SENDERS, PermanentFailure, webhook_configured
from .rendering import RenderError, render
from .selectors import preferences_off
from .types import TYPES, TypeDefinition, type_get

log = logging.getLogger(__name__)

# The Celery task that delivers one delivery (notifications.tasks). Named, not imported: the
# tasks layer sits above this one.
DELIVER_TASK = "notifications.deliver"
DELIVER_BATCH_TASK = "notifications.deliver_batch"
SEND_TASK = "notifications.send"
# Deliveries per queued task: one message on the broker per batch, not per delivery.
DELIVERY_BATCH_SIZE = 100
OPTED_OUT = "The recipient turned this channel off for this type."
ERROR_MAX = 2000


class DeliveryRetry(Exception):
    """An attempt failed for a reason that may pass (mail server down, users service unreachable).
    It is recorded on the delivery; the task tries again later, with backoff."""


# --- Sending ---------------------------------------------------------------------------------------


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

    def canonical(self) -> dict[str, Any]:
        # Only what was given, so a send to user ids hashes as it always did.
        spec: dict[str, Any] = {"user_ids": sorted(map(str, self.user_ids))}
        if self.group_id is not None:
            spec["group_id"] = str(self.group_id)
        if self.role is not None:
            spec["role"], spec["scope"] = self.role, self.scope
        return spec


def _clean_recipient_spec(user_ids: Any, group_id: Any, role: Any, scope: Any) -> RecipientSpec:
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
    if CHANNEL_WEBHOOK in channels and not webhook_configured():
        raise InvalidNotification(
            "The webhook channel is not configured.",
            details={"channels": ["The webhook channel needs NOTIFICATIONS_WEBHOOK_URL and _SECRET."]},
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
    *, type: str, context: Any, user_ids: Any, group_id: Any, role: Any, scope: Any, channels: Any, idempotency_key: Any
) -> _Request:
    definition = type_get(code=type)
    recipients = _clean_recipient_spec(user_ids, group_id, role, scope)
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
    """`notification_send` for a caller already inside a transaction (an event handler): it joins
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


def notification_send(
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
    """Validate, resolve the recipients (outside any transaction: the permissions service may be
    remote), then record everything in one durable transaction."""
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
    # A replay answers as the first call did, even if the group or role has changed since.
    if request.key is not None and (existing := _already_sent(request.key, request.request_hash)) is not None:
        return existing
    recipients = _resolve_recipients(request.recipients)
    with transaction.atomic(durable=True):
        return _record(request, recipients)


def notification_send_after_commit(
    *, type: str, context: dict[str, Any], group_id: uuid.UUID, idempotency_key: str
) -> None:
    """`notification_send` to a group, for a caller inside a transaction (an event handler): the
    group is resolved by a task (`notifications.send`) after the commit, outside any transaction,
    since the permissions service may be remote. The key makes a repeated task send once."""
    kwargs = {"type": type, "context": context, "group_id": str(group_id), "idempotency_key": idempotency_key}

    def queue() -> None:
        celery_app.tasks[SEND_TASK].apply_async(kwargs=kwargs)

    transaction.on_commit(queue, robust=True)


def deliveries_enqueue(*, delivery_ids: Iterable[uuid.UUID]) -> None:
    """Queue the deliveries, DELIVERY_BATCH_SIZE per task (run in-process at once in embedded
    mode). Never raises: a delivery that could not be queued stays pending, and the sweeper queues
    it later."""
    delivery_ids = [str(delivery_id) for delivery_id in delivery_ids]
    single, batch = celery_app.tasks[DELIVER_TASK], celery_app.tasks[DELIVER_BATCH_TASK]
    eager = celery_app.conf.task_always_eager
    for start in range(0, len(delivery_ids), DELIVERY_BATCH_SIZE):
        chunk = delivery_ids[start : start + DELIVERY_BATCH_SIZE]
        try:
            if len(chunk) == 1:
                single.apply_async(args=[chunk[0]])
            else:
                batch.apply_async(args=[chunk])
        except Exception:
            log.exception("%d deliveries could not be queued; the sweeper will queue them again", len(chunk))
            if not eager:
                break  # the broker is down: do not wait on it once per batch


def deliveries_attempt_batch(*, delivery_ids: list[uuid.UUID]) -> None:
    """A first attempt at each pending delivery of a batch, with the recipients looked up at once.
    A delivery whose attempt should be retried is handed to its own `notifications.deliver` task,
    which retries it with backoff; so is one whose attempt raised unexpectedly."""
    rows = list(
        Delivery.objects.filter(id__in=delivery_ids, status=Delivery.Status.PENDING).values_list("id", "user_id")
    )
    users: dict[uuid.UUID, User] | None
    try:
        users = {user.id: user for user in user_service.get_many(user_ids=list({user_id for _, user_id in rows}))}
    except ServiceUnavailable:
        users = None  # each attempt looks its recipient up, and retries
    retry: list[uuid.UUID] = []
    done: set[uuid.UUID] = set()
    if users is not None:
        try:
            done = _in_app_batch([delivery_id for delivery_id, _ in rows], users)
        except Exception:
            log.exception("in-app deliveries of a batch failed together; each is attempted on its own")
    for delivery_id, _ in rows:
        if delivery_id in done:
            continue
        try:
            delivery_attempt(delivery_id=delivery_id, users=users)
        except DeliveryRetry:
            retry.append(delivery_id)
        except Exception:
            log.exception("notification delivery %s: attempt failed unexpectedly; retried on its own", delivery_id)
            retry.append(delivery_id)
    task = celery_app.tasks[DELIVER_TASK]
    for delivery_id in retry:
        try:
            # As the task's own first retry: the batch made the first attempt.
            task.apply_async(args=[str(delivery_id)], countdown=1, retries=1)
        except Exception:
            log.exception("delivery %s could not be queued; the sweeper will queue it again", delivery_id)
            break


@transaction.atomic(durable=True)
def _in_app_batch(delivery_ids: list[uuid.UUID], users: dict[uuid.UUID, User]) -> set[uuid.UUID]:
    """Send the batch's plain in-app deliveries in one transaction: they only write rows here, so
    there is no outside effect to keep apart, and one commit beats a hundred. What this does not
    handle (a missing or inactive recipient, a message that does not render) is left to
    `delivery_attempt`, which records why. Returns the ids it sent."""
    rows = list(
        Delivery.objects.select_for_update()
        .select_related("notification")
        .filter(id__in=delivery_ids, status=Delivery.Status.PENDING, channel=CHANNEL_IN_APP)
    )
    rendered_by_notification: dict[uuid.UUID, Any] = {}
    messages, sent = [], []
    for row in rows:
        user = users.get(row.user_id)
        definition = TYPES.get(row.notification.type)
        if user is None or definition is None or (not user.is_active and not definition.mandatory):
            continue
        # A type with a sealed token renders per recipient (the token opens only for its user).
        key = (row.notification_id, row.user_id if definition.sealed_field else None)
        if key not in rendered_by_notification:
            try:
                rendered_by_notification[key] = render(definition, row.notification.context, row.user_id)
            except RenderError:
                rendered_by_notification[key] = None
        rendered = rendered_by_notification[key]
        if rendered is None:
            continue
        messages.append(
            InAppMessage(
                notification_id=row.notification_id, user_id=row.user_id, subject=rendered.subject, body=rendered.text
            )
        )
        sent.append(row)
    # The unique key keeps a second copy out, as send_in_app's get_or_create does.
    InAppMessage.objects.bulk_create(messages, ignore_conflicts=True)
    now = timezone.now()
    Delivery.objects.filter(id__in=[row.id for row in sent]).update(
        status=Delivery.Status.SENT, attempts=F("attempts") + 1, sent_at=now, updated_at=now
    )
    unread.invalidate_on_commit({row.user_id for row in sent})
    if sent:
        log.info("%d in-app notification deliveries sent", len(sent))
    return {row.id for row in sent}


# --- Delivering ------------------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_MAX]


def _finish(delivery_id: uuid.UUID, *, status: str, error: str, attempted: bool) -> str:
    """Record an outcome decided before sending (skipped, or a failure no retry can fix)."""
    with transaction.atomic(durable=True):
        row = Delivery.objects.select_for_update().filter(id=delivery_id).first()
        if row is None or row.status != Delivery.Status.PENDING:
            return row.status if row else ""
        row.status = status
        row.last_error = error[:ERROR_MAX]
        row.attempts += 1 if attempted else 0
        row.updated_at = timezone.now()
        row.save(update_fields=["status", "last_error", "attempts", "updated_at"])
    log.log(
        logging.ERROR if status == Delivery.Status.FAILED else logging.INFO,
        "notification delivery %s %s: %s",
        delivery_id,
        status,
        error,
    )
    return status


def _recipient(delivery_id: uuid.UUID, user_id: uuid.UUID, *, last_try: bool) -> User | None:
    # Outside any transaction: with the users service split out this is a gRPC call.
    try:
        found = user_service.get_many(user_ids=[user_id])
    except ServiceUnavailable as exc:
        error = _describe(exc)
        if last_try:
            _finish(delivery_id, status=Delivery.Status.FAILED, error=error, attempted=True)
            return None
        Delivery.objects.filter(id=delivery_id, status=Delivery.Status.PENDING).update(
            attempts=F("attempts") + 1, last_error=error, updated_at=timezone.now()
        )
        raise DeliveryRetry(error) from None
    if not found:
        _finish(delivery_id, status=Delivery.Status.SKIPPED, error="The user does not exist.", attempted=False)
        return None
    return found[0]


def delivery_attempt(
    *, delivery_id: uuid.UUID, last_try: bool = False, users: dict[uuid.UUID, User] | None = None
) -> str:
    """Try to send one delivery; returns its status afterwards.

    Idempotent: a delivery that is no longer pending is left alone. The row is locked while the
    message goes out, so two workers holding the same delivery never both send it; the second
    finds it sent. A transient failure is recorded (attempts, last_error) and raised as
    DeliveryRetry for the task to retry, unless this is the `last_try`: then it is marked failed.
    `users`, when given, are the recipients looked up already (a batch): one missing is unknown.
    """
    delivery = Delivery.objects.select_related("notification").filter(id=delivery_id).first()
    if delivery is None:
        log.warning("notification delivery %s does not exist", delivery_id)
        return ""
    if delivery.status != Delivery.Status.PENDING:
        return delivery.status
    notification = delivery.notification
    try:
        definition = type_get(code=notification.type)
        sender = SENDERS[delivery.channel]
    except Exception as exc:  # a type or channel that this version of the code no longer has
        return _finish(delivery_id, status=Delivery.Status.FAILED, error=_describe(exc), attempted=True)

    if users is not None:
        user = users.get(delivery.user_id)
        if user is None:
            return _finish(
                delivery_id, status=Delivery.Status.SKIPPED, error="The user does not exist.", attempted=False
            )
    else:
        user = _recipient(delivery_id, delivery.user_id, last_try=last_try)
    if user is None:
        return Delivery.objects.get(id=delivery_id).status
    if not user.is_active and not definition.mandatory:
        return _finish(delivery_id, status=Delivery.Status.SKIPPED, error="The user is inactive.", attempted=False)
    try:
        rendered = render(definition, notification.context, delivery.user_id)
    except RenderError as exc:
        return _finish(delivery_id, status=Delivery.Status.FAILED, error=_describe(exc), attempted=True)

    retry_error = None
    with transaction.atomic(durable=True):
        row = Delivery.objects.select_for_update().get(id=delivery_id)
        if row.status != Delivery.Status.PENDING:
            return row.status  # another worker got there first
        row.attempts += 1
        try:
            with transaction.atomic():  # a failed in-app write must not break this transaction
                sender(row, user, rendered)
        except PermanentFailure as exc:
            row.status, row.last_error = Delivery.Status.FAILED, _describe(exc)
        except Exception as exc:
            row.last_error = _describe(exc)
            if last_try:
                row.status = Delivery.Status.FAILED
            else:
                retry_error = row.last_error
        else:
            # last_error stays: a delivery sent after retries keeps the reason it needed them.
            row.status, row.sent_at = Delivery.Status.SENT, timezone.now()
            if row.channel == CHANNEL_IN_APP:
                unread.invalidate_on_commit([row.user_id])
        row.updated_at = timezone.now()
        row.save(update_fields=["status", "attempts", "last_error", "sent_at", "updated_at"])
    if retry_error is not None:
        log.warning("notification delivery %s attempt %d failed: %s", delivery_id, row.attempts, retry_error)
        raise DeliveryRetry(retry_error)
    if row.status == Delivery.Status.FAILED:
        log.error("notification delivery %s failed after %d attempt(s): %s", delivery_id, row.attempts, row.last_error)
    else:
        log.info("notification delivery %s sent on %s", delivery_id, row.channel)
    return row.status


# --- Operations ------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def deliveries_retry(*, delivery_ids: Iterable[uuid.UUID]) -> int:
    """Give failed (dead-lettered) or stuck pending deliveries a fresh set of retries: back to
    pending, queued after the commit. Sent and skipped ones are left alone. Returns how many."""
    rows = list(
        Delivery.objects.select_for_update()
        .filter(id__in=list(delivery_ids), status__in=[Delivery.Status.FAILED, Delivery.Status.PENDING])
        .values_list("id", flat=True)
    )
    Delivery.objects.filter(id__in=rows).update(status=Delivery.Status.PENDING, updated_at=timezone.now())
    transaction.on_commit(lambda: deliveries_enqueue(delivery_ids=rows), robust=True)
    return len(rows)


@transaction.atomic(durable=True)
def deliveries_requeue_stale(*, older_than: float, batch: int = 500) -> int:
    """Queue again the pending deliveries nothing touched for `older_than` seconds: their task was
    lost (the broker was down when it was queued, or the process died before queueing it).
    Must exceed the longest retry backoff, or deliveries waiting for a retry are queued twice (which
    is harmless, but wasteful). Rows a worker holds are skipped. Returns how many."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    rows = list(
        Delivery.objects.select_for_update(skip_locked=True)
        .filter(status=Delivery.Status.PENDING, updated_at__lt=cutoff)
        .order_by("updated_at")
        .values_list("id", flat=True)[:batch]
    )
    Delivery.objects.filter(id__in=rows).update(updated_at=timezone.now())
    transaction.on_commit(lambda: deliveries_enqueue(delivery_ids=rows), robust=True)
    if rows:
        log.warning("re-queued %d stale notification deliveries", len(rows))
    return len(rows)


# --- The inbox -------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def inbox_mark_read(*, user_id: uuid.UUID, message_id: uuid.UUID) -> None:
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
def inbox_mark_all_read(*, user_id: uuid.UUID) -> int:
    count = InAppMessage.objects.filter(user_id=user_id, read_at__isnull=True).update(read_at=timezone.now())
    if count:
        unread.invalidate_on_commit([user_id])
    return count


# --- Preferences -----------------------------------------------------------------------------------


def _clean_preferences(preferences: Any) -> list[tuple[str, str, bool]]:
    if not isinstance(preferences, list | tuple):
        raise InvalidPreferences(details={"preferences": {"": ["Must be a list."]}})
    problems: dict[str, list[str]] = {}
    cleaned: dict[tuple[str, str], bool] = {}
    for preference in preferences:
        type_code, channel, enabled = (
            getattr(preference, "type", None),
            getattr(preference, "channel", None),
            getattr(preference, "enabled", None),
        )
        where = f"{str(type_code)[:64]}.{str(channel)[:32]}"
        definition = TYPES.get(type_code) if isinstance(type_code, str) else None
        if definition is None:
            problems.setdefault(where, []).append("Unknown notification type.")
        elif channel not in definition.channels:
            problems.setdefault(where, []).append(f"Not a channel of this type ({', '.join(definition.channels)}).")
        elif not isinstance(enabled, bool):
            problems.setdefault(where, []).append("enabled must be true or false.")
        elif definition.mandatory and not enabled:
            problems.setdefault(where, []).append("A mandatory notification cannot be turned off.")
        elif (type_code, channel) in cleaned:
            problems.setdefault(where, []).append("Given more than once.")
        else:
            cleaned[(type_code, channel)] = enabled
    if problems:
        raise InvalidPreferences(details={"preferences": problems})
    return [(type_code, channel, enabled) for (type_code, channel), enabled in cleaned.items()]


@transaction.atomic(durable=True)
def preferences_set(*, user_id: uuid.UUID, preferences: list[Preference]) -> None:
    """All or nothing. A mandatory type may be "turned on" (a no-op); nothing is stored for it."""
    now = timezone.now()
    for type_code, channel, enabled in _clean_preferences(preferences):
        if TYPES[type_code].mandatory:
            continue
        PreferenceModel.objects.update_or_create(
            user_id=user_id, type=type_code, channel=channel, defaults={"enabled": enabled, "updated_at": now}
        )
