"""Scenario 3: login (POST /api/v1/auth/token on gunicorn) against its floor, a raw Argon2id verify
with the same parameters (users.hashers.GatehouseArgon2Hasher): the latency of one login at a
time, and logins/s against verifies/s at the same concurrency (the server's 2 workers, 2 client
connections; 2 verifying threads: argon2-cffi releases the GIL)."""

from __future__ import annotations

import statistics
import time

from argon2 import PasswordHasher

from benchmarks import stack, web
from benchmarks.harness import (
    Comparison,
    ScenarioResult,
    fmt_seconds,
    interleave,
    median,
    per_call,
    per_second_in_threads,
    profile_text,
    ratios,
)

CONCURRENCY = 2


def verifies_per_second(hasher: PasswordHasher, digest: str, seconds: float, threads: int) -> float:
    return per_second_in_threads(lambda: hasher.verify(digest, web.PASSWORD), seconds, threads)


def run(ctx) -> ScenarioResult:
    from users.hashers import GatehouseArgon2Hasher

    result = ScenarioResult("3", "Login")
    h = GatehouseArgon2Hasher
    hasher = PasswordHasher(time_cost=h.time_cost, memory_cost=h.memory_cost, parallelism=h.parallelism)
    digest = hasher.hash(web.PASSWORD)
    email = "login@bench.example.com"
    web.bench_user(email)
    n = 3 if ctx.smoke else 15
    seconds = 1 if ctx.smoke else 6
    port, server = web.gatehouse_server(ctx)
    # The login's floors over HTTP (benchmarks/peer/urls.py): a bare Django view that only verifies
    # the password, and the same with a login's round trips to Redis and PostgreSQL as `SELECT 1`s.
    floor_port = stack.free_port()
    floor_env = stack.peer_env() | {
        "BENCH_PEER_DATABASE_URL": stack.database_url(ctx.db),  # SELECT 1 needs no table
        "BENCH_REDIS_URL": stack.REDIS_URL,
        "BENCH_ARGON2": f"{h.time_cost},{h.memory_cost},{h.parallelism}",
        "BENCH_PASSWORD": web.PASSWORD,
    }
    floor_server = stack.gunicorn("login-floor-web", "benchmarks.peer.wsgi", env=floor_env, port=floor_port)
    with server, floor_server:
        web.login(port, email)  # warm: imports, connections

        def p50(at: int, path: str) -> float:
            times = []
            for _ in range(n):
                status, body, elapsed = web.post(at, path, {"email": email, "password": web.PASSWORD})
                assert status == 200, body
                times.append(elapsed)
            return statistics.median(times)

        for path in ("/bare/login", "/skeleton/login", "/essential/login", "/statements/login"):
            p50(floor_port, path)  # warm both workers' imports and connections

        def verify_p50() -> float:
            times = []
            for _ in range(n):
                started = time.perf_counter()
                hasher.verify(digest, web.PASSWORD)
                times.append(time.perf_counter() - started)
            return statistics.median(times)

        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from auth.interface import ClientInfo, auth_service

        client = ClientInfo(ip="127.0.0.1", user_agent="bench")
        auth_service.login(email=email, password=web.PASSWORD, client=client)  # this process reads the signing key once
        with CaptureQueriesContext(connection) as captured:
            auth_service.login(email=email, password=web.PASSWORD, client=client)
        queries = len(captured)

        def pg_round_trip() -> float:
            def select_one():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
                    cursor.fetchone()

            return per_call(select_one, 50)

        body = {"email": email, "password": web.PASSWORD}
        measures = {
            "pg": pg_round_trip,
            "login_p50": lambda: p50(port, "/api/v1/auth/token"),
            "bare_p50": lambda: p50(floor_port, "/bare/login"),
            "skeleton_p50": lambda: p50(floor_port, "/skeleton/login"),
            "essential_p50": lambda: p50(floor_port, "/essential/login"),
            "statements_p50": lambda: p50(floor_port, "/statements/login"),
            "verify_p50": verify_p50,
            "logins_per_s": lambda: web.wrk(
                f"http://127.0.0.1:{port}/api/v1/auth/token", seconds=seconds, connections=CONCURRENCY, body=body
            ),
            "verifies_per_s": lambda: verifies_per_second(hasher, digest, seconds, CONCURRENCY),
            "skeletons_per_s": lambda: web.wrk(
                f"http://127.0.0.1:{floor_port}/skeleton/login", seconds=seconds, connections=CONCURRENCY, body=body
            ),
            "essentials_per_s": lambda: web.wrk(
                f"http://127.0.0.1:{floor_port}/essential/login", seconds=seconds, connections=CONCURRENCY, body=body
            ),
            "statements_per_s": lambda: web.wrk(
                f"http://127.0.0.1:{floor_port}/statements/login", seconds=seconds, connections=CONCURRENCY, body=body
            ),
        }
        f = interleave(ctx.rounds(5), measures)
    if not ctx.smoke:
        result.profile = profile_text(
            lambda: auth_service.login(email=email, password=web.PASSWORD, client=client), 20, max_lines=50
        )
    result.comparisons += [
        Comparison(
            "3",
            "login p50 over a raw Argon2 verify (floor)",
            "≤ 1.10×",
            "<=",
            1.10,
            ratios(f["login_p50"], f["verify_p50"]),
            f"login p50 {fmt_seconds(median(f['login_p50']))}, verify p50 {fmt_seconds(median(f['verify_p50']))}",
        ),
        Comparison(
            "3",
            f"logins/s over raw verifies/s, concurrency {CONCURRENCY}",
            "≥ 0.9×",
            ">=",
            0.9,
            ratios(f["logins_per_s"], f["verifies_per_s"]),
            f"{median(f['logins_per_s']):.1f} logins/s, {median(f['verifies_per_s']):.1f} verifies/s",
        ),
        Comparison(
            "3",
            f"(diagnostic) login p50 over verify p50 + {queries} queries × a SELECT 1 round trip",
            "—",
            ">=",
            0,
            [a / (b + queries * c) for a, b, c in zip(f["login_p50"], f["verify_p50"], f["pg"], strict=True)],
            f"{queries} queries a login (in-process count); SELECT 1 {fmt_seconds(median(f['pg']))}",
        ),
        Comparison(
            "3",
            "(floor) a bare Django view that only verifies the password, p50 over a raw verify",
            "—",
            ">=",
            0,
            ratios(f["bare_p50"], f["verify_p50"]),
            f"bare login p50 {fmt_seconds(median(f['bare_p50']))}",
        ),
        Comparison(
            "3",
            "(floor) that view with a login's round trips (1 Redis, 2 + 1 SELECT 1), p50 over a raw verify",
            "—",
            ">=",
            0,
            ratios(f["skeleton_p50"], f["verify_p50"]),
            f"skeleton login p50 {fmt_seconds(median(f['skeleton_p50']))}",
        ),
        Comparison(
            "3",
            "(floor) the skeleton with a login's essentials (its 2 writes, an RS256 signature), p50 over a raw verify",
            "—",
            ">=",
            0,
            ratios(f["essential_p50"], f["verify_p50"]),
            f"essential login p50 {fmt_seconds(median(f['essential_p50']))}",
        ),
        Comparison(
            "3",
            "(diagnostic) login p50 over that skeleton's p50",
            "—",
            ">=",
            0,
            ratios(f["login_p50"], f["skeleton_p50"]),
            "what Gatehouse's own work adds to the round trips and the verify",
        ),
        Comparison(
            "3",
            f"(floor) the skeleton's logins/s over raw verifies/s, concurrency {CONCURRENCY}",
            "—",
            ">=",
            0,
            ratios(f["skeletons_per_s"], f["verifies_per_s"]),
            f"{median(f['skeletons_per_s']):.1f} skeleton logins/s",
        ),
        Comparison(
            "3",
            f"(floor) the essentials' logins/s over raw verifies/s, concurrency {CONCURRENCY}",
            "—",
            ">=",
            0,
            ratios(f["essentials_per_s"], f["verifies_per_s"]),
            f"{median(f['essentials_per_s']):.1f} essential logins/s",
        ),
        Comparison(
            "3",
            "(floor) the essentials with a login's own statements and rate-limit script, p50 over a raw verify",
            "—",
            ">=",
            0,
            ratios(f["statements_p50"], f["verify_p50"]),
            f"statements login p50 {fmt_seconds(median(f['statements_p50']))}",
        ),
        Comparison(
            "3",
            f"(floor) those statements' logins/s over raw verifies/s, concurrency {CONCURRENCY}",
            "—",
            ">=",
            0,
            ratios(f["statements_per_s"], f["verifies_per_s"]),
            f"{median(f['statements_per_s']):.1f} statements logins/s",
        ),
        Comparison(
            "3",
            f"(diagnostic) logins/s over those statements' logins/s, concurrency {CONCURRENCY}",
            "—",
            ">=",
            0,
            ratios(f["logins_per_s"], f["statements_per_s"]),
            "what Gatehouse's own Python (edge, API, ORM, token claims) costs the throughput",
        ),
    ]
    result.notes.append(
        "A login verifies the password (Argon2id, 19 MiB, t=2, p=1), records the session and its refresh "
        "token in PostgreSQL, checks the brute-force counters and TOTP, and signs an access token (RS256): "
        "everything beyond the verify is the overhead measured here."
    )
    return result
