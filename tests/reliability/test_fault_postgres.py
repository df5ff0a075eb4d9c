"""Fault: PostgreSQL restarts under load (issue 8), on a cluster the test owns (stack mode).

A throwaway PostgreSQL cluster (initdb in a temp dir, its own port: tests/reliability/faults.py),
migrated, serves a real gunicorn. Users register and read their profile while the cluster is shut
down immediately (as a crash: no checkpoint, WAL recovery at the next start), stays down, and
comes back. Expected:

- during the outage every request is answered, with a clean 503 `service_unavailable` envelope and
  a Retry-After header (never a 500, never a dropped connection);
- within a few seconds of the restart reads and writes succeed again, and keep succeeding;
- no partial rows: every user that exists has its `users.user_registered` outbox event, and every
  201 answered is a user that exists.
- a relay and a Celery worker (the probe consumer) on the same cluster live through it: every
  event is consumed exactly once (none lost, none twice).

The machine's own PostgreSQL (5432) is never touched and still answers at the end.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from collections import Counter

import psycopg
import pytest
from django.db import InterfaceError, OperationalError

from gateway.errors import ApiErrorMiddleware, exception_handler, handler500
from project.events.topology import all_queues, queue_name
from tests.probe.handlers import CONSUMER as PROBE
from tests.support.broker import Broker
from tests.support.factories import PASSWORD
from tests.support.processes import Process, manage, subprocess_env

from .conftest import Web
from .faults import PostgresCluster, call, machine_services_answer

# How long PostgreSQL stays down (CI keeps it short; set it longer to soak).
OUTAGE_SECONDS = float(os.environ.get("GATEHOUSE_FAULT_OUTAGE_SECONDS", "8"))
# Expected: reads and writes succeed again this soon after the cluster accepts connections.
RECOVERY_SECONDS = 5.0
DATABASE = "h8_fault"
# Each users.user_registered event with the number of times the probe consumer handled it.
CONSUMED_SQL = """
    SELECT count(p.id) FROM events_outboxevent e LEFT JOIN probe_effect p ON p.event_id = e.id
    WHERE e.type = 'users.user_registered' GROUP BY e.id
"""


@pytest.fixture
def cluster(tmp_path):
    pg = PostgresCluster(tmp_path)
    pg.start()
    pg.create_database(DATABASE)
    env = subprocess_env(DATABASE_URL=pg.url(DATABASE), GATEHOUSE_TEST_DATABASE_NAME=DATABASE, CELERY_BROKER_URL="")
    migrate = Process("migrate", manage("migrate", "--no-input"), env=env, log_dir=tmp_path)
    assert migrate.popen.wait(timeout=300) == 0, migrate.output()[-3000:]
    yield pg
    pg.close()
    assert machine_services_answer()["postgresql:5432"], "the machine's own PostgreSQL must still answer"


def rows(pg: PostgresCluster, sql: str) -> list[tuple]:
    with psycopg.connect(f"host=127.0.0.1 port={pg.port} user=postgres dbname={DATABASE}", connect_timeout=5) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.parametrize("error", [OperationalError("server closed the connection"), InterfaceError("closed")])
def test_a_database_error_under_api_is_a_503_envelope_with_retry_after(error, rf):
    """Unit: the mapping itself, from a DRF view, a plain view (the middleware) and the 500 handler
    (an exception raised in a middleware)."""
    request = rf.get("/api/v1/users/me")
    answers = [
        exception_handler(error, {"request": request}),
        ApiErrorMiddleware(None).process_exception(request, error),
    ]
    try:
        raise error
    except type(error):
        answers.append(handler500(request))
    for response in answers:
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert json.loads(response.content) == {
            "error": {
                "code": "service_unavailable",
                "message": "The service is temporarily unavailable; try again shortly.",
                "details": {"retry_after": 5},
            }
        }
    assert handler500(rf.get("/api/v1/users/me")).status_code == 500  # not after a database error


@pytest.fixture
def events_exchange(settings):
    """The web process publishes its events to a private exchange on the machine's RabbitMQ (as
    deployed: after a commit only the outbox fast path runs); deleted afterwards."""
    settings.GATEHOUSE_EVENTS_EXCHANGE = f"fault-pg-{uuid.uuid4().hex[:8]}.events"
    yield settings.GATEHOUSE_EVENTS_EXCHANGE
    Broker(settings.CELERY_BROKER_URL, settings.GATEHOUSE_EVENTS_EXCHANGE).delete(
        queues=[queue.name for queue in all_queues()], exchanges=[settings.GATEHOUSE_EVENTS_EXCHANGE]
    )


@pytest.mark.stack
@pytest.mark.serial
@pytest.mark.django_db(transaction=True)
def test_postgres_restarted_under_load_clean_503s_quick_recovery_no_partial_rows(
    cluster, events_exchange, settings, tmp_path, request
):
    on_cluster = {"DATABASE_URL": cluster.url(DATABASE), "GATEHOUSE_TEST_DATABASE_NAME": DATABASE,
                  "GATEHOUSE_EVENTS_EXCHANGE": events_exchange, "CELERY_SKIP_CHECKS": "1"}  # fmt: skip
    web = Web("web", log_dir=tmp_path, **on_cluster)
    request.addfinalizer(web.stop)
    # The relay and a worker hosting the probe consumer live through the outage too.
    relay = Process("relay", manage("relay_outbox", "--interval", "0.5", "--min-age", "1"),
                    env=subprocess_env(**on_cluster), log_dir=tmp_path)  # fmt: skip
    worker_args = [
        *(sys.executable, "-m", "celery", "-A", "project", "worker", "-l", "info", "-P", "solo"),
        *("-Q", f"{events_exchange}.tasks", "-n", f"{events_exchange}@%h", "--without-mingle", "--without-gossip"),
    ]
    worker = Process("worker", worker_args, env=subprocess_env(GATEHOUSE_EVENT_CONSUMERS=PROBE, **on_cluster),
                     log_dir=tmp_path)  # fmt: skip
    request.addfinalizer(relay.stop)
    request.addfinalizer(worker.stop)
    broker = Broker(settings.CELERY_BROKER_URL, events_exchange)
    worker.wait_until(lambda: broker.consumer_count(queue_name(PROBE)) >= 1, timeout=60, what="consuming")
    me = f"reader-{uuid.uuid4().hex[:8]}@example.com"
    assert web.call("POST", "/api/v1/auth/register", {"email": me, "password": PASSWORD})[0] == 201
    status, tokens = web.call("POST", "/api/v1/auth/token", {"email": me, "password": PASSWORD})
    assert status == 200, tokens
    token = tokens["access_token"]

    lock = threading.Lock()
    # (answered at, kind, status, body, Retry-After, sent at)
    log: list[tuple[float, str, int, dict, str, float]] = []
    attempted: dict[str, int] = {}
    stop = threading.Event()

    def write():
        while not stop.is_set():
            email = f"pg-{uuid.uuid4().hex[:12]}@example.com"
            sent = time.monotonic()
            status, body, retry_after = call(
                web, "POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD}
            )
            with lock:
                attempted[email] = status
                log.append((time.monotonic(), "write", status, body, retry_after, sent))

    def read():
        while not stop.is_set():
            sent = time.monotonic()
            status, body, retry_after = call(web, "GET", "/api/v1/users/me", token=token)
            with lock:
                log.append((time.monotonic(), "read", status, body, retry_after, sent))
            time.sleep(0.02)

    threads = [threading.Thread(target=write), threading.Thread(target=read), threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    time.sleep(2)

    down_at = time.monotonic()
    cluster.stop("immediate")  # a crash for the clients: connections dropped, recovery at the start
    time.sleep(1)
    ready_during = web.call("GET", "/readyz")
    time.sleep(max(OUTAGE_SECONDS - (time.monotonic() - down_at), 0))
    restart_at = time.monotonic()  # from here the server may answer before cluster.start() returns
    cluster.start()
    up_at = time.monotonic()
    time.sleep(RECOVERY_SECONDS + 3)
    ready_after = web.call("GET", "/readyz")
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    during = [entry for entry in log if down_at + 0.5 < entry[0] < restart_at]
    after = [entry for entry in log if entry[0] >= up_at]
    first_ok = {
        kind: next((t - up_at for t, k, status, *_ in after if k == kind and status in (200, 201)), None)
        for kind in ("read", "write")
    }
    recovered_at = up_at + max(value if value is not None else 1e9 for value in first_ok.values())
    # Requests sent once the service has recovered. One sent before and answered after may still be a
    # clean 503: it waited for a connection (DATABASE_POOL_TIMEOUT) in a worker whose pool had given
    # up its reconnect attempt during the outage.
    settled = [entry for entry in after if entry[5] > recovered_at + 0.5]
    statuses = Counter(status for _, _, status, *_ in log)
    clean_503 = [
        entry
        for entry in log
        if entry[2] == 503 and entry[3].get("error", {}).get("code") == "service_unavailable" and entry[4] == "5"
    ]
    made = len(log)
    succeeded = sum(1 for entry in log if entry[2] in (200, 201))

    users = {email for (email,) in rows(cluster, "SELECT email FROM users_user WHERE email LIKE 'pg-%'")}
    events = Counter(
        email
        for (email,) in rows(
            cluster, "SELECT payload->>'email' FROM events_outboxevent WHERE type = 'users.user_registered'"
        )
    )
    without_event = [email for email in users if events[email] != 1]

    def consumption():
        counts = [n for (n,) in rows(cluster, CONSUMED_SQL)]
        return {"expected": len(counts), "seen once": counts.count(1),
                "seen twice": sum(1 for n in counts if n >= 2), "lost": counts.count(0)}  # fmt: skip

    deadline = time.monotonic() + 60
    while consumption()["lost"] and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1.0)  # the time a duplicate would need
    consumed = consumption()
    relay.stop()
    worker.stop()
    created_answered = {email for email, status in attempted.items() if status == 201}
    answered_but_missing = created_answered - users
    committed_but_503 = {email for email, status in attempted.items() if status == 503} & users
    print(
        f"\nPostgreSQL down {OUTAGE_SECONDS}s (immediate shutdown, then start): requests made {made}, "
        f"succeeded {succeeded}, failed {made - succeeded} (statuses {dict(statuses)}; clean 503s with Retry-After "
        f"{len(clean_503)} of {statuses[503]}; answered during the outage {len(during)}, of them 503 "
        f"{sum(1 for e in during if e[2] == 503)})\nfirst success after the restart: read {first_ok['read']}, "
        f"write {first_ok['write']} s; after recovery {len(settled)} requests, failed "
        f"{sum(1 for e in settled if e[2] not in (200, 201))}\nrows: users registered {len(users)}, with exactly one "
        f"event {len(users) - len(without_event)}, without {len(without_event)}; 201 but missing "
        f"{len(answered_but_missing)}; committed but answered 503 {len(committed_but_503)}\n"
        f"users.user_registered events through the relay and a worker on the same cluster: "
        + ", ".join(f"{k} {v}" for k, v in consumed.items())
        + f"\n/readyz during the outage {ready_during[0]} (database {ready_during[1]['checks']['database']['status']}),"
        f" after {ready_after[0]}"
    )
    assert ready_during[0] == 503 and ready_during[1]["checks"]["database"]["status"] == "error"
    assert ready_after[0] == 200
    # While the server is down every answer is a 503, except a registration that had committed just
    # before the shutdown and whose answer came out during it: a 201 that is true (every 201's user
    # exists: answered_but_missing below).
    assert {status for _, _, status, *_ in during} <= {503, 201}
    assert [kind for kind, status in ((e[1], e[2]) for e in during) if status == 201] in ([], ["write"])
    assert sum(1 for e in during if e[2] == 503) >= 2
    assert set(statuses) <= {200, 201, 503}, statuses  # never a 500, never a dropped connection (status 0)
    assert len(clean_503) == statuses[503]
    assert first_ok["read"] is not None and first_ok["read"] <= RECOVERY_SECONDS
    assert first_ok["write"] is not None and first_ok["write"] <= RECOVERY_SECONDS
    failed_after = [
        f"{kind} sent at +{sent - up_at:.2f}s, answered at +{answered - up_at:.2f}s: {status} {body}"
        for answered, kind, status, body, _, sent in settled
        if status not in (200, 201)
    ]
    assert settled and not failed_after, f"recovered at +{recovered_at - up_at:.2f}s; " + "; ".join(failed_after[:5])
    assert not without_event and not answered_but_missing
    assert consumed["expected"] >= len(users) + 1  # and the reader's
    assert consumed == {"expected": consumed["expected"], "seen once": consumed["expected"], "seen twice": 0, "lost": 0}
