"""A consumer used only by the tests: it records every event it handles.

A payload with `probe_fail` makes it raise every time: a poison message.
"""

from project.events.consumers import subscribe
from users.interface import USER_DEACTIVATED, USER_REGISTERED, USER_UPDATED

from .models import Effect

CONSUMER = "probe"
PROBE_EVENT = "probe.happened"


class ProbeFailure(RuntimeError):
    pass


def record(envelope):
    if envelope.payload.get("probe_fail"):
        raise ProbeFailure("probe told to fail")
    Effect.objects.create(consumer=CONSUMER, event_id=envelope.id, event_type=envelope.type)


for event_type in (USER_REGISTERED, USER_UPDATED, USER_DEACTIVATED, PROBE_EVENT):
    subscribe(CONSUMER, event_type)(record)
