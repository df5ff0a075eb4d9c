"""Writes of the permissions core service.

Each top-level write owns its transaction, checks escalation, appends to the audit log, records
its `rbac.*` event in the outbox and invalidates the cached answers it changes (before and after
the commit: `cache.invalidate`), all before it returns.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from permissions.core import cache as rbac_cache
from permissions.core import engine
from permissions.interface import (
    ADMIN_ROLE,
    ASSIGNMENT_GRANTED,
    ASSIGNMENT_REVOKED,
    GROUP_CHANGED,
    ORG_ADMIN_ROLE,
    ORG_MEMBER_ROLE,
    ORG_OWNER_ROLE,
    ROLE_CHANGED,
    SERVICE_NAME,
    AssignmentNotFound,
    EscalationDenied,
    GroupNameTaken,
    GroupNotFound,
    InvalidRbacInput,
    InvalidScope,
    LastRoleHolder,
    RoleCycle,
    RoleNameTaken,
    RoleNotFound,
    SystemRoleProtected,
    UnknownPermission,
    declared_permissions,
    normalise_scope,
)
from permissions.models import Assignment, AuditEntry, DeactivatedUser, Group, GroupMembership, Permission, Role
from project.events.outbox import outbox_record
from project.kernel.context import get_caller, get_request_id
from users.interface import UserNotFound, user_service

NAME_MAX = 100
DESCRIPTION_MAX = 300

# --- Building blocks -----------------------------------------------------------------------------


_in_one_transaction: ContextVar[bool] = ContextVar("permissions_in_one_transaction", default=False)


def _durable(service):
    """Run `service` in its own durable transaction (committed when it returns), or, inside
    `one_transaction()`, as part of that one: the caller then commits or rolls back the lot."""

    @functools.wraps(service)
    def wrapper(*args, **kwargs):
        with transaction.atomic(durable=not _in_one_transaction.get()):
            return service(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def one_transaction() -> Iterator[None]:
    """Apply many service calls (such as `rbac sync`'s plan) all together or not at all.

    Each call still audits, emits and invalidates as it goes: audit entries and outbox rows roll
    back with the rest, and the cache is invalidated again after the commit (cache.invalidate)."""
    token = _in_one_transaction.set(True)
    try:
        with transaction.atomic(durable=True):
            yield
    finally:
        _in_one_transaction.reset(token)


def _audit(
    *,
    actor_id: uuid.UUID | None,
    action: str,
    target_type: str,
    target_id: Any,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    AuditEntry.objects.create(
        actor_id=actor_id,
        actor_service="" if actor_id is not None else (get_caller() or ""),
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=before,
        after=after,
        request_id=get_request_id() or "",
    )


def _emit(type: str, payload: dict[str, Any]) -> None:
    outbox_record(type=type, producer=SERVICE_NAME, payload=payload)


def _name(value: str, field: str = "name") -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidRbacInput(f"The {field} is required.", details={field: ["This field is required."]})
    if len(value) > NAME_MAX:
        raise InvalidRbacInput(f"The {field} is too long.", details={field: [f"At most {NAME_MAX} characters."]})
    if any(ord(ch) < 32 for ch in value):
        raise InvalidRbacInput(f"The {field} contains control characters.", details={field: ["No control characters."]})
    return value


def _description(value: str) -> str:
    value = (value or "").strip()
    if len(value) > DESCRIPTION_MAX:
        raise InvalidRbacInput(
            "The description is too long.", details={"description": [f"At most {DESCRIPTION_MAX} characters."]}
        )
    return value


def _known_permissions(codes: Iterable[str]) -> set[str]:
    codes = set(codes)
    unknown = codes - set(Permission.objects.filter(code__in=codes).values_list("code", flat=True))
    if unknown:
        raise UnknownPermission(
            f"Unknown permission: {', '.join(sorted(unknown))}.",
            details={"permissions": [f"Unknown permission: {code}" for code in sorted(unknown)]},
        )
    return codes


def _existing_roles(role_ids: Iterable[uuid.UUID], field: str = "parents") -> list[Role]:
    role_ids = list(dict.fromkeys(role_ids))
    found = Role.objects.in_bulk(role_ids)
    missing = [str(role_id) for role_id in role_ids if role_id not in found]
    if missing:
        raise InvalidRbacInput("Unknown role.", details={field: [f"No role with id {role_id}." for role_id in missing]})
    return [found[role_id] for role_id in role_ids]


def _lock_role_graph() -> None:
    # Role-graph edits take turns (on the admin row, which always exists): two concurrent edits
    # could otherwise each pass the cycle check and close a cycle together.
    list(Role.objects.select_for_update().filter(name=ADMIN_ROLE).values_list("id"))


def _require_active_user(user_id: uuid.UUID) -> None:
    """Refuse a grant or a membership for a user the users service does not know, or has
    deactivated: it would hold for nobody, or for an account that was meant to lose its access.

    Asks the users service through its interface (over gRPC when it is split out), so it runs
    before the write's transaction opens: a remote call cannot run inside one. Inside
    `one_transaction()` the caller has checked its users before opening it (`rbac sync`
    validates every user of its file first)."""
    if _in_one_transaction.get():
        return
    try:
        user = user_service.get_user(user_id=user_id)
    except UserNotFound:
        user = None
    if user is None or not user.is_active:
        # The same answer for an unknown and a deactivated user: nothing to tell them apart by.
        message = "The user does not exist or is deactivated."
        raise UserNotFound(message, details={"user_id": [message]})


def held_by(actor_id: uuid.UUID, scope: str | None) -> frozenset[str]:
    """What the actor holds in `scope`, read from the database (a write does not trust a cache)."""
    return engine.compile_user(actor_id, engine.load_graph(), engine.now()).permissions_in(scope)


def _require_held(actor_id: uuid.UUID | None, codes: Iterable[str], scope: str | None) -> None:
    if actor_id is None:  # the system itself: migrations, operators' management commands
        return
    missing = set(codes) - held_by(actor_id, scope)
    if missing:
        raise EscalationDenied(
            details={"missing_permissions": sorted(missing), "scope": scope},
        )


def _role_snapshot(role: Role) -> dict[str, Any]:
    return {
        "name": role.name,
        "description": role.description,
        "permissions": sorted(role.permissions.values_list("code", flat=True)),
        "parents": sorted(str(p) for p in role.parents.values_list("id", flat=True)),
        "is_system": role.is_system,
        "grants_all": role.grants_all,
    }


def _closure_of(permissions: set[str], parents: list[Role], graph: engine.RoleGraph) -> set[str]:
    held = set(permissions)
    for parent in parents:
        held |= graph.closure.get(parent.id, frozenset())
    return held


# --- The registry --------------------------------------------------------------------------------


SYSTEM_ROLES = {
    ADMIN_ROLE: {"description": "Holds every permission, present and future.", "grants_all": True},
    # The org roles (docs/orgs.md), fixed ids so that every installation's are the same. Their
    # permissions and parents are put back on every sync (system roles cannot be edited).
    ORG_MEMBER_ROLE: {
        "id": uuid.UUID("0b9a4c1e-3f6d-5e21-8a70-1c2d3e4f5a61"),
        "description": "Member of an organization (assigned in scope org:<id>).",
    },
    ORG_ADMIN_ROLE: {
        "id": uuid.UUID("0b9a4c1e-3f6d-5e21-8a70-1c2d3e4f5a62"),
        "description": "Administrator of an organization: its members, invitations and settings.",
    },
    ORG_OWNER_ROLE: {
        "id": uuid.UUID("0b9a4c1e-3f6d-5e21-8a70-1c2d3e4f5a63"),
        "description": "Owner of an organization: an administrator who may also delete it and manage owners.",
    },
}

# (own permissions, parent) of each org role: owner > admin > member.
ORG_ROLE_GRANTS: dict[str, tuple[tuple[str, ...], str | None]] = {
    ORG_MEMBER_ROLE: (("orgs.org.view", "orgs.member.view"), None),
    ORG_ADMIN_ROLE: (
        ("orgs.org.manage", "orgs.member.manage", "orgs.invitation.manage", "orgs.notification.send"),
        ORG_MEMBER_ROLE,
    ),
    ORG_OWNER_ROLE: (("orgs.org.delete", "orgs.owner.manage", "orgs.domain.manage"), ORG_ADMIN_ROLE),
}


def _org_roles_sync() -> bool:
    """Give the org roles their permissions and parents; whether anything changed."""
    roles = {role.name: role for role in Role.objects.filter(name__in=ORG_ROLE_GRANTS)}
    changed = False
    for name, (codes, parent) in ORG_ROLE_GRANTS.items():
        role = roles.get(name)
        if role is None:
            continue
        present = set(Permission.objects.filter(code__in=codes).values_list("code", flat=True))
        if set(role.permissions.values_list("code", flat=True)) != present:
            role.permissions.set(sorted(present))
            changed = True
        parents = [roles[parent].id] if parent and parent in roles else []
        if sorted(role.parents.values_list("id", flat=True)) != sorted(parents):
            role.parents.set(parents)
            changed = True
    return changed


def permission_registry_sync() -> tuple[list[str], list[str]]:
    """Make the Permission table the declared registry; returns (added, removed) codes.

    Removed codes leave every role that held them. Runs after every `migrate` (post_migrate),
    which also puts back a system role that a flush removed (migration 0002 seeds them first).
    """
    declared = declared_permissions()
    with transaction.atomic():
        for name, fields in SYSTEM_ROLES.items():
            _, created = Role.objects.get_or_create(name=name, defaults={**fields, "is_system": True})
            if created:
                rbac_cache.invalidate(everyone=True)
        existing = {p.code: p for p in Permission.objects.select_for_update()}
        added = sorted(set(declared) - set(existing))
        removed = sorted(set(existing) - set(declared))
        Permission.objects.bulk_create(
            [Permission(code=code, description=declared[code].description) for code in added]
        )
        changed = [
            existing[code]
            for code in set(declared) & set(existing)
            if existing[code].description != declared[code].description
        ]
        for permission in changed:
            permission.description = declared[permission.code].description
        Permission.objects.bulk_update(changed, ["description"])
        if removed:
            Permission.objects.filter(code__in=removed).delete()
        if _org_roles_sync():
            rbac_cache.invalidate(everyone=True)
        if added or removed:
            _audit(
                actor_id=None,
                action="registry.synced",
                target_type="registry",
                target_id="permissions",
                before={"removed": removed},
                after={"added": added},
            )
            rbac_cache.invalidate(everyone=True)
    return added, removed


# --- Roles ---------------------------------------------------------------------------------------


@_durable
def create_role(
    *,
    actor_id: uuid.UUID | None,
    name: str,
    description: str = "",
    permissions: list[str] | None = None,
    parents: list[uuid.UUID] | None = None,
) -> Role:
    name = _name(name)
    description = _description(description)
    codes = _known_permissions(permissions or [])
    _lock_role_graph()
    parent_roles = _existing_roles(parents or [])
    _require_held(actor_id, _closure_of(codes, parent_roles, engine.load_graph()), None)
    if Role.objects.filter(name=name).exists():
        raise RoleNameTaken()
    try:
        with transaction.atomic():
            role = Role.objects.create(name=name, description=description)
    except IntegrityError:
        raise RoleNameTaken() from None
    role.permissions.set(codes)
    role.parents.set(parent_roles)
    _audit(actor_id=actor_id, action="role.created", target_type="role", target_id=role.id, after=_role_snapshot(role))
    _emit(ROLE_CHANGED, {"role_id": str(role.id), "name": role.name, "change": "created"})
    # A new role is in no assignment yet, but the cached role graph must learn it exists.
    rbac_cache.invalidate(everyone=True)
    return role


def _would_cycle(role_id: uuid.UUID, parents: list[Role], graph: engine.RoleGraph) -> bool:
    seen: set[uuid.UUID] = set()
    stack = [parent.id for parent in parents]
    while stack:
        current = stack.pop()
        if current == role_id:
            return True
        if current not in seen:
            seen.add(current)
            stack.extend(graph.parents.get(current, ()))
    return False


@_durable
def update_role(
    *,
    actor_id: uuid.UUID | None,
    role_id: uuid.UUID,
    name: str | None = None,
    description: str | None = None,
    permissions: list[str] | None = None,
    parents: list[uuid.UUID] | None = None,
) -> Role:
    _lock_role_graph()
    try:
        role = Role.objects.select_for_update().get(id=role_id)
    except (Role.DoesNotExist, ValueError):
        raise RoleNotFound() from None
    before = _role_snapshot(role)
    if role.is_system and (
        (name is not None and name.strip() != role.name)
        or (permissions is not None and set(permissions) != set(before["permissions"]))
        or (parents is not None and {str(p) for p in parents} != set(before["parents"]))
    ):
        raise SystemRoleProtected()
    new_name = _name(name) if name is not None else role.name
    new_description = _description(description) if description is not None else role.description
    codes = _known_permissions(permissions) if permissions is not None else set(before["permissions"])
    graph = engine.load_graph()
    parent_roles = _existing_roles(parents) if parents is not None else list(role.parents.all())
    if _would_cycle(role.id, parent_roles, graph):
        raise RoleCycle()
    added = _closure_of(codes, parent_roles, graph) - graph.closure.get(role.id, frozenset())
    _require_held(actor_id, added, None)
    if new_name != role.name and Role.objects.filter(name=new_name).exclude(id=role.id).exists():
        raise RoleNameTaken()
    role.name, role.description = new_name, new_description
    try:
        with transaction.atomic():
            role.save(update_fields=["name", "description", "updated_at"])
    except IntegrityError:
        raise RoleNameTaken() from None
    if permissions is not None:
        role.permissions.set(codes)
    if parents is not None:
        role.parents.set(parent_roles)
    after = _role_snapshot(role)
    if after != before:
        _audit(
            actor_id=actor_id, action="role.updated", target_type="role", target_id=role.id, before=before, after=after
        )
        _emit(ROLE_CHANGED, {"role_id": str(role.id), "name": role.name, "change": "updated"})
        # Losing permissions or parents only takes access away: it goes ahead in a cache outage.
        rbac_cache.invalidate(everyone=True, revoking=not added)
    return role


@_durable
def delete_role(*, actor_id: uuid.UUID | None, role_id: uuid.UUID) -> None:
    _lock_role_graph()
    try:
        role = Role.objects.select_for_update().get(id=role_id)
    except (Role.DoesNotExist, ValueError):
        raise RoleNotFound() from None
    if role.is_system:
        raise SystemRoleProtected()
    before = _role_snapshot(role)
    before["assignments"] = Assignment.objects.filter(role=role).count()
    role.delete()
    _audit(actor_id=actor_id, action="role.deleted", target_type="role", target_id=role_id, before=before)
    _emit(ROLE_CHANGED, {"role_id": str(role_id), "name": before["name"], "change": "deleted"})
    rbac_cache.invalidate(everyone=True, revoking=True)


# --- Groups --------------------------------------------------------------------------------------


def _group_snapshot(group: Group) -> dict[str, Any]:
    return {"name": group.name, "description": group.description}


def _locked_group(group_id: uuid.UUID) -> Group:
    try:
        return Group.objects.select_for_update().get(id=group_id)
    except (Group.DoesNotExist, ValueError):
        raise GroupNotFound() from None


@_durable
def create_group(*, actor_id: uuid.UUID | None, name: str, description: str = "") -> Group:
    name = _name(name)
    description = _description(description)
    if Group.objects.filter(name=name).exists():
        raise GroupNameTaken()
    try:
        with transaction.atomic():
            group = Group.objects.create(name=name, description=description)
    except IntegrityError:
        raise GroupNameTaken() from None
    _audit(
        actor_id=actor_id, action="group.created", target_type="group", target_id=group.id, after=_group_snapshot(group)
    )
    _emit(GROUP_CHANGED, {"group_id": str(group.id), "name": group.name, "change": "created"})
    return group


@_durable
def rename_group(*, actor_id: uuid.UUID | None, group_id: uuid.UUID, name: str) -> Group:
    name = _name(name)
    group = _locked_group(group_id)
    if group.name == name:
        return group
    if Group.objects.filter(name=name).exclude(id=group_id).exists():
        raise GroupNameTaken()
    before = _group_snapshot(group)
    group.name = name
    try:
        with transaction.atomic():
            group.save(update_fields=["name"])
    except IntegrityError:
        raise GroupNameTaken() from None
    _audit(
        actor_id=actor_id,
        action="group.renamed",
        target_type="group",
        target_id=group.id,
        before=before,
        after=_group_snapshot(group),
    )
    _emit(GROUP_CHANGED, {"group_id": str(group.id), "name": group.name, "change": "renamed"})
    return group


@_durable
def delete_group(*, actor_id: uuid.UUID | None, group_id: uuid.UUID) -> None:
    group = _locked_group(group_id)
    before = {
        **_group_snapshot(group),
        "members": sorted(str(u) for u in group.memberships.values_list("user_id", flat=True)),
    }
    group.delete()
    _audit(actor_id=actor_id, action="group.deleted", target_type="group", target_id=group_id, before=before)
    _emit(GROUP_CHANGED, {"group_id": str(group_id), "name": before["name"], "change": "deleted"})
    rbac_cache.invalidate(everyone=True, revoking=True)


def add_group_member(*, actor_id: uuid.UUID | None, group_id: uuid.UUID, user_id: uuid.UUID) -> None:
    _require_active_user(user_id)
    _group_member_add(actor_id=actor_id, group_id=group_id, user_id=user_id)


@_durable
def _group_member_add(*, actor_id: uuid.UUID | None, group_id: uuid.UUID, user_id: uuid.UUID) -> None:
    group = _locked_group(group_id)
    if group.memberships.filter(user_id=user_id).exists():
        return
    # The user gains every role the group holds, where it holds it: the actor must hold them there.
    graph = engine.load_graph()
    for role_id, scope in group.assignments.filter(engine.unexpired(engine.now())).values_list("role_id", "scope"):
        _require_held(actor_id, graph.closure.get(role_id, frozenset()), scope or None)
    GroupMembership.objects.create(group=group, user_id=user_id)
    _audit(
        actor_id=actor_id,
        action="group.member_added",
        target_type="group",
        target_id=group.id,
        after={"user_id": str(user_id)},
    )
    _emit(
        GROUP_CHANGED,
        {"group_id": str(group.id), "name": group.name, "change": "member_added", "user_id": str(user_id)},
    )
    rbac_cache.invalidate(user_ids=[user_id])


@_durable
def remove_group_member(*, actor_id: uuid.UUID | None, group_id: uuid.UUID, user_id: uuid.UUID) -> None:
    group = _locked_group(group_id)
    deleted, _ = group.memberships.filter(user_id=user_id).delete()
    if not deleted:
        return
    _audit(
        actor_id=actor_id,
        action="group.member_removed",
        target_type="group",
        target_id=group.id,
        before={"user_id": str(user_id)},
    )
    _emit(
        GROUP_CHANGED,
        {"group_id": str(group.id), "name": group.name, "change": "member_removed", "user_id": str(user_id)},
    )
    rbac_cache.invalidate(user_ids=[user_id], revoking=True)


# --- Assignments ---------------------------------------------------------------------------------


def _assignment_snapshot(assignment: Assignment) -> dict[str, Any]:
    return {
        "assignment_id": str(assignment.id),
        "role_id": str(assignment.role_id),
        "role": assignment.role.name,
        "user_id": str(assignment.user_id) if assignment.user_id else None,
        "group_id": str(assignment.group_id) if assignment.group_id else None,
        "scope": assignment.scope or None,
        "expires_at": assignment.expires_at.isoformat() if assignment.expires_at else None,
    }


def _invalidate_subject(assignment: Assignment, *, revoking: bool = False) -> None:
    # A group's assignment reaches whoever is a member when the cache is next read, including
    # members joining concurrently: only the global version is safe for it.
    if assignment.user_id is not None:
        rbac_cache.invalidate(user_ids=[assignment.user_id], revoking=revoking)
    else:
        rbac_cache.invalidate(everyone=True, revoking=revoking)


def grant_role(
    *,
    actor_id: uuid.UUID | None,
    role_id: uuid.UUID,
    user_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    scope: str | None = None,
    expires_at: datetime | None = None,
) -> Assignment:
    if (user_id is None) == (group_id is None):
        raise InvalidRbacInput(
            "Give exactly one of user_id and group_id.",
            details={
                "user_id": ["Exactly one of user_id and group_id."],
                "group_id": ["Exactly one of user_id and group_id."],
            },
        )
    scope = normalise_scope(scope)
    if expires_at is not None:
        if timezone.is_naive(expires_at):
            raise InvalidRbacInput("expires_at needs a time zone.", details={"expires_at": ["Give a time zone."]})
        if expires_at <= timezone.now():
            raise InvalidRbacInput("expires_at is in the past.", details={"expires_at": ["Must be in the future."]})
    if user_id is not None:
        _require_active_user(user_id)
    return _assignment_grant(
        actor_id=actor_id, role_id=role_id, user_id=user_id, group_id=group_id, scope=scope, expires_at=expires_at
    )


@_durable
def _assignment_grant(
    *,
    actor_id: uuid.UUID | None,
    role_id: uuid.UUID,
    user_id: uuid.UUID | None,
    group_id: uuid.UUID | None,
    scope: str | None,
    expires_at: datetime | None,
) -> Assignment:
    try:
        role = Role.objects.get(id=role_id)
    except (Role.DoesNotExist, ValueError):
        raise RoleNotFound() from None
    group = _locked_group(group_id) if group_id is not None else None
    graph = engine.load_graph()
    _require_held(actor_id, graph.closure.get(role.id, frozenset()), scope)
    same = Assignment.objects.filter(
        role=role, user_id=user_id, group=group, scope=scope or "", expires_at=expires_at
    ).first()
    if same is not None:
        return same
    assignment = Assignment.objects.create(
        role=role, user_id=user_id, group=group, scope=scope or "", expires_at=expires_at, granted_by=actor_id
    )
    snapshot = _assignment_snapshot(assignment)
    _audit(
        actor_id=actor_id,
        action="assignment.granted",
        target_type="assignment",
        target_id=assignment.id,
        after=snapshot,
    )
    _emit(ASSIGNMENT_GRANTED, snapshot)
    _invalidate_subject(assignment)
    return assignment


@_durable
def revoke_assignment(*, actor_id: uuid.UUID | None, assignment_id: uuid.UUID) -> None:
    try:
        assignment = Assignment.objects.select_for_update().select_related("role").get(id=assignment_id)
    except (Assignment.DoesNotExist, ValueError):
        raise AssignmentNotFound() from None
    _delete_assignment(actor_id, assignment)
    _invalidate_subject(assignment, revoking=True)


def _delete_assignment(actor_id: uuid.UUID | None, assignment: Assignment) -> None:
    """Delete a locked assignment, with its audit row and its `ASSIGNMENT_REVOKED` event; the
    caller invalidates the checks' copies."""
    snapshot = _assignment_snapshot(assignment)
    assignment.delete()
    _audit(
        actor_id=actor_id,
        action="assignment.revoked",
        target_type="assignment",
        target_id=snapshot["assignment_id"],
        before=snapshot,
    )
    _emit(ASSIGNMENT_REVOKED, snapshot)


# --- Other services' events ----------------------------------------------------------------------


def user_deactivation_record(*, user_id: uuid.UUID) -> None:
    """From `users.user_deactivated`, inside the consumer's transaction (so not durable).

    Nothing is removed (the assignments stay, and show in listings and the audit); every check
    for the user denies from now on.
    """
    _, created = DeactivatedUser.objects.get_or_create(user_id=user_id)
    if created:
        _audit(actor_id=None, action="user.deactivated", target_type="user", target_id=user_id)
        rbac_cache.invalidate(user_ids=[user_id], revoking=True)


def user_reactivation_record(*, user_id: uuid.UUID) -> None:
    """From `users.user_reactivated`, inside the consumer's transaction: checks answer from the
    user's assignments again (those deactivation kept; nothing revoked meanwhile comes back)."""
    deleted, _ = DeactivatedUser.objects.filter(user_id=user_id).delete()
    if deleted:
        _audit(actor_id=None, action="user.reactivated", target_type="user", target_id=user_id)
        rbac_cache.invalidate(user_ids=[user_id])


# --- Whole scopes (organizations: docs/orgs.md) ----------------------------------------------------


def _whole_scope(scope: str | None) -> str:
    scope = normalise_scope(scope)
    if scope is None:
        raise InvalidScope(details={"scope": ["A scope is required here; the global scope is not one."]})
    return scope


def _in_and_below(scope: str):
    from django.db.models import Q

    return Q(scope=scope) | Q(scope__startswith=scope + "/")


def _protect(protect_role_id: uuid.UUID | None, scope: str, leaving: set[uuid.UUID]) -> None:
    """Refuse when the users in `leaving` are all the users holding `protect_role_id` in `scope`.
    The holders' rows are locked, in id order and before anything else the write locks (no
    deadlock between two writes), so two removals racing for the last two holders take turns and
    the second one sees the first one's result."""
    if protect_role_id is None:
        return
    holders = list(
        Assignment.objects.select_for_update()
        .filter(role_id=protect_role_id, scope=scope, user_id__isnull=False)
        .order_by("id")
        .values_list("user_id", flat=True)
    )
    if holders and set(holders) <= leaving:
        raise LastRoleHolder()


@_durable
def revoke_assignments(
    *,
    actor_id: uuid.UUID | None,
    scope: str,
    user_id: uuid.UUID | None = None,
    protect_role_id: uuid.UUID | None = None,
) -> int:
    scope = _whole_scope(scope)
    if user_id is not None:
        _protect(protect_role_id, scope, {user_id})
    elif protect_role_id is not None:
        raise InvalidRbacInput("protect_role_id needs a user_id.", details={"protect_role_id": ["Only with user_id."]})
    rows = Assignment.objects.select_for_update(of=("self",)).select_related("role").filter(_in_and_below(scope))
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    assignments = list(rows.order_by("created_at", "id"))
    for assignment in assignments:
        _delete_assignment(actor_id, assignment)
    if assignments:
        if user_id is not None and all(a.user_id == user_id for a in assignments):
            rbac_cache.invalidate(user_ids=[user_id], revoking=True)
        else:
            rbac_cache.invalidate(everyone=True, revoking=True)
    return len(assignments)


def replace_role(
    *,
    actor_id: uuid.UUID | None,
    user_id: uuid.UUID,
    scope: str,
    role_id: uuid.UUID,
    replaces: list[uuid.UUID],
    protect_role_id: uuid.UUID | None = None,
) -> Assignment:
    scope = _whole_scope(scope)
    _require_active_user(user_id)
    return _role_replace(
        actor_id=actor_id,
        user_id=user_id,
        scope=scope,
        role_id=role_id,
        replaces=replaces,
        protect_role_id=protect_role_id,
    )


@_durable
def _role_replace(
    *,
    actor_id: uuid.UUID | None,
    user_id: uuid.UUID,
    scope: str,
    role_id: uuid.UUID,
    replaces: list[uuid.UUID],
    protect_role_id: uuid.UUID | None,
) -> Assignment:
    try:
        role = Role.objects.get(id=role_id)
    except (Role.DoesNotExist, ValueError):
        raise RoleNotFound() from None
    graph = engine.load_graph()
    _require_held(actor_id, graph.closure.get(role.id, frozenset()), scope)
    if protect_role_id is not None and protect_role_id != role_id and protect_role_id in replaces:
        _protect(protect_role_id, scope, {user_id})  # first: see _protect
    old = list(
        Assignment.objects.select_for_update(of=("self",))
        .select_related("role")
        .filter(user_id=user_id, scope=scope, role_id__in=[r for r in replaces if r != role_id])
        .order_by("created_at", "id")
    )
    kept = Assignment.objects.filter(role=role, user_id=user_id, scope=scope, expires_at__isnull=True).first()
    for assignment in old:
        _delete_assignment(actor_id, assignment)
    if kept is None:
        kept = Assignment.objects.create(role=role, user_id=user_id, scope=scope, granted_by=actor_id)
        if old:  # the member joined when they first held one of the roles replaced
            kept.created_at = min(a.created_at for a in old)
            Assignment.objects.filter(pk=kept.pk).update(created_at=kept.created_at)
        snapshot = _assignment_snapshot(kept)
        _audit(
            actor_id=actor_id, action="assignment.granted", target_type="assignment", target_id=kept.id, after=snapshot
        )
        _emit(ASSIGNMENT_GRANTED, snapshot)
    rbac_cache.invalidate(user_ids=[user_id], revoking=bool(old))
    return kept
