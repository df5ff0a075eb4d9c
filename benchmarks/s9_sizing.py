"""Scenario 9: sizing (docs/operations.md, "Sizing"). Absolute figures, not ratios, for capacity
planning: what one web worker (gunicorn, one sync worker: one core at most) serves of logins and of
HTTP permission checks, what one `grpcserve permissions` process serves of unary gRPC checks, and
what each login and each check costs PostgreSQL and Redis. The throughputs are repeated rounds on
a shared machine: read the median with its min–max, and refresh them with `scripts/bench 9` on a
quiet one. Beside each throughput, the CPU time the server's processes spent per request (from
/proc) gives the per-core capacity, 1 / CPU per request, which a neighbour's load barely moves. The loads are counts, not timings: the statements Django sends (CaptureQueriesContext)
and the commands Redis receives on the bench's own database (MONITOR), for requests made in process
through the whole middleware stack, as gunicorn would run them."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import redis

from benchmarks import stack, web
from benchmarks.harness import Comparison, ScenarioResult, interleave, median, per_second_in_threads
from benchmarks.s1_check import SCOPE
from benchmarks.s2_http import grant_check_permission

WEB_CONNECTIONS = 2  # a sync worker serves one request at a time; a second connection keeps it busy
GRPC_CLIENT_THREADS = 4


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of `pid` and of its children, from /proc: gunicorn's master and its
    workers, or one grpcserve. Unlike a throughput, it hardly moves with the neighbours' load."""
    tick = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid, *(int(child) for child in children.read_text().split())]
    total = 0.0
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def measured(pid: int, rate: Callable[[], float], seconds: float, cpu_per_call: list[float]) -> Callable[[], float]:
    """`rate` (calls/s over `seconds`), also appending the CPU seconds `pid` spent per call."""

    def measure() -> float:
        before = cpu_seconds(pid)
        calls_per_second = rate()
        cpu_per_call.append((cpu_seconds(pid) - before) / (calls_per_second * seconds))
        return calls_per_second

    return measure


class RedisCommands:
    """The commands Redis receives on the bench's database while the block runs (MONITOR; the
    server's other databases are other people's and are left out). `round_trips` leaves out the
    commands a Lua script runs inside Redis."""

    def __init__(self) -> None:
        self.client = redis.Redis.from_url(stack.REDIS_URL)
        self.db = int(self.client.connection_pool.connection_kwargs.get("db", 0))
        self.mark = f"sizing-end-{uuid.uuid4().hex}"
        self.commands: list[tuple[str, str]] = []  # (client type, command)

    def __enter__(self) -> RedisCommands:
        self._monitor = self.client.monitor()
        listener = self._monitor.__enter__()  # MONITOR is on once this returns

        def listen() -> None:
            for command in listener.listen():
                if command["db"] != self.db:
                    continue
                if self.mark in command["command"]:
                    return
                self.commands.append((command.get("client_type", ""), command["command"]))

        self._thread = threading.Thread(target=listen, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.client.echo(self.mark)
        self._thread.join(timeout=30)
        self._monitor.__exit__(*exc)

    @property
    def round_trips(self) -> int:
        return sum(1 for kind, _ in self.commands if kind != "lua")

    def names(self) -> str:
        counts: dict[str, int] = {}
        for kind, command in self.commands:
            if kind != "lua":
                name = command.split(" ", 1)[0].strip('"').upper()
                counts[name] = counts.get(name, 0) + 1
        return ", ".join(f"{name} {n}" for name, n in sorted(counts.items(), key=lambda item: -item[1]))


def transactions_so_far() -> int:
    """Transactions PostgreSQL has ended in the bench's database (only this process uses it now)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")  # this backend's counts, flushed at its end
    with connection.cursor() as cursor:
        cursor.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def load_per_request(send, n: int) -> tuple[float, float, float, str]:
    """(PostgreSQL statements, PostgreSQL transactions, Redis round trips, Redis commands by name)
    per call of `send`."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    send()  # warm: the signing key, the compiled permissions, this process's mirrored copies
    before = transactions_so_far()
    with CaptureQueriesContext(connection) as queries, RedisCommands() as commands:
        for _ in range(n):
            response = send()
            assert response.status_code == 200, (response.status_code, response.content[:300])
    # The two statements of the first count are in the second; the second's own are not yet.
    transactions = transactions_so_far() - before - 2
    return len(queries) / n, transactions / n, commands.round_trips / n, commands.names()


def run(ctx) -> ScenarioResult:
    from django.test import Client

    result = ScenarioResult("9", "Sizing: one core's capacity, and the database and Redis load a request makes")
    email = "sizing@bench.example.com"
    user_id = web.bench_user(email)
    code = grant_check_permission(user_id)
    login_body = {"email": email, "password": web.PASSWORD}
    check_body = {"permission": code, "scope": SCOPE}
    seconds = 1 if ctx.smoke else 6
    rounds = ctx.rounds(5)

    cpu: dict[str, list[float]] = {"logins": [], "checks": [], "grpc": []}
    port, server = web.gatehouse_server(ctx, "sizing-web", workers=1)
    with server as web_process:
        token = web.login(port, email)
        status, answer, _ = web.post(port, "/api/v1/rbac/check", check_body, token)
        assert status == 200 and answer == {"allowed": True}, (status, answer)
        base = f"http://127.0.0.1:{port}"
        http = interleave(
            rounds,
            {
                "logins": measured(
                    web_process.pid,
                    lambda: web.wrk(
                        f"{base}/api/v1/auth/token", seconds=seconds, connections=WEB_CONNECTIONS, body=login_body
                    ),
                    seconds,
                    cpu["logins"],
                ),
                "checks": measured(
                    web_process.pid,
                    lambda: web.wrk(
                        f"{base}/api/v1/rbac/check",
                        seconds=seconds,
                        connections=WEB_CONNECTIONS,
                        body=check_body,
                        token=token,
                    ),
                    seconds,
                    cpu["checks"],
                ),
            },
        )

    from permissions.rpc.client import GrpcPermissionService

    grpc_port = stack.free_port()
    grpc_server = stack.process(
        "sizing-grpcserve",
        [stack.PY, "manage.py", "grpcserve", "permissions", "--host", "127.0.0.1", "--port", str(grpc_port)],
        env=stack.gatehouse_env(ctx.db),
        port=grpc_port,
    )
    with grpc_server as grpc_process:
        remote = GrpcPermissionService(target=f"127.0.0.1:{grpc_port}")
        assert remote.check(user_id=user_id, permission=code, scope=SCOPE)
        grpc = interleave(
            rounds,
            {
                "checks": measured(
                    grpc_process.pid,
                    lambda: per_second_in_threads(
                        lambda: remote.check(user_id=user_id, permission=code, scope=SCOPE),
                        seconds,
                        GRPC_CLIENT_THREADS,
                    ),
                    seconds,
                    cpu["grpc"],
                )
            },
        )

    client = Client(HTTP_HOST="127.0.0.1")
    n = 5 if ctx.smoke else 50
    login_sql, login_xacts, login_redis, login_names = load_per_request(
        lambda: client.post("/api/v1/auth/token", login_body, content_type="application/json"), n
    )
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    check_sql, check_xacts, check_redis, check_names = load_per_request(
        lambda: client.post("/api/v1/rbac/check", check_body, content_type="application/json", **auth), n * 4
    )

    def row(name: str, figures: list[float], detail: str) -> Comparison:
        return Comparison("9", name, "—", ">=", 0, [round(f, 1) for f in figures], detail, unit="")

    def per_core(name: str, cpu_per_call: list[float], what: str) -> Comparison:
        return row(
            name,
            [1 / c for c in cpu_per_call if c > 0],
            f"1 / CPU per {what}: median {1000 * median(cpu_per_call):.2f} ms of CPU "
            f"(min–max {1000 * min(cpu_per_call):.2f}–{1000 * max(cpu_per_call):.2f} ms)",
        )

    result.comparisons += [
        per_core("logins/s per core, web (from CPU time)", cpu["logins"], "login, gunicorn's processes"),
        per_core("HTTP checks/s per core, web (from CPU time)", cpu["checks"], "check, gunicorn's processes"),
        per_core("unary gRPC checks/s per core, grpcserve (from CPU time)", cpu["grpc"], "check, grpcserve"),
        row(
            "logins/s, one web worker (one core)",
            http["logins"],
            f"gunicorn, 1 sync worker, wrk with {WEB_CONNECTIONS} connections; Argon2id verify per login",
        ),
        row(
            "HTTP checks/s, one web worker (one core)",
            http["checks"],
            f"POST /api/v1/rbac/check, bearer token, warm; gunicorn 1 sync worker, wrk {WEB_CONNECTIONS} connections",
        ),
        row(
            "unary gRPC checks/s, one grpcserve process",
            grpc["checks"],
            f"{GRPC_CLIENT_THREADS} client threads in the bench process on the same machine",
        ),
        row("PostgreSQL statements per login", [login_sql], f"over {n} logins in process"),
        row("PostgreSQL transactions per login", [login_xacts], "pg_stat_database, the bench's database"),
        row("Redis round trips per login", [login_redis], login_names or "none"),
        row("PostgreSQL statements per warm check (HTTP)", [check_sql], f"over {n * 4} checks in process"),
        row("PostgreSQL transactions per warm check (HTTP)", [check_xacts], "pg_stat_database"),
        row("Redis round trips per warm check (HTTP)", [check_redis], check_names or "none"),
    ]
    result.notes.append(
        "Sizing figures (docs/operations.md, Sizing): absolute, from repeated rounds on a machine shared "
        f"with other work; medians of {rounds} rounds of {seconds} s. Per 100 logins/s: "
        f"{100 * login_sql:.0f} statements/s in {100 * login_xacts:.0f} transactions/s and {100 * login_redis:.0f} "
        f"Redis round trips/s; per 1,000 checks/s: {1000 * check_sql:.0f} statements/s in {1000 * check_xacts:.0f} "
        f"transactions/s and {1000 * check_redis:.0f} Redis round trips/s. "
        f"One core, from CPU time: {1 / median(cpu['logins']):.0f} logins/s or {1 / median(cpu['checks']):.0f} "
        f"HTTP checks/s of a web worker, {1 / median(cpu['grpc']):.0f} unary checks/s of grpcserve."
    )
    return result
