"""Writes of the notifications core service: record a notification, then deliver it.

`notification_send` records the notification, one delivery per recipient and channel and the
`notifications.notification_requested` event in one transaction; after the commit each delivery is
queued as a Celery task (`notifications.deliver`), which calls `delivery_attempt`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from notifications.interface import (
    CHANNEL_WEBHOOK,
    MAX_IDEMPOTENCY_KEY_LENGTH,
    NOTIFICATION_REQUESTED,
    SERVICE_NAME,
    IdempotencyKeyReused,
    InvalidNotification,
)
from notifications.models import Delivery, Notification
from project.celery import app as celery_app
from project.events.outbox import outbox_record
from project.kernel.context import get_request_id
from project.kernel.errors import ServiceUnavailable
from users.interface import User, user_service

from .channels import SENDERS, PermanentFailure, webhook_configured
from .rendering import RenderError, render
from .types import TypeDefinition, type_get

log = logging.getLogger(__name__)

# The Celery task that delivers one delivery (notifications.tasks). Named, not imported: the
# tasks layer sits above this one.
DELIVER_TASK = "notifications.deliver"
MAX_RECIPIENTS = 10000
ERROR_MAX = 2000


class DeliveryRetry(Exception):
    """An attempt failed for a reason that may pass (mail server down, users service unreachable).
    It is recorded on the delivery; the task tries again later, with backoff."""


# --- Sending ---------------------------------------------------------------------------------------


def _clean_recipients(user_ids: Any) -> list[uuid.UUID]:
    if not isinstance(user_ids, list | tuple) or not user_ids:
        raise InvalidNotification("At least one recipient is needed.", details={"user_ids": ["At least one."]})
    if len(user_ids) > MAX_RECIPIENTS:
        raise InvalidNotification(
            "Too many recipients.", details={"user_ids": [f"At most {MAX_RECIPIENTS} per notification."]}
        )
    recipients: dict[uuid.UUID, None] = {}
    for value in user_ids:
        try:
            recipients[value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))] = None
        except ValueError:
            raise InvalidNotification(
                "A recipient is not a valid user id.", details={"user_ids": [f"Not a UUID: {str(value)[:64]!r}."]}
            ) from None
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
            cleaned[field.name] = value
    if problems:
        raise InvalidNotification(
            f"The context does not fit the {definition.code} type.", details={"context": problems}
        )
    return cleaned


def _clean_idempotency_key(key: Any) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidNotification(
            "The idempotency key is not valid.",
            details={"idempotency_key": [f"1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters."]},
        )
    return key


def _request_hash(*, type: str, recipients: list[uuid.UUID], channels: list[str], context: dict[str, str]) -> str:
    canonical = json.dumps(
        {"type": type, "user_ids": sorted(map(str, recipients)), "channels": sorted(channels), "context": context},
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _already_sent(key: str, request_hash: str) -> Notification | None:
    existing = Notification.objects.filter(idempotency_key=key).first()
    if existing is not None and existing.request_hash != request_hash:
        raise IdempotencyKeyReused(details={"idempotency_key": ["Already used for a different notification."]})
    return existing


def notification_create(
    *,
    type: str,
    user_ids: list[uuid.UUID],
    context: dict[str, Any],
    channels: list[str] | None = None,
    idempotency_key: str | None = None,
) -> Notification:
    """`notification_send` for a caller already inside a transaction (an event handler): it joins
    that transaction, and the deliveries are queued once the outermost one commits."""
    definition = type_get(code=type)
    recipients = _clean_recipients(user_ids)
    channels = _clean_channels(definition, channels)
    context = _clean_context(definition, context)
    key = _clean_idempotency_key(idempotency_key)
    request_hash = _request_hash(type=definition.code, recipients=recipients, channels=channels, context=context)
    with transaction.atomic():
        if key is not None and (existing := _already_sent(key, request_hash)) is not None:
            return existing
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    type=definition.code,
                    context=context,
                    idempotency_key=key,
                    request_hash=request_hash,
                    request_id=get_request_id() or "",
                )
        except IntegrityError:
            # A concurrent send with the same key committed first (we waited on its unique key).
            existing = _already_sent(key, request_hash) if key is not None else None
            if existing is None:
                raise
            return existing
        # Preferences (opt-outs) come with a later issue; a mandatory type will ignore them.
        deliveries = Delivery.objects.bulk_create(
            [
                Delivery(notification=notification, user_id=user_id, channel=channel)
                for user_id in recipients
                for channel in channels
            ]
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
        delivery_ids = [delivery.id for delivery in deliveries]
        # robust: the notification is committed whatever happens to the queueing; the sweeper
        # queues whatever is left pending.
        transaction.on_commit(lambda: deliveries_enqueue(delivery_ids=delivery_ids), robust=True)
    return notification


@transaction.atomic(durable=True)
def notification_send(
    *,
    type: str,
    user_ids: list[uuid.UUID],
    context: dict[str, Any],
    channels: list[str] | None = None,
    idempotency_key: str | None = None,
) -> Notification:
    return notification_create(
        type=type, user_ids=user_ids, context=context, channels=channels, idempotency_key=idempotency_key
    )


def deliveries_enqueue(*, delivery_ids: Iterable[uuid.UUID]) -> None:
    """Queue one delivery task per id (run in-process at once in embedded mode). Never raises:
    a delivery that could not be queued stays pending, and the sweeper queues it later."""
    task = celery_app.tasks[DELIVER_TASK]
    eager = celery_app.conf.task_always_eager
    for delivery_id in delivery_ids:
        try:
            task.apply_async(args=[str(delivery_id)])
        except Exception:
            log.exception("delivery %s could not be queued; the sweeper will queue it again", delivery_id)
            if not eager:
                break  # the broker is down: do not wait on it once per delivery


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


def delivery_attempt(*, delivery_id: uuid.UUID, last_try: bool = False) -> str:
    """Try to send one delivery; returns its status afterwards.

    Idempotent: a delivery that is no longer pending is left alone. The row is locked while the
    message goes out, so two workers holding the same delivery never both send it; the second
    finds it sent. A transient failure is recorded (attempts, last_error) and raised as
    DeliveryRetry for the task to retry, unless this is the `last_try`: then it is marked failed.
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

    user = _recipient(delivery_id, delivery.user_id, last_try=last_try)
    if user is None:
        return Delivery.objects.get(id=delivery_id).status
    if not user.is_active and not definition.mandatory:
        return _finish(delivery_id, status=Delivery.Status.SKIPPED, error="The user is inactive.", attempted=False)
    try:
        rendered = render(definition, notification.context)
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
