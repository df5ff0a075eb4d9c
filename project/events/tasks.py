from celery import shared_task
from django.conf import settings

from .relay import relay_all


@shared_task(name="events.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    """Publish whatever the after-commit fast path left behind (beat runs this periodically)."""
    return relay_all(older_than=settings.GATEHOUSE_OUTBOX_SWEEP_AGE)
