"""Scenario 11: organizations at scale (issue 20). One PostgreSQL with 10^3, 10^4 and 10^5
organizations, ten times as many users and a hundred times as many memberships (10^5 orgs: 1,000,000
users, 10,000,000 memberships): the org-scoped permission check (cold: the user's entry compiled
from PostgreSQL; warm), a member-list page and "my orgs", through the org service calls the REST
views make (`org_service.list_members`, `org_service.list_orgs`; the check is the one every org
route starts with, `orgs.org.view` in `org:<id>`).

Scenario 7's method: each figure is taken in rounds with a bare `SELECT 1` round trip to the same
PostgreSQL measured in the same round, and the goal compares the normalised figures of the
largest size with those of the smallest. Finer than scenario 7: within a round, every sampled
(member, org) pair's calls run next to that pair's own SELECT 1s, in a rotated order. The data is made server-side (INSERT … SELECT over
generate_series, batches) straight into the tables, then VACUUM ANALYZE; a membership is what the
org service reads, an RBAC assignment of `org_owner|org_admin|org_member` in scope `org:<id>`.
The layout: orgs come in blocks of 10 sharing 100 users, every user of a block a member of each of
its 10 orgs (100 members per org, 10 orgs per user); in each org one owner, four admins. The build
goes on to the next size only while the rows/s measured so far say it fits in the budget
(BENCH_ORGS_BUDGET seconds, default 1800).
"""

from __future__ import annotations

import os
import time

from benchmarks.harness import Comparison, Curve, ScenarioResult, fmt_seconds, median
from benchmarks.s7_scaling import _select_list

BLOCK_ORGS = 10  # orgs per block
BLOCK_USERS = 100  # users per block: each a member of the block's 10 orgs
PER_BLOCK = BLOCK_ORGS * BLOCK_USERS  # memberships per block
WARM_REPEAT = 5  # warm checks a pair
PG_REPEAT = 5  # SELECT 1s a pair
BATCH_BLOCKS = 500  # 500,000 memberships (5,000 orgs, 50,000 users) per transaction

# Ids derived from the index, so a size grows from the one before and the sample is computable.
ORG_ID = "md5('org11-' || {})::uuid"
USER_ID = "md5('user11-' || {})::uuid"


def _statements(role_ids: dict[str, object]):
    """(table, columns, expressions, params, kind) per table; kind says what the series counts."""
    from permissions.models import Assignment
    from users.models import Organization, User

    # membership k: block b = k / 1000, r = k % 1000; org 10 b + r / 100, user 100 b + r % 100.
    m_org = f"((k / {PER_BLOCK}) * {BLOCK_ORGS} + (k %% {PER_BLOCK}) / {BLOCK_USERS})"
    m_slot = f"(k %% {BLOCK_USERS})"
    m_user = f"((k / {PER_BLOCK}) * {BLOCK_USERS} + {m_slot})"
    # The owner of org j is the block's user j % 10; admins the next four slots.
    owner_slot = f"({m_org} %% {BLOCK_ORGS})"
    role = (
        f"CASE WHEN {m_slot} = {owner_slot} THEN %s::uuid "
        f"WHEN ({m_slot} - {owner_slot} + {BLOCK_USERS}) %% {BLOCK_USERS} < 5 THEN %s::uuid ELSE %s::uuid END"
    )
    return [
        (
            Organization._meta.db_table,
            *_select_list(
                Organization,
                {
                    "id": (ORG_ID.format("k"), []),
                    "name": ("'Org ' || k", []),
                    "slug": ("'org11-' || k", []),
                    "created_at": ("now() - make_interval(secs => k)", []),
                },
            ),
            "orgs",
        ),
        (
            User._meta.db_table,
            *_select_list(
                User,
                {
                    "id": (USER_ID.format("k"), []),
                    "email": ("'u' || k || '@orgs11.example.com'", []),
                    "password": ("'!'", []),
                },
            ),
            "users",
        ),
        (
            Assignment._meta.db_table,
            *_select_list(
                Assignment,
                {
                    "id": ("md5('membership11-' || k)::uuid", []),
                    "role_id": (role, [role_ids["owner"], role_ids["admin"], role_ids["member"]]),
                    "user_id": (USER_ID.format(m_user), []),
                    "scope": ("'org:' || " + ORG_ID.format(m_org) + "::text", []),
                    "created_at": ("now() - make_interval(secs => k)", []),
                },
            ),
            "memberships",
        ),
    ]


def grow(current_orgs: int, target_orgs: int, role_ids: dict[str, object], progress) -> None:
    """Add orgs, users and memberships, whole blocks at a time, until there are `target_orgs`."""
    from django.db import connection, transaction

    statements = _statements(role_ids)
    per_org = {"orgs": 1, "users": BLOCK_USERS // BLOCK_ORGS, "memberships": BLOCK_USERS}
    step = BATCH_BLOCKS * BLOCK_ORGS
    for offset in range(current_orgs, target_orgs, step):
        end = min(offset + step, target_orgs)
        with transaction.atomic(), connection.cursor() as cursor:
            for table, columns, expressions, params, kind in statements:
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) SELECT {expressions} FROM generate_series(%s, %s) AS k",  # noqa: S608 - names from the models
                    [*params, offset * per_org[kind], end * per_org[kind] - 1],
                )
        progress(end)
    # What the server would otherwise do in the background while the next size is measured.
    with connection.cursor() as cursor:
        for table, *_ in statements:
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("CHECKPOINT")


def run(ctx) -> ScenarioResult:
    import random
    import uuid

    from django.db import connection

    from permissions.core import cache as rbac_cache
    from permissions.interface import ORG_ADMIN_ROLE, ORG_MEMBER_ROLE, ORG_OWNER_ROLE, permission_service
    from users.interface.orgs import ORG_VIEW, org_scope, org_service
    from users.models import Organization

    result = ScenarioResult("11", "Organizations at scale")
    role_ids = {
        role: permission_service.get_role_by_name(name=name).id
        for role, name in (("owner", ORG_OWNER_ROLE), ("admin", ORG_ADMIN_ROLE), ("member", ORG_MEMBER_ROLE))
    }
    rbac_cache.invalidate(everyone=True)
    budget = float(os.environ.get("BENCH_ORGS_BUDGET", "1800"))
    sizes = [20, 100] if ctx.smoke else [1000, 10_000, 100_000]
    rounds = ctx.rounds(21)  # three times scenario 7's: the sizes are minutes apart
    per_round = 5 if ctx.smoke else 40
    current = Organization.objects.filter(slug__startswith="org11-").count()
    if current % BLOCK_ORGS or current > sizes[0]:
        raise RuntimeError(f"{current:,} orgs of scenario 11 are in the database already: drop it (no --keep-db)")
    base = current
    build_seconds = 0.0
    measured: dict[int, dict[str, list[float]]] = {}
    rng = random.Random(11)  # noqa: S311 - a sample, not a secret

    def org_id(j: int) -> uuid.UUID:
        return uuid.UUID(_md5(f"org11-{j}"))

    def user_id(i: int) -> uuid.UUID:
        return uuid.UUID(_md5(f"user11-{i}"))

    check = permission_service.check
    for size in sizes:
        orgs_per_second = (current - base) / build_seconds if build_seconds else None
        if orgs_per_second and (size - current) / orgs_per_second > budget:
            result.notes.append(
                f"Stopped before {size:,} orgs: at the {orgs_per_second:,.0f} orgs (each with 10 users and 100 "
                f"memberships) per second measured so far, building the {size - current:,} more would take "
                f"{(size - current) / orgs_per_second:.0f} s, over the {budget:.0f} s budget (BENCH_ORGS_BUDGET)."
            )
            break
        t0 = time.perf_counter()
        last = [t0]

        def progress(done: int, t0=t0, last=last, size=size) -> None:
            now = time.perf_counter()
            if now - last[0] > 30 or done == size:
                last[0] = now
                print(f"   built {done:,}/{size:,} orgs ({now - t0:.0f} s)", flush=True)

        grow(current, size, role_ids, progress)
        seconds = time.perf_counter() - t0
        build_seconds += seconds
        result.notes.append(
            f"Grew to {size:,} orgs, {size * 10:,} users and {size * 100:,} memberships in {seconds:.0f} s."
        )
        current = size
        # A fresh (org, member) pair for every cold check; a random user for every "my orgs".
        pairs = []
        for _ in range((rounds + 1) * per_round):
            j = rng.randrange(size)
            block = j // BLOCK_ORGS
            pairs.append((user_id(block * BLOCK_USERS + rng.randrange(BLOCK_USERS)), org_id(j)))

        def select_one():
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()

        def timed(fn) -> float:
            started = time.perf_counter()
            fn()
            return time.perf_counter() - started

        def one_round(chosen) -> dict[str, float]:
            """Seconds per call of each measure over the round's pairs. The load of this shared
            machine moves within seconds, so every pair's calls run next to their own SELECT 1s
            (cold, then the others in a rotated order) instead of each measure in a block."""
            rbac_cache.invalidate(user_ids=[u for u, _ in chosen])
            spent = dict.fromkeys(("cold", "warm", "members", "mine", "pg"), 0.0)
            for i, (u, o) in enumerate(chosen):
                scope = org_scope(o)
                spent["cold"] += timed(lambda u=u, scope=scope: check(user_id=u, permission=ORG_VIEW, scope=scope))
                others = {
                    "warm": lambda u=u, scope=scope: [
                        check(user_id=u, permission=ORG_VIEW, scope=scope) for _ in range(WARM_REPEAT)
                    ],
                    "members": lambda u=u, o=o: org_service.list_members(actor_id=u, org_id=o, limit=50),
                    "mine": lambda u=u: org_service.list_orgs(user_id=u, limit=50),
                    "pg": lambda: [select_one() for _ in range(PG_REPEAT)],
                }
                names = list(others)
                shift = i % len(names)
                for name in names[shift:] + names[:shift]:
                    spent[name] += timed(others[name])
            calls = {"warm": WARM_REPEAT, "pg": PG_REPEAT}
            return {name: t / len(chosen) / calls.get(name, 1) for name, t in spent.items()}

        # The first round warms connections and caches up and is discarded.
        figures: dict[str, list[float]] = {"cold": [], "warm": [], "members": [], "mine": [], "pg": []}
        for r in range(rounds + 1):
            f = one_round(pairs[r * per_round : (r + 1) * per_round])
            for name in figures:
                figures[name] += [f[name]] if r else []
        # What the service answered, once a size (outside the timings).
        u, o = pairs[0]
        assert check(user_id=u, permission=ORG_VIEW, scope=org_scope(o))
        assert len(org_service.list_members(actor_id=u, org_id=o, limit=50).results) == 50
        assert len(org_service.list_orgs(user_id=u, limit=50).results) == BLOCK_ORGS
        measured[size] = figures
        # The data is what it says: the newest org's members, as the service lists them.
        everyone = org_service.list_members(actor_id=None, org_id=org_id(size - 1), limit=200).results
        roles = sorted(m.role for m in everyone)
        if roles != ["admin"] * 4 + ["member"] * 95 + ["owner"]:
            raise RuntimeError(f"scenario 11 built an org with the wrong members: {len(roles)}, {set(roles)}")
    result.notes.append(
        f"Built {current:,} orgs, {current * 10:,} users and {current * 100:,} memberships in {build_seconds:.0f} s "
        f"({(current - base) * 111 / max(build_seconds, 1e-9):,.0f} rows per second, INSERT … SELECT over "
        f"generate_series, {BATCH_BLOCKS * PER_BLOCK:,} memberships per transaction, then VACUUM ANALYZE)."
    )
    done = sorted(measured)
    curve = Curve(
        "11",
        "Org-scoped latency against the number of organizations",
        "organizations (×10 users, ×100 memberships)",
        "ms (median)",
        filename="orgs_scaling.png",
    )
    labels = (
        ("cold", "cold org check"),
        ("warm", "warm org check"),
        ("members", "member-list page (50)"),
        ("mine", "my orgs (10)"),
    )
    for name, label in labels:
        curve.series[label] = [(size, median(measured[size][name]) * 1000) for size in done]
    result.curves.append(curve)
    small, large = done[0], done[-1]
    for name, label in labels:
        if name == "warm":
            # In-process (no round trip): its own ratio, as in scenario 7.
            values = [a / b for a, b in zip(measured[large][name], measured[small][name], strict=True)]
            title = f"{label} at {large:,} over {small:,} orgs"
        else:
            norm_small = [a / b for a, b in zip(measured[small][name], measured[small]["pg"], strict=True)]
            norm_large = [a / b for a, b in zip(measured[large][name], measured[large]["pg"], strict=True)]
            values = [a / b for a, b in zip(norm_large, norm_small, strict=True)]
            title = f"{label} at {large:,} over {small:,} orgs (each over a SELECT 1 of its round)"
        result.comparisons.append(
            Comparison(
                "11",
                title,
                "≤ 1.3×",
                "<=",
                1.3,
                values,
                f"{fmt_seconds(median(measured[small][name]))} → {fmt_seconds(median(measured[large][name]))}",
            )
        )
    return result


def _md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
