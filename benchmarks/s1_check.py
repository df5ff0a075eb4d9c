"""Scenario 1: the in-process permission check, warm, against pycasbin (RBAC with domains),
django-guardian and Django's ModelBackend with a fresh user per request (both in the peer
process), and a bare frozenset membership test (the floor). Same roles, users and scopes on
every side: a small world of 5 rules (1 role with 4 permissions, 1 user) and a large one of
1,100 rules (100 roles × 10 permissions, 100 users, each in one role in scope `org:acme`)."""

from __future__ import annotations

import itertools
import threading
import time
import uuid

import casbin

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

CASBIN_MODEL = """
[request_definition]
r = sub, dom, obj, act
[policy_definition]
p = sub, dom, obj, act
[role_definition]
g = _, _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
"""
SCOPE = "org:acme"


def gatehouse_world(prefix: str, roles: int, perms_per_role: int) -> uuid.UUID:
    """Roles, users and assignments straight into the tables (bulk); returns user 0's id."""
    from permissions.core import cache as rbac_cache
    from permissions.models import Assignment, Permission, Role

    codes = [f"bench.{prefix}{r}.p{p}" for r in range(roles) for p in range(perms_per_role)]
    Permission.objects.bulk_create([Permission(code=code) for code in codes], ignore_conflicts=True)
    role_rows = Role.objects.bulk_create([Role(name=f"bench-{prefix}{r}") for r in range(roles)])
    through = Role.permissions.through
    through.objects.bulk_create(
        [
            through(role_id=role.id, permission_id=codes[r * perms_per_role + p])
            for r, role in enumerate(role_rows)
            for p in range(perms_per_role)
        ]
    )
    users = [uuid.uuid4() for _ in range(roles)]
    Assignment.objects.bulk_create(
        [Assignment(role=role, user_id=users[r], scope=SCOPE) for r, role in enumerate(role_rows)]
    )
    rbac_cache.invalidate(everyone=True)
    return users[0]


def casbin_world(roles: int, perms_per_role: int) -> casbin.Enforcer:
    model = casbin.Model()
    model.load_model_from_text(CASBIN_MODEL)
    enforcer = casbin.Enforcer(model)
    enforcer.add_policies([[f"role{r}", SCOPE, f"r{r}", f"p{p}"] for r in range(roles) for p in range(perms_per_role)])
    enforcer.add_grouping_policies([[f"user{r}", f"role{r}", SCOPE] for r in range(roles)])
    return enforcer


def count_redis_commands(work) -> int:
    """Redis commands this thread sends while `work()` runs (the mirror's own thread renews its
    lease meanwhile: not counted)."""
    import redis.connection

    sent = [0]
    me = threading.get_ident()
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, *args, **kwargs):
        if threading.get_ident() == me:
            sent[0] += 1
        return original(self, *args, **kwargs)

    redis.connection.AbstractConnection.send_packed_command = counting
    try:
        work()
    finally:
        redis.connection.AbstractConnection.send_packed_command = original
    return sent[0]


def run(ctx) -> ScenarioResult:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from permissions.core import cache as rbac_cache
    from permissions.interface import permission_service

    result = ScenarioResult("1", "In-process permission check, warm")
    small = gatehouse_world("s", 1, 4)  # 4 rules + 1 assignment = 5
    large = gatehouse_world("l", 100, 10)  # 1,000 + 100 = 1,100
    casbin_small, casbin_large = casbin_world(1, 4), casbin_world(100, 10)
    assert len(casbin_small.get_policy()) + len(casbin_small.get_grouping_policy()) == 5
    assert len(casbin_large.get_policy()) + len(casbin_large.get_grouping_policy()) == 1100
    floor_set = frozenset(f"bench.l0.p{p}" for p in range(10))

    def gh_small():
        return permission_service.check(user_id=small, permission="bench.s0.p0", scope=SCOPE)

    def gh_large():
        return permission_service.check(user_id=large, permission="bench.l0.p0", scope=SCOPE)

    copy = rbac_cache.mirror()
    deadline = time.monotonic() + 10
    while copy is not None and copy.generation() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the copy starts serving once its member has joined (milliseconds)
    assert gh_small() and gh_large(), "Gatehouse denies what it should grant"
    assert casbin_small.enforce("user0", SCOPE, "r0", "p0") and casbin_large.enforce("user0", SCOPE, "r0", "p0")
    with CaptureQueriesContext(connection) as queries:
        for _ in range(100):
            gh_small()
            gh_large()
    warm_queries = len(queries)

    redis_commands = count_redis_commands(lambda: [gh_small() or gh_large() for _ in range(100)])
    fresh_scopes = (f"{SCOPE}/project:{i}" for i in itertools.count())

    def gh_new_scope():
        # A question this process has not answered yet: no reuse of a kept answer, the compiled
        # entry's membership test (and the scope's validation) every time.
        return permission_service.check(user_id=large, permission="bench.l0.p0", scope=next(fresh_scopes))

    from permissions.core import engine

    entry = engine.compiled(large)  # what the check consults once the version tokens are read

    def in_memory():
        return entry.holds("bench.l0.p0", SCOPE)

    def noop(*, user_id, permission, scope=None):
        return True

    scale = 20 if ctx.smoke else 1
    with stack.PeerWorker() as peer:
        peer.call(op="setup", roles=100, perms_per_role=10)
        measures = {
            "gatehouse_5": lambda: per_call(gh_small, 2000 // scale),
            "gatehouse_1100": lambda: per_call(gh_large, 2000 // scale),
            "casbin_5": lambda: per_call(lambda: casbin_small.enforce("user0", SCOPE, "r0", "p0"), 2000 // scale),
            "casbin_1100": lambda: per_call(lambda: casbin_large.enforce("user0", SCOPE, "r0", "p0"), 200 // scale),
            "floor": lambda: per_call(lambda: "bench.l0.p0" in floor_set, 200_000 // scale),
            "gatehouse_new_scope": lambda: per_call(gh_new_scope, 2000 // scale),
            "in_memory": lambda: per_call(in_memory, 100_000 // scale),
            "noop_call": lambda: per_call(
                lambda: noop(user_id=large, permission="bench.l0.p0", scope=SCOPE), 100_000 // scale
            ),
            "modelbackend": lambda: peer.call(op="measure", what="modelbackend", n=300 // scale)["seconds"],
            "guardian": lambda: peer.call(op="measure", what="guardian", n=300 // scale)["seconds"],
        }
        f = interleave(ctx.rounds(9), measures)
    t = {name: fmt_seconds(median(values)) for name, values in f.items()}
    add = result.comparisons.append
    add(
        Comparison(
            "1",
            "check vs pycasbin, 5 rules",
            "≥ 40×",
            ">=",
            40,
            ratios(f["casbin_5"], f["gatehouse_5"]),
            f"Gatehouse {t['gatehouse_5']}, pycasbin {t['casbin_5']}",
        )
    )
    add(
        Comparison(
            "1",
            "check vs pycasbin, 1,100 rules",
            "≥ 400×",
            ">=",
            400,
            ratios(f["casbin_1100"], f["gatehouse_1100"]),
            f"Gatehouse {t['gatehouse_1100']}, pycasbin {t['casbin_1100']}",
        )
    )
    add(
        Comparison(
            "1",
            "check vs ModelBackend, fresh user per request",
            "≥ 5×",
            ">=",
            5,
            ratios(f["modelbackend"], f["gatehouse_1100"]),
            f"ModelBackend {t['modelbackend']} (PostgreSQL)",
        )
    )
    add(
        Comparison(
            "1",
            "check vs django-guardian, fresh user per request",
            "≥ 5×",
            ">=",
            5,
            ratios(f["guardian"], f["gatehouse_1100"]),
            f"guardian {t['guardian']} (PostgreSQL)",
        )
    )
    floor = Comparison(
        "1",
        "check cost over a frozenset membership test (floor)",
        "≤ 3×",
        "<=",
        3,
        ratios(f["gatehouse_1100"], f["floor"]),
        f"floor {t['floor']}",
    )
    add(floor)
    add(
        Comparison(
            "1",
            "queries per warm check",
            "0",
            "<=",
            0,
            [warm_queries / 200],
            f"{warm_queries} queries in 200 warm checks",
            unit="",
        )
    )
    add(
        Comparison(
            "1",
            "(diagnostic) Redis commands per warm check",
            "—",
            "<=",
            float("inf"),
            [redis_commands / 200],
            f"{redis_commands} commands in 200 warm checks: the version tokens come from this process's copy",
            unit="",
        )
    )
    add(
        Comparison(
            "1",
            "(diagnostic) check vs pycasbin, 1,100 rules, a scope never asked before (no kept answer)",
            "—",
            ">=",
            0,
            ratios(f["casbin_1100"], f["gatehouse_new_scope"]),
            f"Gatehouse {t['gatehouse_new_scope']}: the compiled entry's test and the scope's validation",
        )
    )
    for name, label, base in (
        ("in_memory", "the compiled entry's membership test alone (no Redis)", "casbin_5"),
        ("in_memory", "the compiled entry's membership test alone (no Redis), 1,100 rules", "casbin_1100"),
    ):
        add(
            Comparison(
                "1",
                f"(diagnostic) pycasbin over {label}",
                "—",
                ">=",
                0,
                ratios(f[base], f[name]),
                f"in-memory test {t['in_memory']}",
            )
        )
    add(
        Comparison(
            "1",
            "(diagnostic) a no-op Python call with the check's keyword arguments over the floor",
            "—",
            ">=",
            0,
            ratios(f["noop_call"], f["floor"]),
            f"no-op call {t['noop_call']}: the least any Python API can cost",
        )
    )
    result.notes.append(
        "Gatehouse: `permission_service.check` in this process, Redis cache (django-redis), PostgreSQL; "
        "warm means the same question asked again, answered from the process's kept answer while its "
        "copy of the version tokens is current (the new-scope row shows a question not asked before); "
        "the peers run in their own Django process on their own PostgreSQL database, asked over a pipe "
        "between rounds (the pipe is outside the timed loops)."
    )
    if not floor.met and not ctx.smoke:
        result.profile = profile_text(gh_large, 3000)
    return result
