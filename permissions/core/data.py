"""Rows to the interface's data objects."""

from __future__ import annotations

from permissions import interface
from permissions.models import Assignment, AuditEntry, Group, Permission, Role


def permission_data(permission: Permission) -> interface.Permission:
    return interface.Permission(code=permission.code, description=permission.description)


def role_data(role: Role, *, all_codes: frozenset[str] | None = None) -> interface.Role:
    if role.grants_all:
        codes = all_codes if all_codes is not None else frozenset(Permission.objects.values_list("code", flat=True))
    else:
        codes = frozenset(p.code for p in role.permissions.all())
    return interface.Role(
        id=role.id,
        name=role.name,
        description=role.description,
        permissions=tuple(sorted(codes)),
        parents=tuple(sorted((p.id for p in role.parents.all()), key=str)),
        is_system=role.is_system,
        grants_all=role.grants_all,
    )


def group_data(group: Group) -> interface.Group:
    return interface.Group(id=group.id, name=group.name, description=group.description)


def assignment_data(assignment: Assignment) -> interface.Assignment:
    return interface.Assignment(
        id=assignment.id,
        role_id=assignment.role_id,
        role_name=assignment.role.name,
        user_id=assignment.user_id,
        group_id=assignment.group_id,
        scope=assignment.scope or None,
        expires_at=assignment.expires_at,
        created_at=assignment.created_at,
        granted_by=assignment.granted_by,
    )


def audit_data(entry: AuditEntry) -> interface.AuditEntry:
    return interface.AuditEntry(
        id=entry.id,
        occurred_at=entry.occurred_at,
        actor_id=entry.actor_id,
        action=entry.action,
        target_type=entry.target_type,
        target_id=entry.target_id,
        before=entry.before,
        after=entry.after,
        request_id=entry.request_id or None,
    )
