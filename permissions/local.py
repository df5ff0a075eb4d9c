"""The in-process implementation of PermissionService."""

from __future__ import annotations

import uuid
from datetime import datetime

from permissions.core import selectors, services
from permissions.core.data import assignment_data, audit_data, group_data, permission_data, role_data
from permissions.interface import (
    DEFAULT_PAGE_SIZE,
    Assignment,
    AssignmentPage,
    AuditPage,
    Explanation,
    Group,
    Permission,
    Role,
)


class LocalPermissionService:
    def check(self, *, user_id: uuid.UUID, permission: str, scope: str | None = None) -> bool:
        return selectors.check(user_id=user_id, permission=permission, scope=scope)

    def check_many(self, *, user_id: uuid.UUID, checks: list[tuple[str, str | None]]) -> list[bool]:
        return selectors.check_many(user_id=user_id, checks=checks)

    def explain(self, *, user_id: uuid.UUID, permission: str, scope: str | None = None) -> Explanation:
        return selectors.explain(user_id=user_id, permission=permission, scope=scope)

    def effective_permissions(self, *, user_id: uuid.UUID, scope: str | None = None) -> frozenset[str]:
        return selectors.effective_permissions(user_id=user_id, scope=scope)

    def users_with_permission(self, *, permission: str, scope: str | None = None) -> list[uuid.UUID]:
        return selectors.users_with_permission(permission=permission, scope=scope)

    def users_with_role(self, *, role_id: uuid.UUID, scope: str | None = None) -> list[uuid.UUID]:
        return selectors.users_with_role(role_id=role_id, scope=scope)

    def list_permissions(self) -> list[Permission]:
        return [permission_data(p) for p in selectors.list_permissions()]

    def undeclared_permissions(self, *, codes: list[str]) -> list[str]:
        return selectors.undeclared_permissions(codes=codes)

    def create_role(
        self,
        *,
        actor_id: uuid.UUID | None,
        name: str,
        description: str = "",
        permissions: list[str] | None = None,
        parents: list[uuid.UUID] | None = None,
    ) -> Role:
        role = services.create_role(
            actor_id=actor_id, name=name, description=description, permissions=permissions, parents=parents
        )
        return role_data(role)

    def get_role(self, *, role_id: uuid.UUID) -> Role:
        return role_data(selectors.get_role(role_id=role_id))

    def get_role_by_name(self, *, name: str) -> Role:
        return role_data(selectors.get_role_by_name(name=name))

    def list_roles(self) -> list[Role]:
        return [role_data(role) for role in selectors.list_roles()]

    def update_role(
        self,
        *,
        actor_id: uuid.UUID | None,
        role_id: uuid.UUID,
        name: str | None = None,
        description: str | None = None,
        permissions: list[str] | None = None,
        parents: list[uuid.UUID] | None = None,
    ) -> Role:
        role = services.update_role(
            actor_id=actor_id,
            role_id=role_id,
            name=name,
            description=description,
            permissions=permissions,
            parents=parents,
        )
        return role_data(role)

    def delete_role(self, *, actor_id: uuid.UUID | None, role_id: uuid.UUID) -> None:
        services.delete_role(actor_id=actor_id, role_id=role_id)

    def create_group(self, *, actor_id: uuid.UUID | None, name: str, description: str = "") -> Group:
        return group_data(services.create_group(actor_id=actor_id, name=name, description=description))

    def get_group(self, *, group_id: uuid.UUID) -> Group:
        return group_data(selectors.get_group(group_id=group_id))

    def list_groups(self) -> list[Group]:
        return [group_data(group) for group in selectors.list_groups()]

    def rename_group(self, *, actor_id: uuid.UUID | None, group_id: uuid.UUID, name: str) -> Group:
        return group_data(services.rename_group(actor_id=actor_id, group_id=group_id, name=name))

    def delete_group(self, *, actor_id: uuid.UUID | None, group_id: uuid.UUID) -> None:
        services.delete_group(actor_id=actor_id, group_id=group_id)

    def group_members(self, *, group_id: uuid.UUID) -> list[uuid.UUID]:
        return selectors.group_members(group_id=group_id)

    def user_groups(self, *, user_id: uuid.UUID) -> list[Group]:
        return [group_data(group) for group in selectors.user_groups(user_id=user_id)]

    def add_group_member(self, *, actor_id: uuid.UUID | None, group_id: uuid.UUID, user_id: uuid.UUID) -> None:
        services.add_group_member(actor_id=actor_id, group_id=group_id, user_id=user_id)

    def remove_group_member(self, *, actor_id: uuid.UUID | None, group_id: uuid.UUID, user_id: uuid.UUID) -> None:
        services.remove_group_member(actor_id=actor_id, group_id=group_id, user_id=user_id)

    def grant_role(
        self,
        *,
        actor_id: uuid.UUID | None,
        role_id: uuid.UUID,
        user_id: uuid.UUID | None = None,
        group_id: uuid.UUID | None = None,
        scope: str | None = None,
        expires_at: datetime | None = None,
    ) -> Assignment:
        assignment = services.grant_role(
            actor_id=actor_id, role_id=role_id, user_id=user_id, group_id=group_id, scope=scope, expires_at=expires_at
        )
        return assignment_data(assignment)

    def revoke_assignment(self, *, actor_id: uuid.UUID | None, assignment_id: uuid.UUID) -> None:
        services.revoke_assignment(actor_id=actor_id, assignment_id=assignment_id)

    def revoke_assignments(
        self,
        *,
        actor_id: uuid.UUID | None,
        scope: str,
        user_id: uuid.UUID | None = None,
        protect_role_id: uuid.UUID | None = None,
    ) -> int:
        return services.revoke_assignments(
            actor_id=actor_id, scope=scope, user_id=user_id, protect_role_id=protect_role_id
        )

    def replace_role(
        self,
        *,
        actor_id: uuid.UUID | None,
        user_id: uuid.UUID,
        scope: str,
        role_id: uuid.UUID,
        replaces: list[uuid.UUID],
        protect_role_id: uuid.UUID | None = None,
    ) -> Assignment:
        return assignment_data(
            services.replace_role(
                actor_id=actor_id,
                user_id=user_id,
                scope=scope,
                role_id=role_id,
                replaces=replaces,
                protect_role_id=protect_role_id,
            )
        )

    def get_assignment(self, *, assignment_id: uuid.UUID) -> Assignment:
        return assignment_data(selectors.get_assignment(assignment_id=assignment_id))

    def list_assignments(
        self,
        *,
        user_id: uuid.UUID | None = None,
        group_id: uuid.UUID | None = None,
        role_id: uuid.UUID | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        scope: str | None = None,
        role_ids: list[uuid.UUID] | None = None,
    ) -> AssignmentPage:
        assignments, next_cursor = selectors.list_assignments(
            user_id=user_id,
            group_id=group_id,
            role_id=role_id,
            limit=limit,
            cursor=cursor,
            scope=scope,
            role_ids=role_ids,
        )
        return AssignmentPage(results=tuple(assignment_data(a) for a in assignments), next=next_cursor)

    def list_audit(self, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None) -> AuditPage:
        entries, next_cursor = selectors.list_audit(limit=limit, cursor=cursor)
        return AuditPage(results=tuple(audit_data(entry) for entry in entries), next=next_cursor)
