"""Fault: a slow, then dead, gRPC service behind the web edge (issue 8). Stack mode.

A real gunicorn reaches the users service over gRPC (USERS_GRPC_TARGET) at a real `manage.py
grpcserve users` with only two worker threads. Under a steady load of GET /api/v1/users/me:

- slow (the server frozen with SIGSTOP: connections open, nothing answers): every request ends
  at the deadline (GATEHOUSE_GRPC_TIMEOUT) with a 503 `deadline_exceeded` and Retry-After, never
  later, never a 500;
- back (SIGCONT): the calls that piled up while it was frozen are refused by the server without
  work (their callers gave up), so its two threads are free at once: fresh calls succeed within
  a second, and the web process's database pool serves throughout (no exhausted pools);
- dead (SIGKILL): every request is a 503 `service_unavailable` at once (no waiting for a deadline);
- restarted on the same port: calls succeed again within seconds (the channel reconnects).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter

import pytest

from tests.rpc.servers import start_grpcserve
from tests.support.processes import Process, manage, subprocess_env

from .conftest import Web, access_token_for, new_user
from .faults import call

pytestmark = [pytest.mark.stack, pytest.mark.serial, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = float(os.environ.get("GATEHOUSE_FAULT_OUTAGE_SECONDS", "8"))
DEADLINE = 1.0  # GATEHOUSE_GRPC_TIMEOUT of the web process


class Load:
    """Threads calling GET /api/v1/users/me; every answer logged with its time and duration."""

    def __init__(self, web: Web, token: str, threads: int):
        self.web, self.token = web, token
        self.log: list[tuple[float, float, int, str, str]] = []  # (start, seconds, status, code, Retry-After)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run) for _ in range(threads)]
        for thread in self.threads:
            thread.start()

    def _run(self):
        while not self.stop.is_set():
            started = time.monotonic()
            status, body, retry_after = call(self.web, "GET", "/api/v1/users/me", token=self.token)
            code = body.get("error", {}).get("code", "") if isinstance(body, dict) else ""
            with self.lock:
                self.log.append((started, time.monotonic() - started, status, code, retry_after))
            time.sleep(0.02)

    def between(self, start: float, end: float):
        with self.lock:
            return [entry for entry in self.log if start <= entry[0] and entry[0] + entry[1] <= end]

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


def summary(entries) -> str:
    statuses = Counter(f"{status} {code}".strip() for _, _, status, code, _ in entries)
    slowest = max((seconds for _, seconds, *_ in entries), default=0.0)
    return f"{len(entries)} requests {dict(statuses)}, slowest {slowest:.2f}s"


def test_slow_then_dead_grpc_service_deadlines_503s_recovery_and_no_exhausted_pools(tmp_path):
    server = start_grpcserve(tmp_path, "users", "--workers", "2", name="users-rpc")
    port = server.port
    web = Web("web", log_dir=tmp_path, USERS_GRPC_TARGET=server.target, GATEHOUSE_GRPC_TIMEOUT=str(DEADLINE))
    user = new_user()
    token = access_token_for(user)
    assert web.call("GET", "/api/v1/users/me", token=token)[0] == 200
    load = Load(web, token, threads=2)  # one per gunicorn worker: no time spent queueing at the edge
    time.sleep(1.5)
    phases = {}

    # --- slow: frozen, connections open --------------------------------------------------------
    t0 = time.monotonic()
    os.killpg(server.process.popen.pid, signal.SIGSTOP)
    time.sleep(OUTAGE_SECONDS / 2)
    t1 = time.monotonic()
    os.killpg(server.process.popen.pid, signal.SIGCONT)
    phases["slow"] = load.between(t0 + 0.05, t1)
    # Meanwhile the web process's database pool still serves (a check answered by the local RBAC).
    database_only = []
    for _ in range(12):
        started = time.monotonic()
        status, body = web.call("POST", "/api/v1/rbac/check", {"permission": "users.user.view"}, token=token)
        database_only.append((status, body, time.monotonic() - started))
    time.sleep(3)
    t2 = time.monotonic()
    phases["back"] = load.between(t1, t2)

    # --- dead -----------------------------------------------------------------------------------
    server.process.kill()
    handled = Counter(
        r["grpc_code"]
        for r in server.log_records()
        if r.get("grpc_method", "").startswith("/gatehouse.users.v1.UserService/")
    )
    time.sleep(OUTAGE_SECONDS / 2)
    t3 = time.monotonic()
    phases["dead"] = load.between(t2 + 0.05, t3)

    # --- restarted on the same port ---------------------------------------------------------------
    restarted = Process("users-rpc-2", manage("grpcserve", "users", "--port", str(port), "--workers", "2"),
                        env=subprocess_env(), log_dir=tmp_path)  # fmt: skip
    try:
        restarted.wait_until(lambda: "grpcserve: serving" in restarted.output(), timeout=60, what="serving")
        t4 = time.monotonic()
        time.sleep(4)
        load.finish()
        phases["restarted"] = load.between(t4, time.monotonic())
    finally:
        load.finish()
        restarted.stop()
        web.stop()

    made = len(load.log)
    succeeded = sum(1 for entry in load.log if entry[2] == 200)
    back_first_ok = next((s + d - t1 for s, d, status, *_ in phases["back"] if status == 200), None)
    back_late = [entry for entry in phases["back"] if entry[0] >= t1 + 1.0]
    up_first_ok = next((s + d - t4 for s, d, status, *_ in phases["restarted"] if status == 200), None)
    up_late = [entry for entry in phases["restarted"] if entry[0] >= t4 + 3.0]
    answered_before_kill = 1 + sum(1 for start, seconds, status, *_ in load.log if status == 200 and start < t2)
    print(
        f"\ngRPC users service, deadline {DEADLINE}s: requests made {made}, succeeded {succeeded}, "
        f"failed {made - succeeded}\n"
        + "\n".join(f"  {name}: {summary(entries)}" for name, entries in phases.items())
        + f"\n  RBAC checks (database only) right after SIGCONT: {Counter(a[0] for a in database_only)}, slowest "
        f"{max(a[2] for a in database_only):.2f}s"
        f"\n  first success after SIGCONT {back_first_ok}s, after the restart {up_first_ok}s"
        f"\n  calls the first server handled {dict(handled)}; answered 200 by the web before the kill "
        f"{answered_before_kill} (the difference: work done for callers that had given up)"
    )
    slow, dead = phases["slow"], phases["dead"]
    assert len(slow) >= 3 and len(dead) >= 4
    assert {(status, code) for _, _, status, code, _ in slow} == {(503, "deadline_exceeded")}
    assert all(seconds <= DEADLINE + 0.5 for _, seconds, *_ in slow)  # the deadline holds, not later
    assert all(retry_after for *_, retry_after in slow + dead)
    assert {(status, code) for _, _, status, code, _ in dead} == {(503, "service_unavailable")}
    assert all(seconds < 0.5 for _, seconds, *_ in dead)  # no waiting for a dead server
    assert back_first_ok is not None and back_first_ok <= 1.0
    assert back_late and {entry[2] for entry in back_late} == {200}  # its two threads free again
    assert up_first_ok is not None and up_first_ok <= 3.0
    assert up_late and {entry[2] for entry in up_late} == {200}
    assert {status for _, _, status, _, _ in load.log} <= {200, 503}
    # The calls that piled up while it was frozen did no work: at most the ones in flight at the freeze.
    assert 0 <= sum(handled.values()) - answered_before_kill <= 2
    assert all(
        status == 200 and body == {"allowed": False} and seconds < 1.0 for status, body, seconds in database_only
    )
