"""Fault: Redis dies under load and comes back (issue 8). Stack mode.

A throwaway redis-server (its own port, append-only file in a temp dir, so what it held survives
its restart: the worst case for a stale grant) serves as the cache of a real gunicorn process on
the test database. While it is down: every request is answered without a 5xx, permission answers
equal the database's, the login lockout still holds, a revoke goes through (issue 14, item 2) and
no answer after it returns is the old grant, while a grant is refused (503) and changes nothing.
After it is back, with the old version tokens in it: still no process answers with the old grant.
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
import redis

from auth.core import keys
from permissions.interface import ADMIN_ROLE
from tests.support import http
from tests.support.factories import PASSWORD, UserFactory
from tests.support.processes import Process, free_port, port_open, subprocess_env

pytestmark = [pytest.mark.stack, pytest.mark.serial, pytest.mark.django_db(transaction=True)]

# How long Redis stays down under load (issue 8 asks for 60 s; CI may shorten it).
OUTAGE_SECONDS = float(os.environ.get("GATEHOUSE_FAULT_OUTAGE_SECONDS", "8"))


class RedisServer:
    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.process: Process | None = None

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory)]  # fmt: skip
        self.process = Process(f"redis-{time.monotonic_ns()}", args, env=dict(os.environ), log_dir=self.directory)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        self.process.wait_until(lambda: client.ping(), timeout=20)

    def kill(self):
        self.process.kill()


def call(port, method, path, body=None, token=None):
    return http.call(method, f"http://127.0.0.1:{port}{path}", body, token)


@pytest.fixture
def world(tmp_path):
    keys._cache.invalidate()
    store = RedisServer(tmp_path)
    store.start()
    env = subprocess_env(
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        REDIS_URL=f"redis://127.0.0.1:{store.port}/0",
        GATEHOUSE_EVENTS_EXCHANGE=f"test-fault-{uuid.uuid4().hex[:8]}.events",
        GATEHOUSE_LOGIN_MAX_FAILURES="3",
    )
    port = free_port()
    web = Process(
        "web",
        [sys.executable, "-m", "gunicorn", "project.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "--timeout", "60"],
        env=env,
        log_dir=tmp_path,
    )
    web.wait_until(lambda: port_open(port) and call(port, "GET", "/healthz")[0] == 200, timeout=60)
    UserFactory(email="admin@example.com", roles=[ADMIN_ROLE])
    bob = UserFactory(email="bob@example.com")
    carol = UserFactory(email="carol@example.com")
    yield {"store": store, "port": port, "bob": bob, "carol": carol}
    web.stop()
    if store.process.popen.poll() is None:
        store.process.stop()
    keys._cache.invalidate()


def test_redis_down_under_load_then_back_no_5xx_no_stale_grant(world):
    port, store, bob = world["port"], world["store"], world["bob"]
    admin_token = http.tokens_from(f"http://127.0.0.1:{port}", "admin@example.com")["access_token"]
    bob_token = http.tokens_from(f"http://127.0.0.1:{port}", "bob@example.com")["access_token"]

    status, viewer = call(port, "POST", "/api/v1/rbac/roles",
                          {"name": "viewer", "permissions": ["users.user.view"]}, admin_token)  # fmt: skip
    assert status == 201, viewer
    status, assignment = call(port, "POST", "/api/v1/rbac/assignments",
                              {"role": viewer["id"], "user_id": str(bob.id)}, admin_token)  # fmt: skip
    assert status == 201, assignment
    check = {"permission": "users.user.view"}
    assert call(port, "POST", "/api/v1/rbac/check", check, bob_token) == (200, {"allowed": True})
    mine = f"/api/v1/rbac/users/{bob.id}/permissions"
    assert "users.user.view" in call(port, "GET", mine, token=bob_token)[1]["permissions"]  # warm everywhere

    # --- Redis dies; load goes on --------------------------------------------------------------
    statuses: Counter = Counter()
    answers: list[tuple[float, float, bool]] = []  # (asked at, answered at, allowed)
    stop = threading.Event()

    def load():
        while not stop.is_set():
            asked = time.monotonic()
            status, body = call(port, "POST", "/api/v1/rbac/check", check, bob_token)
            statuses[status] += 1
            answers.append((asked, time.monotonic(), body.get("allowed")))
            asked = time.monotonic()
            status, body = call(port, "GET", mine, token=bob_token)
            statuses[status] += 1
            answers.append((asked, time.monotonic(), "users.user.view" in body.get("permissions", [])))

    store.kill()
    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()

    # The lockout lives in the database: it still holds.
    wrong = [call(port, "POST", "/api/v1/auth/token", {"email": "carol@example.com", "password": "wrong"})[0]
             for _ in range(4)]  # fmt: skip
    locked = call(port, "POST", "/api/v1/auth/token", {"email": "carol@example.com", "password": PASSWORD})[0]

    # A grant the cache cannot record is refused and changes nothing.
    refused = call(port, "POST", "/api/v1/rbac/assignments", {"role": viewer["id"], "user_id": str(world["carol"].id)},
                   admin_token)  # fmt: skip
    time.sleep(OUTAGE_SECONDS / 2)
    # The revoke goes through (it waits out a lease); no answer after it has returned is the grant.
    revoke_started = time.monotonic()
    revoked = call(port, "DELETE", f"/api/v1/rbac/assignments/{assignment['id']}", token=admin_token)
    revoke_returned = time.monotonic()
    time.sleep(OUTAGE_SECONDS / 2)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    made = sum(statuses.values())
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    before = Counter(allowed for _, answered, allowed in answers if answered < revoke_started)
    after = Counter(allowed for asked, _, allowed in answers if asked > revoke_returned)
    print(f"\nRedis down {OUTAGE_SECONDS}s: requests made {made}, succeeded {made - server_errors}, "
          f"failed {server_errors}; statuses {dict(statuses)}; check answers before the revoke {dict(before)}, "
          f"after it returned {dict(after)}; lockout {wrong} then {locked}; grant during the outage: {refused[0]} "
          f"{refused[1]['error']['code']}; revoke during the outage: {revoked[0]} in "
          f"{revoke_returned - revoke_started:.2f} s")  # fmt: skip
    assert made > 20
    assert server_errors == 0
    assert set(statuses) == {200}
    assert set(before) == {True} and set(after) == {False}
    assert wrong[:3] == [401, 401, 401] and wrong[3] == 429 and locked == 429
    assert refused[0] == 503 and refused[1]["error"]["code"] == "rbac_cache_unavailable"
    assert revoked[0] == 204

    # --- Redis is back, with what it held before (the old version tokens) ------------------------
    store.start()
    after = [call(port, "POST", "/api/v1/rbac/check", check, bob_token) for _ in range(20)]
    listed = ["users.user.view" in call(port, "GET", mine, token=bob_token)[1]["permissions"] for _ in range(10)]
    print(f"after the restart and the revoke: checks {Counter(json.dumps(a) for a in after)}, held {Counter(listed)}")
    assert after == [(200, {"allowed": False})] * 20  # both workers, every layer: no stale grant
    assert listed == [False] * 10


def test_the_throwaway_redis_keeps_the_machines_own_running(tmp_path):
    """Killing our own redis-server leaves the one on 6379 answering."""
    store = RedisServer(tmp_path)
    store.start()
    store.kill()
    assert redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()
    assert subprocess.run(["redis-cli", "-p", str(store.port), "ping"], capture_output=True).returncode != 0
