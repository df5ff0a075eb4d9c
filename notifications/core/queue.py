"""The work core hands to the tasks layer, without naming a Celery task.

Core sits below `notifications.tasks` and may not import it. It says what should run later as a
job (a dataclass below) and calls `enqueue(job)`; the tasks layer registers the function that
turns each job into its task (`notifications.tasks` does at import, which `apps.py` makes happen).
`enqueue` raises when the job could not be queued (the broker is down); whoever calls it decides
what that costs (a pending delivery is queued again by the sweeper).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Deliver:
    """Attempt one delivery, retrying it with backoff. `retries`: attempts already made (a batch's
    first attempt counts as one, so the delivery gets the same number in all)."""

    delivery_id: uuid.UUID
    retries: int = 0
    countdown: float | None = None


@dataclass(frozen=True, slots=True)
class DeliverBatch:
    """A first attempt at each of these deliveries, with their recipients looked up at once."""

    delivery_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True, slots=True)
class SendToGroup:
    """`send_notification` to a group, resolved outside any transaction (after the caller's commit)."""

    type: str
    group_id: uuid.UUID
    idempotency_key: str
    context: dict[str, Any] = field(default_factory=dict)


Job = Deliver | DeliverBatch | SendToGroup

_enqueue: Callable[[Job], None] | None = None


def enqueue_register(function: Callable[[Job], None]) -> None:
    """Install the function that queues jobs (the tasks layer's)."""
    global _enqueue
    _enqueue = function


def enqueue(job: Job) -> None:
    if _enqueue is None:
        raise RuntimeError("no job queue registered: notifications.tasks registers it when it is imported")
    _enqueue(job)
