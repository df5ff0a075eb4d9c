import os

from celery import Celery, bootsteps, signals

from project import tracing
from project.kernel.context import get_request_id, request_id_scope

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("gatehouse")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Embedded mode (no CELERY_BROKER_URL): tasks run in process and nothing is sent anywhere; an
# in-memory transport keeps kombu from warning "No hostname was supplied" on every event.
if not app.conf.broker_url:
    app.conf.broker_url = "memory://localhost//"
# Workers log through Django's LOGGING (JSON lines with the request id) like every other process.
app.conf.worker_hijack_root_logger = False
app.autodiscover_tasks()


class EventConsumers(bootsteps.ConsumerStep):
    """Hosts the event consumers (project.events.worker) in every `celery worker` process."""

    def get_consumers(self, channel):
        # Imported here: Django is set up by the time the worker's consumer starts, not at import.
        from project.events.worker import event_consumers

        return event_consumers(channel)


app.steps["consumer"].add(EventConsumers)

# The event consumers run in the worker's main process and use the database there, so with the
# prefork pool a child forked later (one replacing a child that died) inherits the parent's
# database connection pool, sockets included. Celery's Django fixup closes that pool in the child,
# which ends the parent's sessions on the server: the parent's next handlers fail on dead
# connections. Connected before the fixup's own handler, this hands the child a clean slate: the
# inherited pools are kept, untouched and unused, for the child's lifetime (never closed), and the
# child opens its own.
_inherited_database_pools = []


@signals.worker_process_init.connect
def _leave_inherited_database_pools_alone(**kwargs):
    try:
        from django.db.backends.postgresql.base import DatabaseWrapper
    except ImportError:  # no PostgreSQL driver: no pool
        return
    pools = DatabaseWrapper._connection_pools
    if pools:
        _inherited_database_pools.append(dict(pools))
        pools.clear()


# Tracing (docs/operations.md), set up after every fork: the main process (it hosts the event
# consumers) at start, and each pool child anew, since the pipeline it inherited is its parent's
# (project.tracing). A child about to exit (recycled after --max-tasks-per-child, or at shutdown)
# exports what it holds first, so its last spans are kept.
@signals.worker_init.connect
def _trace_main_process(**kwargs):
    tracing.configure("worker")


@signals.worker_process_init.connect
def _trace_pool_child(**kwargs):
    tracing.configure("worker")


@signals.worker_process_shutdown.connect
def _flush_pool_child(**kwargs):
    tracing.flush()


@signals.worker_shutdown.connect
def _flush_main_process(**kwargs):
    tracing.flush()


# The request id travels in the task message's headers: whatever a task does is logged (and any
# event it records is stamped) with the id of the request that queued it. With protocol 2 a custom
# header is a message header, and the worker exposes it as an attribute of `task.request`.
@signals.before_task_publish.connect
def _stamp_request_id(headers=None, **kwargs):
    request_id = get_request_id()
    if headers is not None and request_id:
        headers.setdefault("request_id", request_id)


_scopes = {}


@signals.task_prerun.connect
def _enter_request_id(task_id=None, task=None, **kwargs):
    request = task.request
    request_id = getattr(request, "request_id", None)
    if request_id is None and request.is_eager:
        # An eager task (embedded mode) runs inline, where no message carries the header: it keeps
        # the caller's id rather than getting a new one.
        request_id = get_request_id()
    scope = request_id_scope(request_id)
    scope.__enter__()
    _scopes[task_id] = scope


@signals.task_postrun.connect
def _leave_request_id(task_id=None, **kwargs):
    scope = _scopes.pop(task_id, None)
    if scope is not None:
        scope.__exit__(None, None, None)
