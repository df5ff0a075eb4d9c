"""Delivery: the state machine that takes a pending delivery to sent, failed or skipped.

No network call is made with a transaction open. An attempt on a channel that reaches the network
(email, webhook) runs in three steps:

1. claim: a short transaction locks the row, checks it is still pending and not claimed by a live
   attempt, and stamps it with a fresh claim id (and the task running it); commit;
2. send, with no transaction open and no lock held;
3. record: a second short transaction writes the outcome, only if the row still carries our claim
   id (an attempt whose claim was taken over leaves the outcome to the one that took it).

A claim expires when the row has been untouched for NOTIFICATIONS_STALE_AFTER_SECONDS (the
sweeper's age); the same task, redelivered by the broker after its worker died, takes its own
claim over at once. A local channel (in-app: it only writes rows here) needs none of this: it
sends and records in one transaction. docs/notifications.md describes the guarantees.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from notifications.models import Delivery
from project.kernel.errors import ServiceUnavailable
from users.interface import User, user_service
from users.interface.orgs import InvalidOrgInput, OrgNotFound, org_service

from . import queue
from .channels import CHANNELS, Channel, PermanentFailure
from .rendering import Rendered, RenderError, render
from .types import TYPES, type_get

log = logging.getLogger(__name__)

# Deliveries per queued job: one message on the broker per batch, not per delivery.
DELIVERY_BATCH_SIZE = 100
ERROR_MAX = 2000
# Pending deliveries untouched for this long lost their task (the sweeper queues them again), and
# their claims have expired. Longer than the longest backoff and the longest send.
DEFAULT_STALE_AFTER_SECONDS = 900


class DeliveryRetry(Exception):
    """An attempt failed for a reason that may pass (mail server down, users service unreachable).
    It is recorded on the delivery; the task tries again later, with backoff."""


def stale_after() -> timedelta:
    return timedelta(seconds=getattr(settings, "NOTIFICATIONS_STALE_AFTER_SECONDS", DEFAULT_STALE_AFTER_SECONDS))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_MAX]


def _claimed_by_another(row: Delivery, owner: str) -> bool:
    """Whether a live attempt other than `owner`'s holds the row."""
    if row.claim_id is None or (owner and row.claimed_by == owner):
        return False
    return row.updated_at > timezone.now() - stale_after()


# --- Queueing --------------------------------------------------------------------------------------


def deliveries_enqueue(*, delivery_ids: Iterable[uuid.UUID]) -> None:
    """Queue the deliveries, DELIVERY_BATCH_SIZE per job (run in-process at once in embedded
    mode). Never raises: a delivery that could not be queued stays pending, and the sweeper queues
    it later."""
    delivery_ids = list(delivery_ids)
    for start in range(0, len(delivery_ids), DELIVERY_BATCH_SIZE):
        chunk = delivery_ids[start : start + DELIVERY_BATCH_SIZE]
        try:
            queue.enqueue(queue.Deliver(chunk[0]) if len(chunk) == 1 else queue.DeliverBatch(tuple(chunk)))
        except Exception:
            log.exception("%d deliveries could not be queued; the sweeper will queue them again", len(chunk))
            break  # the broker is down: do not wait on it once per batch


# --- Attempting ------------------------------------------------------------------------------------


def deliveries_attempt_batch(*, delivery_ids: list[uuid.UUID], owner: str = "") -> None:
    """A first attempt at each pending delivery of a batch, with the recipients looked up at once.
    A delivery whose attempt should be retried is handed to its own `Deliver` job, which retries
    it with backoff; so is one whose attempt raised unexpectedly. `owner`: the task running this."""
    rows = _org_filter(
        list(
            Delivery.objects.filter(id__in=delivery_ids, status=Delivery.Status.PENDING).values_list(
                "id", "user_id", "notification__org_id", "notification__org_role"
            )
        ),
        owner,
    )
    org_checked = rows is not None
    if rows is None:  # the users service did not answer: each attempt checks on its own
        rows = list(
            Delivery.objects.filter(id__in=delivery_ids, status=Delivery.Status.PENDING).values_list("id", "user_id")
        )
    users: dict[uuid.UUID, User] | None
    try:
        users = {user.id: user for user in user_service.get_users(user_ids=list({user_id for _, user_id in rows}))}
    except ServiceUnavailable:
        users = None  # each attempt looks its recipient up, and retries
    retry: list[uuid.UUID] = []
    done: set[uuid.UUID] = set()
    if users is not None:
        try:
            done = _local_batch([delivery_id for delivery_id, _ in rows], users)
        except Exception:
            log.exception("local deliveries of a batch failed together; each is attempted on its own")
    for delivery_id, _ in rows:
        if delivery_id in done:
            continue
        try:
            delivery_attempt(delivery_id=delivery_id, users=users, owner=owner, org_checked=org_checked)
        except DeliveryRetry:
            retry.append(delivery_id)
        except Exception:
            log.exception("notification delivery %s: attempt failed unexpectedly; retried on its own", delivery_id)
            retry.append(delivery_id)
    for delivery_id in retry:
        try:
            # As the task's own first retry: the batch made the first attempt.
            queue.enqueue(queue.Deliver(delivery_id, retries=1, countdown=1))
        except Exception:
            log.exception("delivery %s could not be queued; the sweeper will queue it again", delivery_id)
            break


NOT_A_MEMBER = "The recipient is no longer a member of the organization (or no longer holds the role)."


def _org_members(org_id: uuid.UUID, org_role: str) -> set[uuid.UUID]:
    """Who an org notification may still reach (users service, maybe remote: no transaction open).
    An org deleted since, or a role gone, reaches nobody. ServiceUnavailable propagates."""
    try:
        return set(org_service.member_ids(org_id=org_id, role=org_role or None))
    except (OrgNotFound, InvalidOrgInput):
        return set()


def _org_filter(rows: list[tuple], owner: str) -> list[tuple[uuid.UUID, uuid.UUID]] | None:
    """The batch's (delivery id, user id) pairs whose recipient may still get them: a delivery of
    an org notification whose recipient is no longer a member (or no longer holds its role) is
    recorded skipped. One member listing per org notification in the batch. None when the users
    service is unavailable (each attempt then checks, and retries)."""
    members: dict[tuple[uuid.UUID, str], set[uuid.UUID]] = {}
    try:
        for _, _, org_id, org_role in rows:
            if org_id is not None and (org_id, org_role) not in members:
                members[(org_id, org_role)] = _org_members(org_id, org_role)
    except ServiceUnavailable:
        return None
    kept = []
    for delivery_id, user_id, org_id, org_role in rows:
        if org_id is not None and user_id not in members[(org_id, org_role)]:
            _finish(delivery_id, status=Delivery.Status.SKIPPED, error=NOT_A_MEMBER, attempted=False, owner=owner)
        else:
            kept.append((delivery_id, user_id))
    return kept


@transaction.atomic(durable=True)
def _local_batch(delivery_ids: list[uuid.UUID], users: dict[uuid.UUID, User]) -> set[uuid.UUID]:
    """Send the batch's deliveries on local channels (in-app) in one transaction: they only write
    rows here, so there is no outside effect to keep apart, and one commit beats a hundred. What
    this does not handle (a missing or inactive recipient, a message that does not render) is left
    to `delivery_attempt`, which records why. Returns the ids it sent."""
    batched = [channel.name for channel in CHANNELS.values() if channel.local and channel.send_many]
    rows = list(
        Delivery.objects.select_for_update()
        .select_related("notification")
        .filter(id__in=delivery_ids, status=Delivery.Status.PENDING, channel__in=batched)
    )
    rendered_by_notification: dict[tuple[uuid.UUID, uuid.UUID | None], Rendered | None] = {}
    by_channel: dict[str, list[tuple[Delivery, User, Rendered]]] = {}
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
        if rendered is not None:
            by_channel.setdefault(row.channel, []).append((row, user, rendered))
    now = timezone.now()
    sent: list[Delivery] = []
    for name, items in by_channel.items():
        channel = CHANNELS[name]
        channel.send_many(items)  # type: ignore[misc] - only channels with send_many were selected
        rows_sent = [row for row, _, _ in items]
        Delivery.objects.filter(id__in=[row.id for row in rows_sent]).update(
            status=Delivery.Status.SENT, attempts=F("attempts") + 1, sent_at=now, updated_at=now
        )
        channel.after_sent(rows_sent)
        sent.extend(rows_sent)
    if sent:
        log.info("%d local notification deliveries sent", len(sent))
    return {row.id for row in sent}


def _finish(delivery_id: uuid.UUID, *, status: str, error: str, attempted: bool, owner: str) -> str:
    """Record an outcome decided before sending (skipped, or a failure no retry can fix), unless
    a live attempt of another task holds the delivery (it records its own)."""
    with transaction.atomic(durable=True):
        row = Delivery.objects.select_for_update().filter(id=delivery_id).first()
        if row is None or row.status != Delivery.Status.PENDING or _claimed_by_another(row, owner):
            return row.status if row else ""
        row.status = status
        row.last_error = error[:ERROR_MAX]
        row.attempts += 1 if attempted else 0
        row.claim_id, row.claimed_by = None, ""
        row.updated_at = timezone.now()
        row.save(update_fields=["status", "last_error", "attempts", "claim_id", "claimed_by", "updated_at"])
    log.log(
        logging.ERROR if status == Delivery.Status.FAILED else logging.INFO,
        "notification delivery %s %s: %s",
        delivery_id,
        status,
        error,
    )
    return status


def _guest(definition, context: dict, user_id: uuid.UUID) -> User | None:
    """The recipient of a `guest` type whose id is no account: the address its context names
    (an invitation to someone who has not registered yet, docs/orgs.md)."""
    address = context.get(definition.email_to or "") if definition.guest and definition.system else None
    if not address:
        return None
    return User(
        id=user_id,
        email=str(address),
        display_name="",
        is_active=True,
        is_verified=False,
        is_staff=False,
        is_superuser=False,
        date_joined=timezone.now(),
        has_password=False,
    )


def _recipient(
    delivery_id: uuid.UUID, user_id: uuid.UUID, *, last_try: bool, owner: str, guest: User | None = None
) -> User | None:
    # Outside any transaction: with the users service split out this is a gRPC call.
    try:
        found = user_service.get_users(user_ids=[user_id])
    except ServiceUnavailable as exc:
        error = _describe(exc)
        if last_try:
            _finish(delivery_id, status=Delivery.Status.FAILED, error=error, attempted=True, owner=owner)
            return None
        Delivery.objects.filter(id=delivery_id, status=Delivery.Status.PENDING).update(
            attempts=F("attempts") + 1, last_error=error, updated_at=timezone.now()
        )
        raise DeliveryRetry(error) from None
    if not found and guest is not None:
        return guest
    if not found:
        _finish(
            delivery_id, status=Delivery.Status.SKIPPED, error="The user does not exist.", attempted=False, owner=owner
        )
        return None
    return found[0]


def delivery_attempt(
    *,
    delivery_id: uuid.UUID,
    last_try: bool = False,
    users: dict[uuid.UUID, User] | None = None,
    owner: str = "",
    org_checked: bool = False,
) -> str:
    """Try to send one delivery; returns its status afterwards.

    Idempotent: a delivery that is no longer pending is left alone, and so is one that a live
    attempt of another task has claimed (that attempt records the outcome). A transient failure is
    recorded (attempts, last_error) and raised as DeliveryRetry for the task to retry, unless this
    is the `last_try`: then it is marked failed. `users`, when given, are the recipients looked up
    already (a batch): one missing is unknown. `owner` names the task running the attempt (its id:
    the same on a redelivery), so that it can take over the claim its dead predecessor left.
    The recipient of an org notification must still be a member (and hold its role), unless the
    batch checked that just now (`org_checked`); otherwise the delivery is skipped.
    """
    delivery = Delivery.objects.select_related("notification").filter(id=delivery_id).first()
    if delivery is None:
        log.warning("notification delivery %s does not exist", delivery_id)
        return ""
    if delivery.status != Delivery.Status.PENDING or _claimed_by_another(delivery, owner):
        return delivery.status
    notification = delivery.notification
    try:
        definition = type_get(code=notification.type)
        channel = CHANNELS[delivery.channel]
    except Exception as exc:  # a type or channel that this version of the code no longer has
        return _finish(delivery_id, status=Delivery.Status.FAILED, error=_describe(exc), attempted=True, owner=owner)
    if not channel.configured():
        return _finish(
            delivery_id,
            status=Delivery.Status.FAILED,
            error=_describe(channel.unconfigured()),
            attempted=True,
            owner=owner,
        )

    if notification.org_id is not None and not org_checked:
        try:
            member = delivery.user_id in _org_members(notification.org_id, notification.org_role)
        except ServiceUnavailable as exc:
            error = _describe(exc)
            if last_try:
                return _finish(delivery_id, status=Delivery.Status.FAILED, error=error, attempted=True, owner=owner)
            Delivery.objects.filter(id=delivery_id, status=Delivery.Status.PENDING).update(
                attempts=F("attempts") + 1, last_error=error, updated_at=timezone.now()
            )
            raise DeliveryRetry(error) from None
        if not member:
            return _finish(
                delivery_id, status=Delivery.Status.SKIPPED, error=NOT_A_MEMBER, attempted=False, owner=owner
            )

    guest = _guest(definition, notification.context, delivery.user_id)
    if users is not None:
        user = users.get(delivery.user_id) or guest
        if user is None:
            return _finish(
                delivery_id,
                status=Delivery.Status.SKIPPED,
                error="The user does not exist.",
                attempted=False,
                owner=owner,
            )
    else:
        user = _recipient(delivery_id, delivery.user_id, last_try=last_try, owner=owner, guest=guest)
    if user is None:
        return Delivery.objects.get(id=delivery_id).status
    if not user.is_active and not definition.mandatory:
        return _finish(
            delivery_id, status=Delivery.Status.SKIPPED, error="The user is inactive.", attempted=False, owner=owner
        )
    try:
        rendered = render(definition, notification.context, delivery.user_id)
    except RenderError as exc:
        return _finish(delivery_id, status=Delivery.Status.FAILED, error=_describe(exc), attempted=True, owner=owner)

    if channel.local:
        with transaction.atomic(durable=True):
            row = Delivery.objects.select_for_update().get(id=delivery_id)
            if row.status != Delivery.Status.PENDING:
                return row.status  # another worker got there first
            failure = _send(channel, delivery, user, rendered, savepoint=True)
            retry_error = _record(row, channel, failure, last_try=last_try)
    else:
        claim_id = _claim(delivery_id, owner)
        if claim_id is None:
            return Delivery.objects.get(id=delivery_id).status  # sent, or in flight elsewhere
        failure = _send(channel, delivery, user, rendered)  # no transaction open, no lock held
        with transaction.atomic(durable=True):
            row = Delivery.objects.select_for_update().get(id=delivery_id)
            if row.claim_id != claim_id:
                # Our claim expired and another attempt took it over: that one records.
                log.warning("notification delivery %s: claim taken over; this attempt's outcome dropped", delivery_id)
                return row.status
            retry_error = _record(row, channel, failure, last_try=last_try)

    if retry_error is not None:
        log.warning("notification delivery %s attempt %d failed: %s", delivery_id, row.attempts, retry_error)
        raise DeliveryRetry(retry_error)
    if row.status == Delivery.Status.FAILED:
        log.error("notification delivery %s failed after %d attempt(s): %s", delivery_id, row.attempts, row.last_error)
    else:
        log.info("notification delivery %s sent on %s", delivery_id, row.channel)
    return row.status


def _claim(delivery_id: uuid.UUID, owner: str) -> uuid.UUID | None:
    """Mark the delivery in flight for this attempt and commit; None if it is not pending any more
    or a live attempt of another task holds it."""
    with transaction.atomic(durable=True):
        row = Delivery.objects.select_for_update().filter(id=delivery_id).first()
        if row is None or row.status != Delivery.Status.PENDING or _claimed_by_another(row, owner):
            return None
        if row.claim_id is not None:
            log.warning("notification delivery %s: taking over the claim of %s", delivery_id, row.claimed_by or "?")
        row.claim_id, row.claimed_by, row.updated_at = uuid.uuid4(), owner, timezone.now()
        row.save(update_fields=["claim_id", "claimed_by", "updated_at"])
        return row.claim_id


def _send(
    channel: Channel, delivery: Delivery, user: User, rendered: Rendered, *, savepoint: bool = False
) -> Exception | None:
    """Send; returns the failure instead of raising it. `savepoint`: a local channel's send, inside
    the recording transaction, which a failed write must not break."""
    try:
        if savepoint:
            with transaction.atomic():
                channel.send(delivery, user, rendered)
        else:
            channel.send(delivery, user, rendered)
    except Exception as exc:
        return exc
    return None


def _record(row: Delivery, channel: Channel, failure: Exception | None, *, last_try: bool) -> str | None:
    """Inside the recording transaction, with the row locked: write the attempt's outcome and
    release the claim. Returns the error to retry on, if the delivery should be tried again."""
    retry_error = None
    row.attempts += 1
    row.claim_id, row.claimed_by = None, ""
    if failure is None:
        # last_error stays: a delivery sent after retries keeps the reason it needed them.
        row.status, row.sent_at = Delivery.Status.SENT, timezone.now()
    else:
        row.last_error = _describe(failure)
        if isinstance(failure, PermanentFailure) or last_try:
            row.status = Delivery.Status.FAILED
        else:
            retry_error = row.last_error
    row.updated_at = timezone.now()
    row.save(update_fields=["status", "attempts", "last_error", "sent_at", "updated_at", "claim_id", "claimed_by"])
    if row.status == Delivery.Status.SENT:
        channel.after_sent([row])
    return retry_error


# --- Operations ------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def deliveries_retry(*, delivery_ids: Iterable[uuid.UUID]) -> int:
    """Give failed (dead-lettered) or stuck pending deliveries a fresh set of retries: back to
    pending, their claims released, queued after the commit. Sent and skipped ones are left
    alone. Returns how many."""
    rows = list(
        Delivery.objects.select_for_update()
        .filter(id__in=list(delivery_ids), status__in=[Delivery.Status.FAILED, Delivery.Status.PENDING])
        .values_list("id", flat=True)
    )
    Delivery.objects.filter(id__in=rows).update(
        status=Delivery.Status.PENDING, claim_id=None, claimed_by="", updated_at=timezone.now()
    )
    transaction.on_commit(lambda: deliveries_enqueue(delivery_ids=rows), robust=True)
    return len(rows)


@transaction.atomic(durable=True)
def deliveries_requeue_stale(*, older_than: float, batch: int = 500) -> int:
    """Queue again the pending deliveries nothing touched for `older_than` seconds: their task was
    lost (the broker was down when it was queued, or the process died before queueing it, or
    while it sent, leaving its claim behind: released here). Must exceed the longest retry
    backoff and the longest send, or a delivery waiting for a retry is queued twice (harmless, but
    wasteful) and one still being sent may be sent again. Rows locked right now are skipped.
    Returns how many."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    rows = list(
        Delivery.objects.select_for_update(skip_locked=True)
        .filter(status=Delivery.Status.PENDING, updated_at__lt=cutoff)
        .order_by("updated_at")
        .values_list("id", flat=True)[:batch]
    )
    Delivery.objects.filter(id__in=rows).update(claim_id=None, claimed_by="", updated_at=timezone.now())
    transaction.on_commit(lambda: deliveries_enqueue(delivery_ids=rows), robust=True)
    if rows:
        log.warning("re-queued %d stale notification deliveries", len(rows))
    return len(rows)


def deliveries_failed_by_channel() -> list[tuple[tuple[str], float]]:
    """How many deliveries gave up, per channel (the delivery-failure metric)."""
    rows = Delivery.objects.filter(status=Delivery.Status.FAILED).values("channel").annotate(n=Count("id"))
    found = {row["channel"]: row["n"] for row in rows}
    return [((channel,), float(found.get(channel, 0))) for channel in Delivery.Channel.values]
