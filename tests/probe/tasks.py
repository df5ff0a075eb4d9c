"""A task used only by the tests: it records the request id it ran under."""

import uuid

from celery import shared_task

from project.kernel.context import get_request_id

from .models import Effect


@shared_task(name="probe.remember_request_id")
def remember_request_id(marker: str) -> str | None:
    request_id = get_request_id()
    Effect.objects.create(consumer="task", event_id=uuid.UUID(marker), event_type=request_id or "")
    return request_id
