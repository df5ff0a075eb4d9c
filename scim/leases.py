"""One SCIM write per resource at a time (the `ScimWriteLease` table; docs/scim.md, "Concurrent
writes").

A row in a table rather than a PostgreSQL advisory lock: it holds across the several interface
calls a write makes (gRPC calls in the split shape, each with its own transaction, or none), it
works behind PgBouncer in transaction mode and on SQLite, and a holder that dies frees it by
expiring.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import ScimWriteLease

# Longer than any SCIM write takes (gunicorn's timeout kills a request before it runs out).
LEASE = timedelta(seconds=60)
POLL = 0.02


class ResourceBusy(Exception):
    """Another write of the resource held it for longer than the wait."""


@contextmanager
def write_lease(resource_id: uuid.UUID, *, wait: float) -> Iterator[None]:
    """Hold `resource_id` for one write, waiting up to `wait` seconds for a holder to finish.
    Raises ResourceBusy when it does not."""
    holder, deadline = uuid.uuid4(), time.monotonic() + wait
    while not _take(resource_id, holder):
        if time.monotonic() >= deadline:
            raise ResourceBusy(resource_id)
        time.sleep(POLL)
    try:
        yield
    finally:
        ScimWriteLease.objects.filter(resource_id=resource_id, holder=holder).delete()


def _take(resource_id: uuid.UUID, holder: uuid.UUID) -> bool:
    now = timezone.now()
    ScimWriteLease.objects.filter(resource_id=resource_id, expires_at__lt=now).delete()
    try:
        with transaction.atomic():
            ScimWriteLease.objects.create(resource_id=resource_id, holder=holder, expires_at=now + LEASE)
    except IntegrityError:
        return False
    return True
