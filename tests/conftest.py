"""Two modes, one suite.

Embedded (the README's `scripts/test`): SQLite, in-process cache and in-process tasks/events.
Stack (`scripts/test --stack`, run by CI): PostgreSQL, Redis and RabbitMQ over the network, real
Celery workers and gRPC servers. Tests marked `stack` need those and run only in stack mode; in
stack mode a missing service fails the run at start, it never skips.
With GATEHOUSE_TEST_PGBOUNCER=1 (CI's stack run) the stack run goes through PgBouncer in transaction
mode (tests/support/pgbouncer.py); tests marked `pgbouncer` run only then.
"""

from __future__ import annotations

import os
import uuid

import pytest
from django.conf import settings

STACK = os.environ.get("GATEHOUSE_TEST_STACK") == "1"
PGBOUNCER = STACK and os.environ.get("GATEHOUSE_TEST_PGBOUNCER") == "1"


def pytest_report_header(config):
    if not STACK:
        return ["gatehouse: embedded mode (SQLite, local cache, in-process tasks); `stack` tests deselected"]
    return [
        "gatehouse: stack mode",
        f"  database: {settings.DATABASES['default']['ENGINE']} {settings.DATABASES['default'].get('HOST')}:"
        f"{settings.DATABASES['default'].get('PORT')}",
        f"  cache: {settings.CACHES['default']['BACKEND']} {settings.CACHES['default'].get('LOCATION')}",
        f"  broker: {settings.CELERY_BROKER_URL.split('@')[-1]}",
        *_pgbouncer_header(),
    ]


def _pgbouncer_header() -> list[str]:
    if not PGBOUNCER:
        return ["  no PgBouncer (GATEHOUSE_TEST_PGBOUNCER=1 puts one in transaction mode in front of the database)"]
    from tests.support import pgbouncer

    return [
        f"  through PgBouncer {pgbouncer.version()} in transaction mode, started by the session on a port of its"
        " own (the test database is created and dropped directly)"
    ]


def pytest_collection_modifyitems(config, items):
    if STACK and PGBOUNCER:
        return
    marker = "pgbouncer" if STACK else "stack"
    deselected = [item for item in items if item.get_closest_marker(marker) or item.get_closest_marker("pgbouncer")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


def pytest_sessionstart(session):
    if not STACK:
        return
    problems = []
    if settings.DATABASES["default"]["ENGINE"] != settings.POSTGRESQL_ENGINE:
        problems.append("DATABASE_URL is not PostgreSQL")
    if not settings.CACHES["default"]["BACKEND"].startswith("django_redis"):
        problems.append("REDIS_URL is not set")
    if not settings.CELERY_BROKER_URL.startswith("amqp"):
        problems.append("CELERY_BROKER_URL is not RabbitMQ")
    if PGBOUNCER:
        from tests.support import pgbouncer

        if pgbouncer.binary() is None:
            problems.append("GATEHOUSE_TEST_PGBOUNCER=1 but no pgbouncer is installed (apt-get install pgbouncer)")
    if not problems:
        problems += _unreachable_services()
    if problems:
        pytest.exit("stack mode needs the real services: " + "; ".join(problems), returncode=3)


def _unreachable_services() -> list[str]:
    import psycopg
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
        from project.redis_client import redis_client

        redis_client(settings.REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        problems.append(f"Redis unreachable: {exc}")
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        problems.append(f"RabbitMQ unreachable: {exc}")
    return problems


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, pytestconfig):
    """pytest-django's test database; with GATEHOUSE_TEST_PGBOUNCER=1, reached through PgBouncer
    (transaction mode) from the moment it exists until it is dropped."""
    if not PGBOUNCER:
        yield
        return
    from tests.support.pgbouncer import PgBouncer, route_through

    db = settings.DATABASES["default"]
    bouncer = PgBouncer(
        server_host=db["HOST"] or "127.0.0.1",
        server_port=int(db["PORT"] or 5432),
        user=db["USER"],
        password=db["PASSWORD"],
    )
    try:
        bouncer.start()
        with route_through(bouncer):
            yield
        pytestconfig.stash[_pgbouncer_transactions] = bouncer.transactions(str(db["NAME"]))
    finally:
        bouncer.stop()


_pgbouncer_transactions = pytest.StashKey[int]()


def pytest_sessionfinish(session):
    # A pytest-xdist worker hands its count to the controller, which prints the sum.
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None and _pgbouncer_transactions in session.config.stash:
        workeroutput["pgbouncer_transactions"] = session.config.stash[_pgbouncer_transactions]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):  # only called in a pytest-xdist controller
    count = getattr(node, "workeroutput", {}).get("pgbouncer_transactions")
    if count is not None:
        stash = node.config.stash
        stash[_pgbouncer_transactions] = stash.get(_pgbouncer_transactions, 0) + count


def pytest_terminal_summary(terminalreporter, config):
    if PGBOUNCER and _pgbouncer_transactions in config.stash:
        terminalreporter.write_line(
            f"gatehouse: PgBouncer (transaction mode) passed {config.stash[_pgbouncer_transactions]} transactions"
            " to the test database"
            + (f"s of {config.option.numprocesses} workers" if getattr(config.option, "numprocesses", None) else "")
        )


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    from auth.core import keys

    cache.clear()
    # The per-process signing-key copy outlives a test's rolled-back database: kept from one test,
    # it expires mid-way through the next (GATEHOUSE_SIGNING_KEY_CACHE_SECONDS), the reload no
    # longer finds the key that signed the test's tokens, and they stop verifying.
    keys._cache.invalidate()
    if STACK:
        # A flush is no invalidation: every process's copy of mirrored values (project.mirror)
        # would keep values the rolled-back or flushed database no longer matches.
        from permissions.core.cache import mirror

        mirror().invalidate(None)
        # Nor is it for the edge's leased rate-limit units, held in this process (gateway.edge).
        from gateway import edge

        edge.use_counter(None)
    yield
    keys._cache.invalidate()


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
