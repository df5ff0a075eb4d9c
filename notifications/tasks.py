"""Thin Celery tasks: load by id, call the core service. Core names no task: it hands jobs
(notifications.core.queue) to `enqueue`, which this module registers."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from notifications.core import queue
from notifications.core.delivery import (
    DEFAULT_STALE_AFTER_SECONDS,
    DeliveryRetry,
    deliveries_attempt_batch,
    deliveries_requeue_stale,
    delivery_attempt,
)
from notifications.core.sending import send_notification
from notifications.interface import InvalidNotification
from project.celery import app as celery_app
from project.kernel.errors import ServiceUnavailable

log = logging.getLogger(__name__)

DELIVER_TASK = "notifications.deliver"
DELIVER_BATCH_TASK = "notifications.deliver_batch"
SEND_TASK = "notifications.send"
# Retries of one delivery after its first attempt; then it is marked failed (a dead letter the
# admin can retry). Backoff doubles from 1 s up to RETRY_BACKOFF_MAX, with full jitter.
MAX_RETRIES = getattr(settings, "NOTIFICATIONS_MAX_RETRIES", 5)
RETRY_BACKOFF_MAX = 600
# Pending deliveries untouched for this long lost their task; longer than the longest backoff.
STALE_AFTER_SECONDS = getattr(settings, "NOTIFICATIONS_STALE_AFTER_SECONDS", DEFAULT_STALE_AFTER_SECONDS)


@shared_task(
    name=DELIVER_TASK,
    bind=True,
    acks_late=True,
    ignore_result=True,
    # Transient only: the database or a service away for a moment, the mail server down.
    autoretry_for=(DeliveryRetry, ServiceUnavailable, OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def deliver(self, delivery_id: str) -> str:
    owner = self.request.id or ""
    if not self.request.is_eager:
        return delivery_attempt(
            delivery_id=uuid.UUID(delivery_id), last_try=self.request.retries >= self.max_retries, owner=owner
        )
    # Embedded mode: no broker to come back through (and an eager retry would propagate to the
    # caller), so the retries run at once, as the in-process event consumers' do.
    for _ in range(self.max_retries - (self.request.retries or 0)):
        try:
            return delivery_attempt(delivery_id=uuid.UUID(delivery_id), owner=owner)
        except DeliveryRetry:
            pass
    return delivery_attempt(delivery_id=uuid.UUID(delivery_id), last_try=True, owner=owner)


@shared_task(
    name=DELIVER_BATCH_TASK,
    bind=True,
    acks_late=True,
    ignore_result=True,
    # The database away for a moment; a delivery attempted already is not attempted again.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def deliver_batch(self, delivery_ids: list[str]) -> None:
    """A first attempt at each delivery; those to retry go on as their own `deliver` tasks."""
    deliveries_attempt_batch(
        delivery_ids=[uuid.UUID(delivery_id) for delivery_id in delivery_ids], owner=self.request.id or ""
    )


@shared_task(
    name=SEND_TASK,
    acks_late=True,
    ignore_result=True,
    # The permissions service or the database away for a moment.
    autoretry_for=(ServiceUnavailable, OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def send(*, type: str, context: dict, group_id: str, idempotency_key: str) -> None:
    """A send to a group that an event handler asked for (send_notification_after_commit)."""
    try:
        send_notification(type=type, context=context, group_id=uuid.UUID(group_id), idempotency_key=idempotency_key)
    except InvalidNotification as exc:
        # The group is gone or empty by now: nobody to tell, and a retry would not change that.
        log.info("%s to group %s not sent: %s", type, group_id, exc.details)


# Expires: while no worker runs, sweeps do not pile up in the queue; the next one suffices.
@shared_task(name="notifications.sweep_deliveries", ignore_result=True, expires=60)
def sweep_deliveries() -> int:
    """Queue again the pending deliveries whose task was lost (beat runs this periodically)."""
    return deliveries_requeue_stale(older_than=STALE_AFTER_SECONDS)


def _as_call(job: queue.Job) -> tuple[Task, dict[str, Any]]:
    match job:
        case queue.Deliver():
            return deliver, {"args": [str(job.delivery_id)], "retries": job.retries, "countdown": job.countdown}
        case queue.DeliverBatch():
            return deliver_batch, {"args": [[str(delivery_id) for delivery_id in job.delivery_ids]]}
        case queue.SendToGroup():
            kwargs = {
                "type": job.type,
                "context": job.context,
                "group_id": str(job.group_id),
                "idempotency_key": job.idempotency_key,
            }
            return send, {"kwargs": kwargs}
    raise TypeError(f"not a job: {job!r}")


def enqueue(job: queue.Job) -> None:
    """Queue a job of core's as its task. Raises when the broker does not take it. In embedded
    mode the task runs here and now: its failure is logged, not raised (it is not the queue's; a
    delivery it left pending is queued again by the sweeper)."""
    task, call = _as_call(job)
    if not celery_app.conf.task_always_eager:
        task.apply_async(**call)
        return
    try:
        task.apply_async(**call)
    except Exception:
        log.exception("%s ran in process and failed", task.name)


queue.enqueue_register(enqueue)
