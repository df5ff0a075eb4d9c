"""Scenario 7: scaling. Gatehouse with 10^3 … 10^6 users and as many assignments (one each, in 100
scopes): the latency of a cold permission check (the user's entry compiled from PostgreSQL), of a
warm one, and of a user-list page (the first, newest first, 50 users), at each size.

Sizes differ in time, not only in data, so each figure is taken in interleaved rounds with a
reference measured in the same round, a bare `SELECT 1` round trip to the same PostgreSQL; the
curves show absolute medians and the goal compares the normalised figures of the largest size
with those of the smallest. The build goes on to the next order of magnitude only while the
rows/s measured so far say it fits in the budget (BENCH_SCALING_BUDGET seconds, default 120).
"""

from __future__ import annotations

import os
import time
import uuid

from benchmarks.harness import Comparison, Curve, ScenarioResult, fmt_seconds, interleave, median, per_call

BATCH = 50_000
SCOPES = 100


def _select_list(model, special: dict[str, tuple[str, list]]) -> tuple[str, str, list]:
    """Columns and SQL expressions (with their parameters, in order) for `INSERT … SELECT …
    FROM generate_series(…) AS i`: the given expressions, NULL for nullable columns, now() for
    date-times, every other default as a parameter."""
    from django.db import models

    columns, expressions, params = [], [], []
    for field in model._meta.concrete_fields:
        columns.append(f'"{field.column}"')
        if field.column in special:
            expression, values = special[field.column]
            expressions.append(expression)
            params += values
        elif field.null:
            expressions.append("NULL")
        elif isinstance(field, models.DateTimeField):
            expressions.append("now()")
        elif field.has_default() and not callable(field.default):
            expressions.append("%s")
            params.append(field.default)
        else:
            raise RuntimeError(f"no value for {model.__name__}.{field.name}: give one in `special`")
    return ", ".join(columns), ", ".join(expressions), params


def grow(current: int, target: int, role_id: uuid.UUID) -> None:
    """Add users and their assignments until there are `target` of each: server-side
    INSERT … SELECT over generate_series in batches, user i's id derived from i in both tables."""
    from django.db import connection, transaction

    from permissions.models import Assignment
    from users.models import User

    user_id = ("md5('scale-' || i)::uuid", [])
    statements = [
        (
            User._meta.db_table,
            _select_list(
                User, {"id": user_id, "email": ("'u' || i || '@scale.example.com'", []), "password": ("'!'", [])}
            ),
        ),
        (
            Assignment._meta.db_table,
            _select_list(
                Assignment,
                {
                    "id": ("md5('scale-assignment-' || i)::uuid", []),
                    "role_id": ("%s", [role_id]),
                    "user_id": user_id,
                    "scope": (f"'org:o' || (i %% {SCOPES})", []),
                },
            ),
        ),
    ]
    for offset in range(current, target, BATCH):
        with transaction.atomic(), connection.cursor() as cursor:
            for table, (columns, expressions, params) in statements:
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) SELECT {expressions} FROM generate_series(%s, %s) AS i",  # noqa: S608 - names from the models
                    [*params, offset, min(offset + BATCH, target) - 1],
                )
    # What the server would otherwise do in the background while the next size is measured:
    # vacuum and statistics for the new rows, and writing them out.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE users_user")
        cursor.execute("VACUUM ANALYZE permissions_assignment")
        cursor.execute("CHECKPOINT")


def run(ctx) -> ScenarioResult:
    from django.db import connection

    from permissions.core import cache as rbac_cache
    from permissions.interface import permission_service
    from permissions.models import Assignment, Permission, Role
    from users.interface import user_service
    from users.models import User

    result = ScenarioResult("7", "Scaling with users and assignments")
    code = "bench.scale.read"
    Permission.objects.get_or_create(code=code)
    role, _ = Role.objects.get_or_create(name="bench-scale")
    role.permissions.add(code)
    rbac_cache.invalidate(everyone=True)
    budget = float(os.environ.get("BENCH_SCALING_BUDGET", "120"))
    sizes = [100, 1000] if ctx.smoke else [1000, 10_000, 100_000, 1_000_000]
    rounds = ctx.rounds(7)
    per_round = 5 if ctx.smoke else 40
    current = User.objects.filter(email__endswith="@scale.example.com").count()
    base_users = current
    build_seconds = 0.0
    measured: dict[int, dict[str, list[float]]] = {}
    for size in sizes:
        rows_per_second = (current - base_users) / build_seconds if build_seconds else None
        if rows_per_second and (size - current) / rows_per_second > budget:
            result.notes.append(
                f"Stopped before {size:,} users: at the {rows_per_second:,.0f} users (+ as many assignments) per "
                f"second measured so far, building the {size - current:,} more would take "
                f"{(size - current) / rows_per_second:.0f} s, over the {budget:.0f} s budget "
                "(BENCH_SCALING_BUDGET)."
            )
            break
        t0 = time.perf_counter()
        grow(current, size, role.id)
        build_seconds += time.perf_counter() - t0
        current = size
        sample = list(
            Assignment.objects.filter(role=role)
            .order_by("?")
            .values_list("user_id", "scope")[: (rounds + 1) * per_round]
        )
        batches = iter([sample[i * per_round : (i + 1) * per_round] for i in range(rounds + 1)])
        state: dict = {}

        def cold(batches=batches, state=state):
            users = next(batches)
            state["users"] = users
            started = time.perf_counter()
            for user_id, scope in users:
                assert permission_service.check(user_id=user_id, permission=code, scope=scope)
            return (time.perf_counter() - started) / len(users)

        def warm(state=state):
            users = state["users"]
            return per_call(
                lambda: [permission_service.check(user_id=u, permission=code, scope=s) for u, s in users], 5
            ) / len(users)

        def page():
            return per_call(lambda: user_service.list_users(limit=50), per_round)

        def select_one():
            def q():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
                    cursor.fetchone()

            return per_call(q, 200)

        # cold first in every round (it chooses the users warm re-checks): no rotation here.
        # The first round warms connections and caches up and is discarded.
        figures = {"cold": [], "warm": [], "page": [], "pg": []}
        for r in range(rounds + 1):
            f = interleave(1, {"cold": cold, "warm": warm, "page": page, "pg": select_one})
            for name in figures:
                figures[name] += f[name] if r else []
        measured[size] = figures
    result.notes.append(
        f"Built {current:,} users and {current:,} assignments in {build_seconds:.0f} s "
        f"({(current - base_users) / max(build_seconds, 1e-9):,.0f} users + assignments per second, "
        "INSERT … SELECT over generate_series, batches of 50,000)."
    )
    done = sorted(measured)
    curve = Curve(
        "7",
        "Latency against the number of users and assignments",
        "users (= assignments)",
        "ms (median)",
        filename="scaling.png",
    )
    for name, label in (("cold", "cold check"), ("warm", "warm check"), ("page", "user-list page (50)")):
        curve.series[label] = [(size, median(measured[size][name]) * 1000) for size in done]
    result.curves.append(curve)
    small, large = done[0], done[-1]
    for name, label in (("cold", "cold check"), ("page", "user-list page")):
        norm_small = [a / b for a, b in zip(measured[small][name], measured[small]["pg"], strict=True)]
        norm_large = [a / b for a, b in zip(measured[large][name], measured[large]["pg"], strict=True)]
        result.comparisons.append(
            Comparison(
                "7",
                f"{label} at {large:,} over {small:,} users (each over a SELECT 1 of its round)",
                "≤ 1.3×",
                "<=",
                1.3,
                [a / b for a, b in zip(norm_large, norm_small, strict=True)],
                f"{fmt_seconds(median(measured[small][name]))} → {fmt_seconds(median(measured[large][name]))}",
            )
        )
    warm_ratio = [a / b for a, b in zip(measured[large]["warm"], measured[small]["warm"], strict=True)]
    result.comparisons.append(
        Comparison(
            "7",
            f"warm check at {large:,} over {small:,} users",
            "≤ 1.3×",
            "<=",
            1.3,
            warm_ratio,
            f"{fmt_seconds(median(measured[small]['warm']))} → {fmt_seconds(median(measured[large]['warm']))}",
        )
    )
    return result
