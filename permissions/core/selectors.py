"""Reads of the permissions core service: the checks (through the engine's cache) and listings."""

from __future__ import annotations

import uuid

from permissions.core import engine
from permissions.core.data import assignment_data
from permissions.interface import (
    AssignmentNotFound,
    Explanation,
    GroupNotFound,
    InvalidRbacInput,
    RoleNotFound,
    normalise_scope,
    scope_prefixes,
)
from permissions.models import Assignment, AuditEntry, DeactivatedUser, Group, GroupMembership, Permission, Role
from project.pagination import keyset_page

# --- Checks ----------------------------------------------------------------------------------------


def check(*, user_id: uuid.UUID, permission: str, scope: str | None = None) -> bool:
    return engine.holds(user_id, permission, scope)


def check_many(*, user_id: uuid.UUID, checks: list[tuple[str, str | None]]) -> list[bool]:
    return engine.holds_many(user_id, checks)


def effective_permissions(*, user_id: uuid.UUID, scope: str | None = None) -> frozenset[str]:
    return engine.compiled(user_id).permissions_in(normalise_scope(scope))


def users_with_permission(*, permission: str, scope: str | None = None) -> list[uuid.UUID]:
    prefixes = scope_prefixes(normalise_scope(scope))
    graph = engine.role_graph()
    roles = graph.granting(permission)
    if not roles:
        return []
    assignments = Assignment.objects.filter(engine.unexpired(engine.now()), role_id__in=roles, scope__in=prefixes)
    direct = assignments.filter(user_id__isnull=False).values_list("user_id", flat=True)
    through_groups = GroupMembership.objects.filter(
        group_id__in=assignments.filter(group__isnull=False).values("group_id")
    ).values_list("user_id", flat=True)
    users = set(direct) | set(through_groups)
    users -= set(DeactivatedUser.objects.filter(user_id__in=users).values_list("user_id", flat=True))
    return sorted(users)


def users_with_role(*, role_id: uuid.UUID, scope: str | None = None) -> list[uuid.UUID]:
    prefixes = scope_prefixes(normalise_scope(scope))
    if not Role.objects.filter(id=role_id).exists():
        raise RoleNotFound()
    assignments = Assignment.objects.filter(engine.unexpired(engine.now()), role_id=role_id, scope__in=prefixes)
    direct = assignments.filter(user_id__isnull=False).values_list("user_id", flat=True)
    through_groups = GroupMembership.objects.filter(
        group_id__in=assignments.filter(group__isnull=False).values("group_id")
    ).values_list("user_id", flat=True)
    users = set(direct) | set(through_groups)
    users -= set(DeactivatedUser.objects.filter(user_id__in=users).values_list("user_id", flat=True))
    return sorted(users)


def _covers(assignment_scope: str, scope: str | None) -> bool:
    return assignment_scope in scope_prefixes(scope)


def explain(*, user_id: uuid.UUID, permission: str, scope: str | None = None) -> Explanation:
    """From the database, not the cache, with the same rules as `engine.compile_user`."""
    scope = normalise_scope(scope)
    base = {"user_id": user_id, "permission": permission, "scope": scope}
    if DeactivatedUser.objects.filter(user_id=user_id).exists():
        return Explanation(
            allowed=False, reason="user_deactivated", message="The user is deactivated: every check denies.", **base
        )
    graph = engine.role_graph()
    if permission not in graph.all_codes:
        return Explanation(
            allowed=False, reason="unknown_permission", message=f"{permission} is not a declared permission.", **base
        )
    granting = set(graph.granting(permission))
    roles_granting = tuple(sorted(graph.names[role_id] for role_id in granting))
    if not granting:
        return Explanation(allowed=False, reason="no_role_grants", message=f"No role holds {permission}.", **base)
    at = engine.now()
    candidates = list(
        engine.user_assignments(user_id).filter(role_id__in=granting).select_related("role").order_by("-created_at")
    )

    def live(assignment: Assignment) -> bool:
        return assignment.expires_at is None or assignment.expires_at > at

    covering = [a for a in candidates if _covers(a.scope, scope)]
    # A direct assignment first, then the shortest role chain: the simplest reason.
    for assignment in sorted(
        (a for a in covering if live(a)),
        key=lambda a: (a.user_id is None, len(graph.chain(a.role_id, permission))),
    ):
        chain = graph.chain(assignment.role_id, permission)
        names = tuple(graph.names[role_id] for role_id in chain)
        via = f" through group {assignment.group_id}" if assignment.group_id else ""
        return Explanation(
            allowed=True,
            reason="granted",
            message=f"Role {names[0]} is assigned{via} in scope {assignment.scope or 'global'}; "
            f"{' -> '.join(names)} holds {permission}.",
            assignment=assignment_data(assignment),
            group_id=assignment.group_id,
            role_chain=names,
            **base,
        )
    expired = [a for a in covering if not live(a)]
    if expired:
        latest = max(expired, key=lambda a: a.expires_at)
        return Explanation(
            allowed=False,
            reason="expired",
            message=f"The assignment of {latest.role.name} in scope {latest.scope or 'global'} "
            f"expired at {latest.expires_at.isoformat()}.",
            assignment=assignment_data(latest),
            roles_granting=roles_granting,
            **base,
        )
    elsewhere = [a for a in candidates if live(a)]
    if elsewhere:
        nearest = elsewhere[0]
        return Explanation(
            allowed=False,
            reason="scope_mismatch",
            message=f"{nearest.role.name} is assigned in scope {nearest.scope}, which does not cover "
            f"{scope or 'the global scope'}.",
            assignment=assignment_data(nearest),
            roles_granting=roles_granting,
            **base,
        )
    return Explanation(
        allowed=False,
        reason="not_assigned",
        message=f"None of the roles holding {permission} is assigned to the user or their groups.",
        roles_granting=roles_granting,
        **base,
    )


# --- Listings ------------------------------------------------------------------------------------


def list_permissions() -> list[Permission]:
    return list(Permission.objects.order_by("code"))


def undeclared_permissions(*, codes: list[str]) -> list[str]:
    """From the role graph's codes, as `explain` tells `unknown_permission`: kept with the graph
    under the global version, so a warm call reads nothing."""
    declared = engine.role_graph().all_codes
    return [code for code in dict.fromkeys(codes) if code not in declared]


def get_role(*, role_id: uuid.UUID) -> Role:
    try:
        return Role.objects.prefetch_related("permissions", "parents").get(id=role_id)
    except (Role.DoesNotExist, ValueError):
        raise RoleNotFound() from None


def get_role_by_name(*, name: str) -> Role:
    try:
        return Role.objects.prefetch_related("permissions", "parents").get(name=name)
    except Role.DoesNotExist:
        raise RoleNotFound() from None


def list_roles() -> list[Role]:
    return list(Role.objects.prefetch_related("permissions", "parents").order_by("name"))


def get_group(*, group_id: uuid.UUID) -> Group:
    try:
        return Group.objects.get(id=group_id)
    except (Group.DoesNotExist, ValueError):
        raise GroupNotFound() from None


def list_groups() -> list[Group]:
    return list(Group.objects.order_by("name"))


def group_members(*, group_id: uuid.UUID) -> list[uuid.UUID]:
    group = get_group(group_id=group_id)
    return sorted(group.memberships.values_list("user_id", flat=True))


def user_groups(*, user_id: uuid.UUID) -> list[Group]:
    return list(Group.objects.filter(memberships__user_id=user_id).order_by("name"))


def get_assignment(*, assignment_id: uuid.UUID) -> Assignment:
    try:
        return Assignment.objects.select_related("role").get(id=assignment_id)
    except (Assignment.DoesNotExist, ValueError):
        raise AssignmentNotFound() from None


def list_assignments(
    *,
    user_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    role_id: uuid.UUID | None = None,
    limit: int,
    cursor: str | None,
    scope: str | None = None,
    role_ids: list[uuid.UUID] | None = None,
) -> tuple[list[Assignment], str | None]:
    """A page of assignments, newest first, keyset on (created_at, id): on the user index, or on
    (scope, created_at, id) for one scope's (an org's member list, docs/orgs.md)."""
    assignments = Assignment.objects.select_related("role")
    if scope is not None:
        assignments = assignments.filter(scope=normalise_scope(scope) or "")
    if role_ids is not None:
        assignments = assignments.filter(role_id__in=role_ids)
    if user_id is not None:
        assignments = assignments.filter(user_id=user_id)
    if group_id is not None:
        assignments = assignments.filter(group_id=group_id)
    if role_id is not None:
        assignments = assignments.filter(role_id=role_id)
    return keyset_page(assignments, by="created_at", limit=limit, cursor=cursor, invalid=InvalidRbacInput)


def list_audit(*, limit: int, cursor: str | None) -> tuple[list[AuditEntry], str | None]:
    return keyset_page(AuditEntry.objects.all(), by="occurred_at", limit=limit, cursor=cursor, invalid=InvalidRbacInput)
