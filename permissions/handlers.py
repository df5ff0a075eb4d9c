"""The permissions service's consumer of events (its own durable queue, "permissions")."""

from __future__ import annotations

import uuid

from permissions.core import cache as rbac_cache
from permissions.core.services import user_deactivation_record, user_reactivation_record
from permissions.interface import CACHE_INVALIDATION_PENDING
from project.events.consumers import subscribe
from project.kernel.events import Envelope
from users.interface import USER_DEACTIVATED, USER_REACTIVATED

CONSUMER = "permissions"


@subscribe(CONSUMER, USER_DEACTIVATED)
def user_deactivated(envelope: Envelope) -> None:
    user_deactivation_record(user_id=uuid.UUID(envelope.payload["user_id"]))


@subscribe(CONSUMER, USER_REACTIVATED)
def user_reactivated(envelope: Envelope) -> None:
    user_reactivation_record(user_id=uuid.UUID(envelope.payload["user_id"]))


@subscribe(CONSUMER, CACHE_INVALIDATION_PENDING)
def apply_pending_invalidations(envelope: Envelope) -> None:
    # A revoke committed while the cache did not answer: replace its tokens once it does. Raises
    # while it still does not, so the event is retried (docs/rbac.md).
    rbac_cache.apply_pending()
