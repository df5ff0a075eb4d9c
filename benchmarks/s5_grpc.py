"""Scenario 5: the permission check over gRPC (`manage.py grpcserve`, the permissions client of
permissions.rpc) against the same server's health-check RPC on the same channel (the transport
floor), and batched (CheckMany of 100 and of 1,000 different questions a call) per check against
the in-process warm check. A batch cannot cost less per check than the transport floor divided by
its size, so a diagnostic row puts the health RPC over 100 beside the in-process check."""

from __future__ import annotations

import importlib
import uuid

from benchmarks import stack
from benchmarks.harness import (
    Comparison,
    ScenarioResult,
    fmt_seconds,
    interleave,
    median,
    per_call,
    profile_text,
    ratios,
)
from benchmarks.s1_check import SCOPE, gatehouse_world

BATCH = 100
LARGE_BATCH = 1000


def available() -> str | None:
    """Why the permissions gRPC service cannot be measured here, or None when it can."""
    from project.rpc.server import SERVICERS

    if "permissions" not in SERVICERS:
        return "grpcserve has no permissions servicer in this checkout"
    try:
        importlib.import_module("permissions.rpc.client")
    except ImportError as exc:
        return f"permissions.rpc.client does not import: {exc}"
    return None


def run(ctx) -> ScenarioResult:
    result = ScenarioResult("5", "Permission check over gRPC")
    missing = available()
    if missing:
        result.notes.append(f"Not measured: {missing}.")
        return result
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from permissions.interface import permission_service
    from permissions.rpc.client import GrpcPermissionService
    from project.rpc.client import channel

    user_id: uuid.UUID = gatehouse_world("g", 10, 10)
    code = "bench.g0.p0"
    port = stack.free_port()
    server = stack.process(
        "grpcserve",
        [stack.PY, "manage.py", "grpcserve", "permissions", "--host", "127.0.0.1", "--port", str(port)],
        env=stack.gatehouse_env(ctx.db),
        port=port,
    )
    with server:
        target = f"127.0.0.1:{port}"
        remote = GrpcPermissionService(target=target)
        health = health_pb2_grpc.HealthStub(channel(target))
        request = health_pb2.HealthCheckRequest(service="")
        # Different questions (a page of documents to filter), each answered once before: warm.
        checks = [(code, f"{SCOPE}/doc:{i}") for i in range(BATCH)]
        large = [(code, f"{SCOPE}/doc:{i}") for i in range(LARGE_BATCH)]
        assert remote.check(user_id=user_id, permission=code, scope=SCOPE)
        assert all(remote.check_many(user_id=user_id, checks=checks))
        assert all(remote.check_many(user_id=user_id, checks=large))
        assert permission_service.check(user_id=user_id, permission=code, scope=SCOPE)
        health.Check(request, timeout=5)
        scale = 10 if ctx.smoke else 1
        measures = {
            "unary": lambda: per_call(
                lambda: remote.check(user_id=user_id, permission=code, scope=SCOPE), 1000 // scale
            ),
            "health": lambda: per_call(lambda: health.Check(request, timeout=5), 1000 // scale),
            "batched": lambda: (
                per_call(lambda: remote.check_many(user_id=user_id, checks=checks), 100 // scale) / BATCH
            ),
            "batched_large": lambda: (
                per_call(lambda: remote.check_many(user_id=user_id, checks=large), 20 // scale or 1) / LARGE_BATCH
            ),
            "in_process": lambda: per_call(
                lambda: permission_service.check(user_id=user_id, permission=code, scope=SCOPE), 1000 // scale
            ),
        }
        f = interleave(ctx.rounds(7), measures)
        if not ctx.smoke and median(ratios(f["unary"], f["health"])) > 1.3:
            result.profile = profile_text(
                lambda: remote.check(user_id=user_id, permission=code, scope=SCOPE), 500, max_lines=40
            )
    t = {name: fmt_seconds(median(values)) for name, values in f.items()}
    result.comparisons += [
        Comparison(
            "5",
            "unary gRPC check over the health RPC (transport floor)",
            "≤ 1.3×",
            "<=",
            1.3,
            ratios(f["unary"], f["health"]),
            f"check {t['unary']}, health {t['health']}",
        ),
        Comparison(
            "5",
            f"batched gRPC check ({BATCH} a call), per check, over the in-process check",
            "≤ 5×",
            "<=",
            5,
            ratios(f["batched"], f["in_process"]),
            f"batched {t['batched']} per check, in-process {t['in_process']}",
        ),
        Comparison(
            "5",
            f"batched gRPC check ({LARGE_BATCH:,} a call), per check, over the in-process check",
            "≤ 5×",
            "<=",
            5,
            ratios(f["batched_large"], f["in_process"]),
            f"batched {t['batched_large']} per check",
        ),
        Comparison(
            "5",
            f"(diagnostic) the health RPC over {BATCH}, over the in-process check: the least a batch of {BATCH} can cost",
            "—",
            ">=",
            0,
            ratios([h / BATCH for h in f["health"]], f["in_process"]),
            f"a batch of {BATCH} meets ≤ 5× only if the whole call, transport included, costs under 5 in-process checks "
            "a question",
        ),
        Comparison(
            "5",
            "(diagnostic) the in-process check (the work the server adds) over the health RPC",
            "—",
            ">=",
            0,
            ratios(f["in_process"], f["health"]),
            "the unary goal leaves the server 0.3× a health RPC for the check itself",
        ),
    ]
    result.notes.append(
        "grpcserve serves the permissions service alone, against the bench's database and Redis; the client is "
        "the one Gatehouse's other services use (GrpcPermissionService), the health stub shares its channel."
    )
    return result
