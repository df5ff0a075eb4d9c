import os

from celery import Celery, bootsteps, signals

from project.kernel.context import get_request_id, request_id_scope

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("gatehouse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class EventConsumers(bootsteps.ConsumerStep):
    """Hosts the event consumers (project.events.worker) in every `celery worker` process."""

    def get_consumers(self, channel):
        # Imported here: Django is set up by the time the worker's consumer starts, not at import.
        from project.events.worker import event_consumers

        return event_consumers(channel)


app.steps["consumer"].add(EventConsumers)


# The request id travels in task headers: whatever a task does is logged under the request's id.
@signals.before_task_publish.connect
def _stamp_request_id(headers=None, **kwargs):
    request_id = get_request_id()
    if headers is not None and request_id:
        headers.setdefault("request_id", request_id)


_scopes = {}


@signals.task_prerun.connect
def _enter_request_id(task_id=None, task=None, **kwargs):
    scope = request_id_scope(getattr(task.request, "request_id", None))
    scope.__enter__()
    _scopes[task_id] = scope


@signals.task_postrun.connect
def _leave_request_id(task_id=None, **kwargs):
    scope = _scopes.pop(task_id, None)
    if scope is not None:
        scope.__exit__(None, None, None)
