"""Two modes, one suite.

Embedded (the README's `scripts/test`): SQLite, in-process cache and in-process tasks/events.
Stack (`scripts/test --stack`, run by CI): PostgreSQL, Redis and RabbitMQ over the network, real
Celery workers and gRPC servers. Tests marked `stack` need those and run only in stack mode; in
stack mode a missing service fails the run at start, it never skips.
"""

from __future__ import annotations

import os
import uuid

import pytest
from django.conf import settings

STACK = os.environ.get("GATEHOUSE_TEST_STACK") == "1"


def pytest_report_header(config):
    if not STACK:
        return ["gatehouse: embedded mode (SQLite, local cache, in-process tasks); `stack` tests deselected"]
    return [
        "gatehouse: stack mode",
        f"  database: {settings.DATABASES['default']['ENGINE']} {settings.DATABASES['default'].get('HOST')}:"
        f"{settings.DATABASES['default'].get('PORT')}",
        f"  cache: {settings.CACHES['default']['BACKEND']} {settings.CACHES['default'].get('LOCATION')}",
        f"  broker: {settings.CELERY_BROKER_URL.split('@')[-1]}",
    ]


def pytest_collection_modifyitems(config, items):
    if STACK:
        return
    deselected = [item for item in items if item.get_closest_marker("stack")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("stack")]


def pytest_sessionstart(session):
    if not STACK:
        return
    problems = []
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        problems.append("DATABASE_URL is not PostgreSQL")
    if not settings.CACHES["default"]["BACKEND"].startswith("django_redis"):
        problems.append("REDIS_URL is not set")
    if not settings.CELERY_BROKER_URL.startswith("amqp"):
        problems.append("CELERY_BROKER_URL is not RabbitMQ")
    if not problems:
        problems += _unreachable_services()
    if problems:
        pytest.exit("stack mode needs the real services: " + "; ".join(problems), returncode=3)


def _unreachable_services() -> list[str]:
    import psycopg
    import redis
    from kombu import Connection

    problems = []
    db = settings.DATABASES["default"]
    try:
        psycopg.connect(
            host=db["HOST"],
            port=db["PORT"] or 5432,
            user=db["USER"],
            password=db["PASSWORD"],
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except Exception as exc:
        problems.append(f"PostgreSQL unreachable: {exc}")
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        problems.append(f"Redis unreachable: {exc}")
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        problems.append(f"RabbitMQ unreachable: {exc}")
    return problems


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    if STACK:
        # A flush is no invalidation: every process's copy of mirrored values (project.mirror)
        # would keep values the rolled-back or flushed database no longer matches.
        from permissions.core.cache import mirror

        mirror().invalidate(None)
    yield


@pytest.fixture
def in_process_tasks(settings):
    """Events and Celery tasks run in this process, at once, whatever the mode of the run (a stack
    run has a broker and workers): for tests that observe a mail in `django.core.mail.outbox`."""
    from project.celery import app as celery_app

    settings.CELERY_BROKER_URL = ""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = eager


@pytest.fixture
def broker(transactional_db, settings):
    """A private events exchange and task queue on the real RabbitMQ (stack tests), deleted
    afterwards: nothing is published to, or taken from, the ones other processes share."""
    from project.events.relay import resume_fast_path
    from project.events.topology import all_queues
    from tests.support.broker import Broker

    namespace = f"test-{uuid.uuid4().hex[:10]}"
    settings.GATEHOUSE_EVENTS_EXCHANGE = f"{namespace}.events"
    broker = Broker(settings.CELERY_BROKER_URL, settings.GATEHOUSE_EVENTS_EXCHANGE)
    broker.namespace = namespace
    broker.task_queue = f"{namespace}.tasks"
    resume_fast_path()
    yield broker
    resume_fast_path()
    broker.delete(
        queues=[queue.name for queue in all_queues()] + [broker.task_queue],
        exchanges=[settings.GATEHOUSE_EVENTS_EXCHANGE, broker.task_queue],
    )
