"""Quota leasing with several real processes against the real Redis (issue 24; docs/operations.md,
Edge policy): a window admits at most L, and exactly L when traffic reaches every process, in a
tenth of the round trips."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
import uuid

import pytest
from django_redis import get_redis_connection

from tests.support.factories import UserFactory
from tests.support.processes import Process, free_port, port_open, subprocess_env

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-Long-enough-passphrase-42"

# Each process hits one bucket `calls` times as fast as it can, at the same moment as the others,
# and prints what it admitted and what it still holds.
HITTER = """
import json, sys, time
import django
django.setup()
from gateway import edge
key, calls, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rate = edge.parse_rate("500/min")
while time.time() < start:
    time.sleep(0.001)
admitted = sum(edge.hit(key, 1, rate, lease=True)[0] <= rate.limit for _ in range(calls))
lease = edge._leasing._leases.get(key)
print(json.dumps({"admitted": admitted, "held": lease.held if lease else 0}))
"""


def test_three_processes_hitting_one_bucket_at_once_admit_at_most_the_limit(tmp_path):
    import subprocess
    import time

    key = f"gatehouse:rl:user:{uuid.uuid4()}"
    env = subprocess_env(GATEHOUSE_RATELIMIT_LEASE="10")
    start = time.time() + 8  # all three imported Django and wait for the same moment
    children = [
        subprocess.Popen(
            [sys.executable, "-c", HITTER, key, "400", str(start)], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    results = [json.loads(child.communicate(timeout=120)[0].strip().splitlines()[-1]) for child in children]
    admitted = sum(r["admitted"] for r in results)
    held = sum(r["held"] for r in results)
    shared = int(get_redis_connection("default").get(key))
    print(f"\n3 processes x 400 calls, limit 500, lease 10: {admitted} admitted, {held} held, Redis count {shared}")
    assert admitted + held == 500  # every unit under the limit spent or held once, none twice
    assert 500 - 3 * 9 <= admitted <= 500  # the documented bound: L - P·(k - 1) ≤ admitted ≤ L
    assert shared <= 500 + 3 * 10  # about 53 round trips for 1,200 calls, not 1,200
    assert shared % 10 == 0


def _get(port: int, path: str, headers: dict) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _token(port: int, email: str) -> str:
    body = json.dumps({"email": email, "password": PASSWORD}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/token", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["access_token"]


def test_three_gunicorn_processes_share_a_leased_user_limit_exactly(tmp_path):
    """Three web processes, calls spread over them in turn: the user gets exactly the limit, and
    Redis saw a lease of 10 at a time, not a count a call."""
    limit = 200
    user = UserFactory(email=f"lease-{uuid.uuid4().hex[:8]}@example.com", password=PASSWORD)
    env = subprocess_env(
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        GATEHOUSE_RATELIMIT_USER=f"{limit}/min",
        GATEHOUSE_RATELIMIT_ANON="1000/min",
        GATEHOUSE_RATELIMIT_LEASE="10",
    )
    webs = []
    try:
        for name in ("web-a", "web-b", "web-c"):
            port = free_port()
            args = [sys.executable, "-m", "gunicorn", "project.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"]
            process = Process(name, args, env=env, log_dir=tmp_path)
            webs.append((process, port))
        for process, port in webs:
            process.wait_until(lambda port=port: port_open(port) and _get(port, "/healthz", {}) == 200, timeout=60)
        headers = {"Authorization": f"Bearer {_token(webs[0][1], user.email)}"}
        statuses = [_get(webs[i % 3][1], "/api/v1/users/me", headers) for i in range(300)]
        passed = statuses.count(200)
        shared = int(get_redis_connection("default").get(f"gatehouse:rl:user:{user.id}"))
        print(f"\n300 calls over 3 processes, limit {limit}, lease 4: {passed} passed, Redis count {shared}")
        assert set(statuses) == {200, 429}
        assert passed == limit
        # lease_size(200) = min(10, 200 // 50) = 4: at most 50 leases plus one a process past the limit.
        assert shared <= limit + 3 * 4
        assert shared % 4 == 0
    finally:
        for process, _ in webs:
            process.stop()
