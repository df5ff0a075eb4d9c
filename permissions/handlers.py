"""The permissions service's consumer of events (its own durable queue, "permissions")."""

from __future__ import annotations

import uuid

from permissions.core.services import user_deactivation_record
from project.events.consumers import subscribe
from project.kernel.events import Envelope
from users.interface import USER_DEACTIVATED

CONSUMER = "permissions"


@subscribe(CONSUMER, USER_DEACTIVATED)
def user_deactivated(envelope: Envelope) -> None:
    user_deactivation_record(user_id=uuid.UUID(envelope.payload["user_id"]))
