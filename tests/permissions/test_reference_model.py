"""The engine against a brute-force reference model, on random role graphs, groups, scopes and expiries.

The reference is written out plainly here, from the issue's words, with nothing shared with the
engine (not even its scope prefixes): a user holds a permission in a scope when they are active
and some unexpired assignment to them, or to a group they are in, is global or on a segment-wise
prefix of the scope, and its role or an ancestor of it holds the permission (admin: every
declared one). Every (user, permission, scope) check must agree, through a cold cache, a warm one,
and after random revokes, membership removals, role edits and deactivations (that last one in
test_reference_model_revokes.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from permissions.core import cache as rbac_cache
from permissions.core import selectors, services
from permissions.interface import ADMIN_ROLE, RoleCycle
from permissions.models import Assignment, DeactivatedUser, Group, GroupMembership, Role

from .conftest import CODES

pytestmark = pytest.mark.django_db

PERMS = CODES
ASKED_PERMS = [*PERMS, "nope.never.declared"]
ASSIGNED_SCOPES = [None, "org:a", "org:ab", "org:a/project:1", "org:a/project:12", "org:ab/project:1"]
ASKED_SCOPES = [*ASSIGNED_SCOPES, "org:a/project:1/doc:9", "org:b", "org:a/project:123"]
USERS = 3
GROUPS = 2
EXPIRIES = [None, "past", "future"]

# --- The reference model ---------------------------------------------------------------------------


@dataclass
class World:
    roles: list[tuple[frozenset[str], frozenset[int]]]  # own permissions, parents (indices of earlier roles)
    members: list[frozenset[int]]  # users of each group
    # (role index or "admin", ("user", i) or ("group", i), scope, expiry)
    assignments: list[tuple[int | str, tuple[str, int], str | None, str | None]]
    deactivated: frozenset[int]
    revoked: set[int] = field(default_factory=set)


def covers(assigned: str | None, asked: str | None) -> bool:
    if assigned is None:
        return True
    if asked is None:
        return False
    return asked == assigned or asked.startswith(assigned + "/")


def role_holds(world: World, role: int | str, permission: str) -> bool:
    if role == ADMIN_ROLE:
        return permission in PERMS
    seen, stack = set(), [role]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        own, parents = world.roles[current]
        if permission in own:
            return True
        stack.extend(parents)
    return False


def reference_holds(world: World, user: int, permission: str, scope: str | None) -> bool:
    if user in world.deactivated:
        return False
    for index, (role, (kind, subject), assigned_scope, expiry) in enumerate(world.assignments):
        if index in world.revoked or expiry == "past":
            continue
        reaches = subject == user if kind == "user" else user in world.members[subject]
        if reaches and covers(assigned_scope, scope) and role_holds(world, role, permission):
            return True
    return False


# --- Random worlds -------------------------------------------------------------------------------


@st.composite
def worlds(draw) -> World:
    n_roles = draw(st.integers(1, 6))
    roles = []
    for i in range(n_roles):
        own = draw(st.frozensets(st.sampled_from(PERMS), max_size=3))
        parents = draw(st.frozensets(st.integers(0, i - 1), max_size=2)) if i else frozenset()
        roles.append((own, parents))
    members = [draw(st.frozensets(st.integers(0, USERS - 1))) for _ in range(GROUPS)]
    role_choice = st.sampled_from([*range(n_roles), ADMIN_ROLE])
    subject = st.one_of(
        st.tuples(st.just("user"), st.integers(0, USERS - 1)), st.tuples(st.just("group"), st.integers(0, GROUPS - 1))
    )
    assignments = draw(
        st.lists(
            st.tuples(role_choice, subject, st.sampled_from(ASSIGNED_SCOPES), st.sampled_from(EXPIRIES)), max_size=8
        )
    )
    deactivated = draw(st.frozensets(st.integers(0, USERS - 1), max_size=1))
    return World(roles=roles, members=members, assignments=assignments, deactivated=deactivated)


@dataclass
class Built:
    users: list[uuid.UUID]
    roles: list[Role]
    groups: list[Group]
    assignments: list[Assignment]


def build(world: World) -> Built:
    """The world in the database, through the ORM (a past expiry cannot be granted through the service)."""
    cache.clear()
    rbac_cache.local.clear()
    users = [uuid.uuid4() for _ in range(USERS)]
    roles = []
    for i, (own, parents) in enumerate(world.roles):
        role = Role.objects.create(name=f"r{i}")
        role.permissions.set(own)
        role.parents.set([roles[p] for p in parents])
        roles.append(role)
    groups = [Group.objects.create(name=f"g{i}") for i in range(GROUPS)]
    for group, members in zip(groups, world.members, strict=True):
        GroupMembership.objects.bulk_create([GroupMembership(group=group, user_id=users[u]) for u in members])
    admin = Role.objects.get(name=ADMIN_ROLE)
    now = timezone.now()
    expiry = {None: None, "past": now - timedelta(hours=1), "future": now + timedelta(hours=1)}
    assignments = [
        Assignment.objects.create(
            role=admin if role == ADMIN_ROLE else roles[role],
            user_id=users[index] if kind == "user" else None,
            group=groups[index] if kind == "group" else None,
            scope=scope or "",
            expires_at=expiry[when],
        )
        for role, (kind, index), scope, when in world.assignments
    ]
    DeactivatedUser.objects.bulk_create([DeactivatedUser(user_id=users[u]) for u in world.deactivated])
    return Built(users=users, roles=roles, groups=groups, assignments=assignments)


def tear_down() -> None:
    Assignment.objects.all().delete()
    Group.objects.all().delete()
    Role.objects.filter(is_system=False).delete()
    DeactivatedUser.objects.all().delete()


def assert_engine_agrees(world: World, built: Built, *, explain: bool = False) -> None:
    for u, user_id in enumerate(built.users):
        asked = [(p, s) for p in ASKED_PERMS for s in ASKED_SCOPES]
        expected = [reference_holds(world, u, p, s) for p, s in asked]
        answers = [selectors.check(user_id=user_id, permission=p, scope=s) for p, s in asked]
        assert answers == expected, [(p, s, e) for (p, s), a, e in zip(asked, answers, expected, strict=True) if a != e]
        assert selectors.check_many(user_id=user_id, checks=asked) == expected
        for s in ASKED_SCOPES:
            held = {p for p in PERMS if reference_holds(world, u, p, s)}
            assert selectors.effective_permissions(user_id=user_id, scope=s) & set(PERMS) == held
        if explain:
            for (p, s), allowed in zip(asked, expected, strict=True):
                why = selectors.explain(user_id=user_id, permission=p, scope=s)
                assert why.allowed == allowed, (p, s, why)
    for p in ASKED_PERMS:
        for s in ASKED_SCOPES:
            holders = sorted(built.users[u] for u in range(USERS) if reference_holds(world, u, p, s))
            assert selectors.users_with_permission(permission=p, scope=s) == holders


COMMON = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@COMMON
@given(world=worlds())
def test_every_check_agrees_with_the_reference_cold_and_warm(codes, world):
    built = build(world)
    try:
        assert_engine_agrees(world, built, explain=True)  # cold, then filling the cache
        assert_engine_agrees(world, built)  # warm
    finally:
        tear_down()


@COMMON
@given(world=worlds(), data=st.data())
def test_a_parent_is_refused_exactly_when_it_would_close_a_cycle(codes, world, data):
    built = build(world)
    try:
        n = len(world.roles)
        child = data.draw(st.integers(0, n - 1))
        parent = data.draw(st.integers(0, n - 1))

        def reaches(start: int, target: int) -> bool:
            stack, seen = [start], set()
            while stack:
                current = stack.pop()
                if current == target:
                    return True
                if current not in seen:
                    seen.add(current)
                    stack.extend(world.roles[current][1])
            return False

        parents = [built.roles[p].id for p in world.roles[child][1] | {parent}]
        if reaches(parent, child):
            with pytest.raises(RoleCycle):
                services.update_role(actor_id=None, role_id=built.roles[child].id, parents=parents)
            assert set(built.roles[child].parents.values_list("id", flat=True)) == {
                built.roles[p].id for p in world.roles[child][1]
            }
        else:
            services.update_role(actor_id=None, role_id=built.roles[child].id, parents=parents)
            world.roles[child] = (world.roles[child][0], world.roles[child][1] | {parent})
            assert_engine_agrees(world, built)
    finally:
        tear_down()
