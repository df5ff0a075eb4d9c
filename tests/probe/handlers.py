"""A consumer used only by the tests: it records every event it handles.

A payload with `probe_fail` makes it raise every time: a poison message. A payload with
`probe_sleep` (seconds) makes it sleep first, after logging "probe sleeping <event id>", so a test
can kill the worker while the handler runs. A payload with `probe_exit_after_commit` makes the
process exit right after the handler's transaction commits, before the message is acknowledged
(exit code CRASH_AFTER_COMMIT_EXIT_CODE).
"""

import logging
import os
import time

from django.db import transaction

from project.events.consumers import subscribe
from users.interface import USER_DEACTIVATED, USER_REGISTERED, USER_UPDATED

from .models import Effect

log = logging.getLogger(__name__)

CONSUMER = "probe"
PROBE_EVENT = "probe.happened"
CRASH_AFTER_COMMIT_EXIT_CODE = 19


class ProbeFailure(RuntimeError):
    pass


def record(envelope):
    if envelope.payload.get("probe_fail"):
        raise ProbeFailure("probe told to fail")
    if envelope.payload.get("probe_sleep"):
        log.warning("probe sleeping %s", envelope.id)
        time.sleep(float(envelope.payload["probe_sleep"]))
    Effect.objects.create(consumer=CONSUMER, event_id=envelope.id, event_type=envelope.type)
    if envelope.payload.get("probe_exit_after_commit"):
        log.warning("probe exits after the commit of %s", envelope.id)
        transaction.on_commit(lambda: os._exit(CRASH_AFTER_COMMIT_EXIT_CODE))


for event_type in (USER_REGISTERED, USER_UPDATED, USER_DEACTIVATED, PROBE_EVENT):
    subscribe(CONSUMER, event_type)(record)
