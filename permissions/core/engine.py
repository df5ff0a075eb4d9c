"""The check engine: what a user holds where, compiled once per (user, versions) and cached.

A user's compiled entry maps each scope that one of their unexpired assignments names ('' for
global) to the permissions those assignments give there, roles' ancestors included. A check in
scope S is then a membership test in the entries of S's prefixes (`scope_prefixes`): as many set
lookups as S has segments, plus one. The role graph (each role's permissions with its
ancestors') is compiled once per global version and shared by every user's compilation.

A check's answer is also kept in this process under the generation of its copy of the version
tokens (project.mirror): any invalidation anywhere changes the generation, so an answer is reused
only while no token it could depend on has been replaced (`holds`).

Queries: none on a warm cache; on a cold one 2 for the user (deactivated?, assignments) and 4 for
the role graph when it is cold too, whatever the number of roles, groups and assignments.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone
from prometheus_client import Counter

from permissions.core import cache as rbac_cache
from permissions.interface import normalise_scope, scope_prefixes
from permissions.models import Assignment, DeactivatedUser, GroupMembership, Permission, Role
from project import tracing


def now() -> datetime:
    return timezone.now()


@dataclass(frozen=True, slots=True)
class RoleGraph:
    names: dict[uuid.UUID, str]
    direct: dict[uuid.UUID, frozenset[str]]  # the role's own permissions (every code for grants_all)
    parents: dict[uuid.UUID, tuple[uuid.UUID, ...]]
    closure: dict[uuid.UUID, frozenset[str]]  # own and inherited
    all_codes: frozenset[str]

    def granting(self, permission: str) -> list[uuid.UUID]:
        """Roles that hold `permission`, their own or inherited."""
        return [role_id for role_id, codes in self.closure.items() if permission in codes]

    def chain(self, role_id: uuid.UUID, permission: str) -> tuple[uuid.UUID, ...]:
        """The shortest path from `role_id` up through parents to a role holding `permission` itself."""
        paths = {role_id: (role_id,)}
        frontier = [role_id]
        while frontier:
            following = []
            for current in frontier:
                if permission in self.direct.get(current, ()):
                    return paths[current]
                for parent in self.parents.get(current, ()):
                    if parent not in paths:
                        paths[parent] = (*paths[current], parent)
                        following.append(parent)
            frontier = following
        return ()


def compile_graph(
    *,
    roles: Iterable[tuple[uuid.UUID, str, bool]],
    edges: Iterable[tuple[uuid.UUID, uuid.UUID]],
    role_permissions: Iterable[tuple[uuid.UUID, str]],
    all_codes: Iterable[str],
) -> RoleGraph:
    all_codes = frozenset(all_codes)
    names, own = {}, {}
    for role_id, name, grants_all in roles:
        names[role_id] = name
        own[role_id] = set(all_codes) if grants_all else set()
    parents: dict[uuid.UUID, list[uuid.UUID]] = {role_id: [] for role_id in names}
    for child, parent in edges:
        parents[child].append(parent)
    for role_id, code in role_permissions:
        own[role_id].add(code)
    closure: dict[uuid.UUID, frozenset[str]] = {}

    def close(role_id: uuid.UUID, visiting: frozenset[uuid.UUID]) -> frozenset[str]:
        # Writes reject cycles; `visiting` only keeps a corrupt graph from recursing forever.
        if role_id in closure:
            return closure[role_id]
        codes = set(own[role_id])
        for parent in parents[role_id]:
            if parent not in visiting:
                codes |= close(parent, visiting | {role_id})
        closure[role_id] = frozenset(codes)
        return closure[role_id]

    for role_id in names:
        close(role_id, frozenset())
    return RoleGraph(
        names=names,
        direct={role_id: frozenset(codes) for role_id, codes in own.items()},
        parents={role_id: tuple(ps) for role_id, ps in parents.items()},
        closure=closure,
        all_codes=all_codes,
    )


def load_graph() -> RoleGraph:
    return compile_graph(
        roles=Role.objects.values_list("id", "name", "grants_all"),
        edges=Role.parents.through.objects.values_list("from_role_id", "to_role_id"),
        role_permissions=Role.permissions.through.objects.values_list("role_id", "permission_id"),
        all_codes=Permission.objects.values_list("code", flat=True),
    )


def role_graph() -> RoleGraph:
    tokens = rbac_cache.versions()
    if tokens is None:
        return load_graph()
    return rbac_cache.cached(f"rbac:graph:{tokens[0]}", load_graph)


@dataclass(frozen=True, slots=True)
class Compiled:
    """What one user holds, by assignment scope ('' is global)."""

    active: bool
    scopes: dict[str, frozenset[str]]
    valid_until: datetime | None  # the earliest expiry among the assignments it was built from

    def fresh(self, at: datetime) -> bool:
        return self.valid_until is None or at < self.valid_until

    def holds(self, permission: str, scope: str | None) -> bool:
        if not self.active:
            return False
        return any(permission in self.scopes.get(prefix, ()) for prefix in scope_prefixes(scope))

    def permissions_in(self, scope: str | None) -> frozenset[str]:
        if not self.active:
            return frozenset()
        held: set[str] = set()
        for prefix in scope_prefixes(scope):
            held |= self.scopes.get(prefix, frozenset())
        return frozenset(held)


def user_group_ids(user_id: uuid.UUID):
    return GroupMembership.objects.filter(user_id=user_id).values("group_id")


def user_assignments(user_id: uuid.UUID):
    """Every assignment that reaches the user, directly or through a group (one query).

    The two ways are a UNION of two index scans, not `user_id = … OR group_id IN (…)`: PostgreSQL
    cannot combine an OR with a subquery into index scans and read the whole table instead, so a
    cold check cost grew with the number of assignments (15 ms at 100,000, 0.07 ms this way;
    docs/benchmarks.md, scenario 7)."""
    direct = Assignment.objects.filter(user_id=user_id).values("id")
    via_groups = Assignment.objects.filter(group_id__in=user_group_ids(user_id)).values("id")
    return Assignment.objects.filter(id__in=direct.union(via_groups, all=True))


def unexpired(at: datetime) -> Q:
    return Q(expires_at__isnull=True) | Q(expires_at__gt=at)


def compile_user(user_id: uuid.UUID, graph: RoleGraph, at: datetime) -> Compiled:
    if DeactivatedUser.objects.filter(user_id=user_id).exists():
        return Compiled(active=False, scopes={}, valid_until=None)
    scopes: dict[str, set[str]] = {}
    valid_until = None
    for role_id, scope, expires_at in (
        user_assignments(user_id).filter(unexpired(at)).values_list("role_id", "scope", "expires_at")
    ):
        scopes.setdefault(scope, set()).update(graph.closure.get(role_id, ()))
        if expires_at is not None and (valid_until is None or expires_at < valid_until):
            valid_until = expires_at
    return Compiled(
        active=True, scopes={scope: frozenset(codes) for scope, codes in scopes.items()}, valid_until=valid_until
    )


def compiled(user_id: uuid.UUID) -> Compiled:
    tokens = rbac_cache.versions(user_id)
    at = now()
    if tokens is None:  # the shared cache is down: the database answers
        return compile_user(user_id, load_graph(), at)
    global_version, user_version = tokens

    def compute() -> Compiled:
        graph = rbac_cache.cached(f"rbac:graph:{global_version}", load_graph)
        return compile_user(user_id, graph, at)

    return rbac_cache.cached(
        f"rbac:eff:{user_id}:{global_version}:{user_version}", compute, fresh=lambda entry: entry.fresh(at)
    )


CHECK_ANSWERS = Counter(
    "gatehouse_rbac_check_answers_total",
    "Permission checks answered, by where the answer came from: kept in this process, or computed.",
    ["source"],
)
_KEPT = CHECK_ANSWERS.labels("kept")
_COMPUTED = CHECK_ANSWERS.labels("computed")

# (user, permission, scope as asked) -> (generation of the token copy, answer, valid until)
_answers: dict[tuple[uuid.UUID, str, str | None], tuple[int, bool, datetime | None]] = {}
MAX_ANSWERS = 100_000


def holds(user_id: uuid.UUID, permission: str, scope: str | None) -> bool:
    """Whether the user holds `permission` in `scope` (not normalised yet): the warm path is a
    dictionary lookup when this process has a current copy of the tokens. (`holds_many` of one
    check, written out: this is the path scenario 1 of the benchmarks measures.)"""
    if not tracing.enabled():
        return _holds(user_id, permission, scope)[0]
    with tracing.span("rbac.check", {"rbac.permission": permission}) as span:
        answer, kept = _holds(user_id, permission, scope)
        span.set_attribute("rbac.kept_answer", kept)
        span.set_attribute("rbac.allowed", answer)
        return answer


def _holds(user_id: uuid.UUID, permission: str, scope: str | None) -> tuple[bool, bool]:
    """(the answer, whether it was a kept one)."""
    copy = rbac_cache.mirror()
    generation = None if copy is None else copy.generation()
    key = (user_id, permission, scope)
    if generation is not None:
        found = _answers.get(key)
        if found is not None and found[0] == generation and (found[2] is None or now() < found[2]):
            _KEPT.inc()
            return found[1], True
    scope_ = normalise_scope(scope)
    entry = compiled(user_id)
    answer = entry.holds(permission, scope_)
    _keep_answer(key, generation, answer, entry)
    _COMPUTED.inc()
    return answer, False


def holds_many(user_id: uuid.UUID, checks: Iterable[tuple[str, str | None]]) -> list[bool]:
    """`holds` for each (permission, scope), in order, under one generation of the token copy:
    the answers kept under it, and for the others one compiled entry. Raises InvalidScope for
    the first invalid scope (a kept answer's scope was valid when it was kept)."""
    if not tracing.enabled():
        return _holds_many(user_id, checks)
    with tracing.span("rbac.check_many") as span:
        answers = _holds_many(user_id, checks)
        span.set_attribute("rbac.checks", len(answers))
        return answers


def _holds_many(user_id: uuid.UUID, checks: Iterable[tuple[str, str | None]]) -> list[bool]:
    copy = rbac_cache.mirror()
    generation = None if copy is None else copy.generation()
    entry: Compiled | None = None
    answers = []
    for permission, scope in checks:
        key = (user_id, permission, scope)
        found = None if generation is None else _answers.get(key)
        if found is not None and found[0] == generation and (found[2] is None or now() < found[2]):
            _KEPT.inc()
            answers.append(found[1])
            continue
        normalised = normalise_scope(scope)
        if entry is None:
            entry = compiled(user_id)
        answer = entry.holds(permission, normalised)
        _keep_answer(key, generation, answer, entry)
        _COMPUTED.inc()
        answers.append(answer)
    return answers


def _keep_answer(key: tuple[uuid.UUID, str, str | None], generation: int | None, answer: bool, entry: Compiled):
    """Keep the answer under the copy's generation read before it was computed (None: no copy)."""
    if generation is None:
        return
    if len(_answers) >= MAX_ANSWERS:
        _answers.clear()
    _answers[key] = (generation, answer, entry.valid_until)
