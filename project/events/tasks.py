from celery import shared_task
from django.conf import settings

from .relay import relay_all


# Expires: while no worker runs, beat's sweeps do not pile up in the queue; the next one suffices.
@shared_task(name="events.sweep_outbox", ignore_result=True, expires=60)
def sweep_outbox() -> int:
    """Publish whatever the after-commit fast path left behind (beat runs this periodically).
    Safe next to other sweepers and `relay_outbox` processes: rows are locked with SKIP LOCKED."""
    return relay_all(older_than=settings.GATEHOUSE_OUTBOX_SWEEP_AGE)
