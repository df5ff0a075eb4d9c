"""Load (issue 8): the stack under concurrent use, with real processes on the test database
(stack mode).

- A mixed authentication workload (profile reads, refreshes that keep the rotated token, logins)
  from a second OS process (tests/reliability/load_driver.py) against gunicorn with two sync
  workers, as deployed, hashing with the production Argon2id: no 5xx, no unexpected status, no
  transport error, and no unbounded memory growth in any worker. It runs
  `GATEHOUSE_LOAD_SECONDS` (25 s by default, the CI profile; set 300 or 1800 to soak).
- One refresh token sent by several callers at once (released together by a barrier), against
  gthread workers so that they race inside PostgreSQL: the first rotates it, one more gets the one
  grace answer a rotated token has (docs/auth.md), the third is reuse and revokes the session, so
  every other caller gets 401 and every pair of the session is dead.
- 200 registrations at once with a relay and a real Celery worker running: every request 201,
  every `users.user_registered` event consumed exactly once, the outbox empty shortly after.

Each test prints the requests made / succeeded / failed and the events expected / seen once / seen
twice / lost, with its throughput (printed, never asserted).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from auth.core.crypto import token_hash
from auth.interface import REFRESH_TOKEN_REUSED
from auth.models import RefreshToken, Session
from project.events.models import OutboxEvent
from project.events.relay import resume_fast_path
from project.events.topology import all_queues, queue_name
from project.settings import PASSWORD_HASHERS as PRODUCTION_HASHERS
from tests.probe.handlers import CONSUMER as PROBE
from tests.support.broker import Broker, wait_for
from tests.support.factories import PASSWORD, UserFactory
from tests.support.processes import ROOT, Process, manage, subprocess_env
from users.interface import USER_REGISTERED
from users.models import User

from .conftest import Web
from .faults import call, consumption

pytestmark = [pytest.mark.stack, pytest.mark.serial, pytest.mark.django_db(transaction=True)]

# The CI profile: about 25 s of load. GATEHOUSE_LOAD_SECONDS=600 (or more) is the soak profile.
LOAD_SECONDS = float(os.environ.get("GATEHOUSE_LOAD_SECONDS", "25"))
WARMUP_SECONDS = 5.0
CLIENTS = 8
MIB = 1024 * 1024
# Growth of any one worker's RSS from the end of the warm-up to the end of the run. Measured on
# 2 shared cores: +0.7 to +1 MiB in the 25 s profile, and in a 300 s run +1.4, +3.5, +4.0, +4.1 MiB
# at its quarters (+4.5 MiB at most): the allocator and the caches settle (Argon2id's 19 MiB
# buffers, TLS, psycopg), then the growth stops. Keeping every request and its response (a
# request's worth: about 24 KiB measured) grew each worker by 48 MiB in the 25 s profile, so 8 MiB
# lets the plateau through in any profile and catches such a leak from about 350 requests per
# worker on.
RSS_GROWTH_BOUND = 8 * MIB
REQUEST_WORTH = 24 * 1024

# Every server these tests start: limits far above what they send, stated here rather than
# inherited from tests/settings.py.
UNLIMITED = {"GATEHOUSE_RATELIMIT_ANON": "1000000/min", "GATEHOUSE_RATELIMIT_USER": "1000000/min"}


@pytest.fixture
def events(transactional_db, settings):
    """A private events exchange (and so queues of its own) on the real RabbitMQ, deleted
    afterwards; the env every process started against it needs."""
    namespace = f"test-load-{uuid.uuid4().hex[:8]}"
    settings.GATEHOUSE_EVENTS_EXCHANGE = f"{namespace}.events"
    broker = Broker(settings.CELERY_BROKER_URL, settings.GATEHOUSE_EVENTS_EXCHANGE)
    broker.namespace = namespace
    broker.env = {"GATEHOUSE_EVENTS_EXCHANGE": settings.GATEHOUSE_EVENTS_EXCHANGE, "CELERY_SKIP_CHECKS": "1"}
    resume_fast_path()
    yield broker
    broker.delete(
        queues=[queue.name for queue in all_queues()] + [f"{namespace}.tasks"],
        exchanges=[settings.GATEHOUSE_EVENTS_EXCHANGE, f"{namespace}.tasks"],
    )


@pytest.fixture
def processes():
    started: list[Process] = []
    yield started
    for process in reversed(started):
        process.stop(timeout=15)


def web(processes: list, tmp_path: Path, events: Broker, *gunicorn_args: str, **env: str) -> Web:
    server = Web("web", log_dir=tmp_path, gunicorn_args=gunicorn_args, **UNLIMITED, **events.env, **env)
    processes.append(server.process)
    return server


# --- memory of the gunicorn workers ------------------------------------------------------------


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers: the master's children."""
    children: list[int] = []
    for task in Path(f"/proc/{master}/task").iterdir():
        children += [int(pid) for pid in (task / "children").read_text().split()]
    return sorted(children)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_a_mixed_auth_workload_from_another_process_has_no_error_and_no_memory_growth(
    events, processes, tmp_path, settings
):
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS  # the users' hashes are Argon2id, as deployed
    users = [UserFactory(email=f"load-{n}@example.com") for n in range(4)]
    server = web(processes, tmp_path, events, GATEHOUSE_TEST_REAL_HASHER="1")
    workers = worker_pids(server.process.popen.pid)
    assert len(workers) == 2

    driver = subprocess.Popen(
        [*(sys.executable, "-m", "tests.reliability.load_driver", "--base-url", server.base_url),
         *("--seconds", str(LOAD_SECONDS), "--warmup", str(WARMUP_SECONDS), "--clients", str(CLIENTS))],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    driver.stdin.write(json.dumps({"password": PASSWORD, "emails": [user.email for user in users]}))
    driver.stdin.close()
    warm = driver.stdout.readline()
    assert warm.startswith("warm "), warm + driver.stderr.read()
    baseline = {pid: rss_bytes(pid) for pid in workers}
    samples = {pid: [rss] for pid, rss in baseline.items()}
    while driver.poll() is None:
        for pid in workers:
            samples[pid].append(rss_bytes(pid))
        time.sleep(0.5)
    summary = json.loads(driver.stdout.read().strip().splitlines()[-1])
    assert driver.returncode == 0, driver.stderr.read()
    end = {pid: rss_bytes(pid) for pid in workers}
    growth = {pid: end[pid] - baseline[pid] for pid in workers}
    peak = {pid: max(samples[pid]) - baseline[pid] for pid in workers}

    statuses = {op: Counter({int(k): v for k, v in by.items()}) for op, by in summary["statuses"].items()}
    made = sum(sum(by.values()) for by in statuses.values())
    succeeded = sum(by[200] for by in statuses.values())
    server_errors = sum(n for by in statuses.values() for status, n in by.items() if status >= 500)
    transport_errors = sum(by[0] for by in statuses.values())
    per_worker = summary["after_warmup"] / len(workers)
    print(
        f"\nmixed auth load, {CLIENTS} clients in another process, {summary['seconds']}s "
        f"(warm-up {WARMUP_SECONDS}s): requests made {made}, succeeded {succeeded}, failed {made - succeeded} "
        f"(5xx {server_errors}, transport errors {transport_errors}; by operation "
        + ", ".join(f"{op} {dict(by)}" for op, by in statuses.items())
        + f"); {made / summary['seconds']:.0f} requests/s, latency p50 {summary['latency_ms']['p50']} ms, "
        f"p99 {summary['latency_ms']['p99']} ms, max {summary['latency_ms']['max']} ms\n"
        f"worker RSS after the warm-up → end (MiB): "
        + ", ".join(
            f"{pid}: {baseline[pid] / MIB:.1f} → {end[pid] / MIB:.1f} ({growth[pid] / 1024:+.0f} KiB, "
            f"peak {peak[pid] / 1024:+.0f} KiB)"
            for pid in workers
        )
        + "; growth at each quarter of the run (KiB): "
        + ", ".join(
            f"{pid}: "
            + " ".join(
                f"{(samples[pid][len(samples[pid]) * q // 4 - 1] - baseline[pid]) // 1024:+d}" for q in (1, 2, 3, 4)
            )
            for pid in workers
        )
        + f"; bound {RSS_GROWTH_BOUND / MIB:.0f} MiB per worker; {summary['after_warmup']} requests after the "
        f"warm-up, {per_worker:.0f} per worker: a leak of a request's worth ({REQUEST_WORTH // 1024} KiB) per "
        f"request would have grown each by about {per_worker * REQUEST_WORTH / MIB:.0f} MiB, one of "
        f"{RSS_GROWTH_BOUND / per_worker / 1024:.1f} KiB per request would have crossed the bound\n"
        f"expected: every request 200, 0 5xx, 0 transport errors, growth under the bound"
    )
    assert summary["still_running"] == 0
    assert summary["unexpected"] == [], summary["unexpected"]
    assert made == succeeded and server_errors == 0 and transport_errors == 0
    assert all(by[200] > 0 for by in statuses.values())  # every kind of request was made
    assert worker_pids(server.process.popen.pid) == workers  # no worker died or was replaced
    assert max(growth.values()) < RSS_GROWTH_BOUND, growth


# --- one refresh token, many callers at once ----------------------------------------------------

RACERS = 8  # as many as the server below handles at once: they all meet in PostgreSQL
ROUNDS = 5  # sessions raced one after the other
GRACE_SECONDS = 5  # GATEHOUSE_REFRESH_REUSE_GRACE of that server: the burst takes well under it


def refresh_all_at_once(server: Web, refresh_token: str, callers: int) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(callers)
    results: list = [None] * callers

    def caller(n: int) -> None:
        barrier.wait(timeout=30)
        status, body, _ = call(server, "POST", "/api/v1/auth/token/refresh", {"refresh_token": refresh_token})
        results[n] = (status, body)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_one_refresh_token_sent_by_many_callers_at_once_leaves_one_usable_token_and_reuse_after_the_grace_revokes(
    events, processes, tmp_path
):
    """docs/auth.md, "Refresh rotation and reuse": within GATEHOUSE_REFRESH_REUSE_GRACE of the
    rotation one resend of the spent token (a client that lost the response) spends the newest
    token of the session instead and gets a fresh pair; a second resend is reuse (issue 15, item 9).
    So when N callers send one token at once, the row lock serialises them: two get 200, the third
    revokes the session (one `auth.refresh_token_reused` per session) and the rest get 401. After
    the grace, the old token sent again is still 401 and reports nothing new."""
    server = web(processes, tmp_path, events, "--threads", str(RACERS // 2),
                 GATEHOUSE_REFRESH_REUSE_GRACE=str(GRACE_SECONDS))  # fmt: skip
    user = UserFactory(email="racer@example.com")
    made = succeeded = 0
    statuses: Counter = Counter()
    raced = []
    for _ in range(ROUNDS):
        status, first, _ = call(server, "POST", "/api/v1/auth/token", {"email": user.email, "password": PASSWORD})
        assert status == 200, first
        results = refresh_all_at_once(server, first["refresh_token"], RACERS)
        statuses.update(status for status, _ in results)
        made += len(results)
        succeeded += sum(status == 200 for status, _ in results)
        raced.append((first, results))

    rounds = []
    for first, results in raced:
        pairs = [body for status, body in results if status == 200]
        session = Session.objects.get(refresh_tokens__token_hash=token_hash(first["refresh_token"]))
        usable = RefreshToken.objects.filter(session=session, used_at__isnull=True)
        holders = [pair for pair in pairs if usable.filter(token_hash=token_hash(pair["refresh_token"])).exists()]
        me = Counter(call(server, "GET", "/api/v1/users/me", token=pair["access_token"])[0] for pair in pairs)
        rounds.append(
            {
                "session": session,
                "first": first,
                "pairs": pairs,
                "distinct pairs": len({pair["refresh_token"] for pair in pairs}),
                "usable refresh tokens": usable.count(),
                "held by a caller": len(holders),
                "holder": holders[0] if holders else None,
                "access tokens answering 200": me[200],
                "spread": RefreshToken.objects.filter(session=session).order_by("-created_at")[0].created_at
                - RefreshToken.objects.get(token_hash=token_hash(first["refresh_token"])).used_at,
            }
        )
    reused_before = OutboxEvent.objects.filter(type=REFRESH_TOKEN_REUSED).count()

    # --- after the grace, the old token is reuse ------------------------------------------------
    last_rotation = max(
        RefreshToken.objects.get(token_hash=token_hash(r["first"]["refresh_token"])).used_at for r in rounds
    )
    time.sleep(max(0.0, last_rotation.timestamp() + GRACE_SECONDS + 0.5 - time.time()))
    after = []
    for r in rounds:
        reuse, body, _ = call(
            server, "POST", "/api/v1/auth/token/refresh", {"refresh_token": r["first"]["refresh_token"]}
        )
        session = Session.objects.get(id=r["session"].id)
        holder = r["holder"]
        after.append(
            {
                "reuse": (reuse, body.get("error", {}).get("code")),
                "revoked": (session.revoked_at is not None, session.revoke_reason),
                "holder access": call(server, "GET", "/api/v1/users/me", token=holder["access_token"])[0],
                "holder refresh": call(
                    server, "POST", "/api/v1/auth/token/refresh", {"refresh_token": holder["refresh_token"]}
                )[0],
                "other access tokens": Counter(
                    call(server, "GET", "/api/v1/users/me", token=pair["access_token"])[0] for pair in r["pairs"]
                ),
            }
        )
    reuse_events = Counter(
        OutboxEvent.objects.filter(type=REFRESH_TOKEN_REUSED).values_list("payload__session_id", flat=True)
    )
    sessions = [str(r["session"].id) for r in rounds]
    print(
        f"\n{ROUNDS} sessions, each refresh token sent by {RACERS} callers at once (gthread 2x{RACERS // 2}, "
        f"grace {GRACE_SECONDS}s): requests made {made}, succeeded {succeeded}, failed {made - succeeded} "
        f"(statuses {dict(statuses)})\n"
        + "\n".join(
            f"  session {n}: distinct pairs {r['distinct pairs']}, usable refresh tokens {r['usable refresh tokens']} "
            f"(held by {r['held by a caller']} caller), access tokens answering 200: {r['access tokens answering 200']}, "
            f"first to last rotation {r['spread'].total_seconds() * 1000:.0f} ms; after the grace: old token "
            f"{a['reuse']}, session revoked {a['revoked']}, the holder's access {a['holder access']} and refresh "
            f"{a['holder refresh']}, the other access tokens {dict(a['other access tokens'])}"
            for n, (r, a) in enumerate(zip(rounds, after, strict=True))
        )
        + f"\nauth.refresh_token_reused events: before the grace {reused_before}; after it expected {ROUNDS}, "
        f"seen once {sum(reuse_events[s] == 1 for s in sessions)}, seen twice "
        f"{sum(reuse_events[s] >= 2 for s in sessions)}, lost {sum(reuse_events[s] == 0 for s in sessions)}\n"
        f"expected: two racers 200 (the rotation and its one grace answer), the third reuse (the session "
        f"revoked, one event), the rest 401; after the grace 401 invalid_token and nothing new"
    )
    assert statuses == Counter({200: ROUNDS * 2, 401: ROUNDS * (RACERS - 2)})
    assert reused_before == ROUNDS  # the third caller of each session
    for r, a in zip(rounds, after, strict=True):
        assert r["distinct pairs"] == 2
        assert r["usable refresh tokens"] == 1 and r["held by a caller"] == 1
        assert r["access tokens answering 200"] == 0
        assert a["reuse"] == (401, "invalid_token")
        assert a["revoked"] == (True, "refresh_token_reused")
        assert a["holder access"] == 401 and a["holder refresh"] == 401
        assert a["other access tokens"] == Counter({401: 2})
    assert all(reuse_events[s] == 1 for s in sessions) and sum(reuse_events.values()) == ROUNDS


# --- a burst of registrations, drained ----------------------------------------------------------

BURST = 200
DRAIN_BOUND_SECONDS = 60  # after the last answer: every event published and consumed


def test_a_burst_of_registrations_is_all_201_and_every_event_is_consumed_once(events, processes, tmp_path):
    """BURST registrations released together (a barrier) at gunicorn (gthread, 2x4: several
    after-commit publishes at once in one process) while a relay (`manage.py relay_outbox`) and a
    Celery worker hosting the probe consumer run: every request 201, one committed
    `users.user_registered` event per registration, each consumed exactly once, and no outbox row
    left unpublished, within DRAIN_BOUND_SECONDS of the last answer."""
    env = {**events.env, "GATEHOUSE_OUTBOX_SWEEP_AGE": "1"}
    server = web(processes, tmp_path, events, "--threads", "4", GATEHOUSE_OUTBOX_SWEEP_AGE="1")
    relay = Process(
        "relay", manage("relay_outbox", "--interval", "0.5", "--min-age", "1"), env=subprocess_env(**env),
        log_dir=tmp_path,
    )  # fmt: skip
    processes.append(relay)
    relay.wait_until(lambda: "relaying outbox" in relay.output(), timeout=60, what="relaying")
    worker = Process(
        "worker",
        [*(sys.executable, "-m", "celery", "-A", "project", "worker", "-l", "info", "-P", "solo"),
         *("-Q", f"{events.namespace}.tasks", "-n", f"{events.namespace}@%h", "--without-mingle", "--without-gossip")],
        env=subprocess_env(GATEHOUSE_EVENT_CONSUMERS=PROBE, **env),
        log_dir=tmp_path,
    )  # fmt: skip
    processes.append(worker)
    worker.wait_until(lambda: events.consumer_count(queue_name(PROBE)) >= 1, timeout=60, what="consuming")

    emails = [f"burst-{n}-{uuid.uuid4().hex[:8]}@example.com" for n in range(BURST)]
    barrier = threading.Barrier(BURST)
    answers: list = [None] * BURST

    def register(n: int) -> None:
        barrier.wait(timeout=60)
        answers[n] = call(server, "POST", "/api/v1/auth/register", {"email": emails[n], "password": PASSWORD})

    threads = [threading.Thread(target=register, args=(n,)) for n in range(BURST)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    answered = time.monotonic()
    statuses = Counter(answer[0] if answer else None for answer in answers)

    registered = list(
        OutboxEvent.objects.filter(type=USER_REGISTERED, payload__email__in=emails).values_list("id", flat=True)
    )
    # A liveness bound, not a speed test: the pipeline drains the burst, or the test says it did not.
    wait_for(
        lambda: (
            consumption(registered)["lost"] == 0 and not OutboxEvent.objects.filter(published_at__isnull=True).exists()
        ),
        timeout=DRAIN_BOUND_SECONDS,
        what="every registration's event to be published and consumed",
    )
    drained = time.monotonic()
    time.sleep(1.0)  # the time a duplicate would need to show up
    figures = consumption(registered)
    pending = OutboxEvent.objects.filter(published_at__isnull=True).count()
    users = User.objects.filter(email__in=emails).count()
    made = sum(statuses.values())
    print(
        f"\n{BURST} registrations at once (gthread 2x4, relay and worker running): requests made {made}, "
        f"succeeded {statuses[201]}, failed {made - statuses[201]} (statuses {dict(statuses)}); answered in "
        f"{answered - started:.1f}s ({BURST / (answered - started):.0f}/s), drained {drained - answered:.1f}s later "
        f"(bound {DRAIN_BOUND_SECONDS}s); users created {users}, outbox rows left unpublished {pending}\n"
        f"users.user_registered events: " + ", ".join(f"{k} {v}" for k, v in figures.items()) + "\n"
        f"expected: {BURST} x 201, {BURST} users, {BURST} events each seen once, 0 twice, 0 lost, 0 left in the outbox"
    )
    assert statuses == Counter({201: BURST}), [answer for answer in answers if not answer or answer[0] != 201][:5]
    assert users == BURST
    assert figures == {"expected": BURST, "seen once": BURST, "seen twice": 0, "lost": 0}
    assert pending == 0
