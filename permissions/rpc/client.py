"""permissions.interface.PermissionService over gRPC: installed instead of LocalPermissionService
when PERMISSIONS_GRPC_TARGET is set. Same signatures, same results, same errors; no models.

Every check is a round trip: the answers come from the server's engine and cache, so a revoke
that has returned there is never answered with the old grant here.
"""

from __future__ import annotations

import uuid
from datetime import datetime

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
from project.rpc.client import ServiceClient
from project.rpc.messages import without_none
from protos.gatehouse.permissions.v1 import permissions_pb2 as pb
from protos.gatehouse.permissions.v1 import permissions_pb2_grpc

from . import mapping


def _actor(actor_id: uuid.UUID | None) -> dict[str, str]:
    return {} if actor_id is None else {"actor_id": str(actor_id)}


def _scope(scope: str | None) -> dict[str, str]:
    return {} if scope is None else {"scope": scope}


class GrpcPermissionService:
    def __init__(self, *, target: str):
        self._rpc = ServiceClient(target, permissions_pb2_grpc.PermissionServiceStub)

    @property
    def target(self) -> str:
        return self._rpc.target

    def __repr__(self) -> str:
        return f"GrpcPermissionService(target={self.target!r})"

    # Checks.

    def check(self, *, user_id: uuid.UUID, permission: str, scope: str | None = None) -> bool:
        request = pb.CheckRequest(user_id=str(user_id), permission=permission, **_scope(scope))
        return self._rpc.call("Check", request).allowed

    def check_many(self, *, user_id: uuid.UUID, checks: list[tuple[str, str | None]]) -> list[bool]:
        request = pb.CheckManyRequest(
            user_id=str(user_id),
            checks=[pb.PermissionInScope(permission=permission, **_scope(scope)) for permission, scope in checks],
        )
        return list(self._rpc.call("CheckMany", request).results)

    def explain(self, *, user_id: uuid.UUID, permission: str, scope: str | None = None) -> Explanation:
        request = pb.ExplainRequest(user_id=str(user_id), permission=permission, **_scope(scope))
        return mapping.explanation_from_pb(self._rpc.call("Explain", request).explanation)

    def effective_permissions(self, *, user_id: uuid.UUID, scope: str | None = None) -> frozenset[str]:
        request = pb.EffectivePermissionsRequest(user_id=str(user_id), **_scope(scope))
        return frozenset(self._rpc.call("EffectivePermissions", request).permissions)

    def users_with_permission(self, *, permission: str, scope: str | None = None) -> list[uuid.UUID]:
        request = pb.UsersWithPermissionRequest(permission=permission, **_scope(scope))
        return [uuid.UUID(user_id) for user_id in self._rpc.call("UsersWithPermission", request).user_ids]

    def users_with_role(self, *, role_id: uuid.UUID, scope: str | None = None) -> list[uuid.UUID]:
        request = pb.UsersWithRoleRequest(role_id=str(role_id), **_scope(scope))
        return [uuid.UUID(user_id) for user_id in self._rpc.call("UsersWithRole", request).user_ids]

    # The registry.

    def list_permissions(self) -> list[Permission]:
        reply = self._rpc.call("ListPermissions", pb.ListPermissionsRequest())
        return [mapping.permission_from_pb(permission) for permission in reply.permissions]

    # Roles.

    def create_role(
        self,
        *,
        actor_id: uuid.UUID | None,
        name: str,
        description: str = "",
        permissions: list[str] | None = None,
        parents: list[uuid.UUID] | None = None,
    ) -> Role:
        request = pb.CreateRoleRequest(
            name=name,
            description=description,
            permissions=mapping.string_list(permissions),
            parents=mapping.string_list(parents),
            **_actor(actor_id),
        )
        return mapping.role_from_pb(self._rpc.call("CreateRole", request).role)

    def get_role(self, *, role_id: uuid.UUID) -> Role:
        return mapping.role_from_pb(self._rpc.call("GetRole", pb.GetRoleRequest(role_id=str(role_id))).role)

    def get_role_by_name(self, *, name: str) -> Role:
        return mapping.role_from_pb(self._rpc.call("GetRoleByName", pb.GetRoleByNameRequest(name=name)).role)

    def list_roles(self) -> list[Role]:
        return [mapping.role_from_pb(role) for role in self._rpc.call("ListRoles", pb.ListRolesRequest()).roles]

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
        request = pb.UpdateRoleRequest(
            role_id=str(role_id),
            permissions=mapping.string_list(permissions),
            parents=mapping.string_list(parents),
            **without_none(name=name, description=description),
            **_actor(actor_id),
        )
        return mapping.role_from_pb(self._rpc.call("UpdateRole", request).role)

    def delete_role(self, *, actor_id: uuid.UUID | None, role_id: uuid.UUID) -> None:
        self._rpc.call("DeleteRole", pb.DeleteRoleRequest(role_id=str(role_id), **_actor(actor_id)))

    # Groups.

    def create_group(self, *, actor_id: uuid.UUID | None, name: str, description: str = "") -> Group:
        request = pb.CreateGroupRequest(name=name, description=description, **_actor(actor_id))
        return mapping.group_from_pb(self._rpc.call("CreateGroup", request).group)

    def get_group(self, *, group_id: uuid.UUID) -> Group:
        return mapping.group_from_pb(self._rpc.call("GetGroup", pb.GetGroupRequest(group_id=str(group_id))).group)

    def list_groups(self) -> list[Group]:
        return [mapping.group_from_pb(group) for group in self._rpc.call("ListGroups", pb.ListGroupsRequest()).groups]

    def delete_group(self, *, actor_id: uuid.UUID | None, group_id: uuid.UUID) -> None:
        self._rpc.call("DeleteGroup", pb.DeleteGroupRequest(group_id=str(group_id), **_actor(actor_id)))

    def group_members(self, *, group_id: uuid.UUID) -> list[uuid.UUID]:
        reply = self._rpc.call("GroupMembers", pb.GroupMembersRequest(group_id=str(group_id)))
        return [uuid.UUID(user_id) for user_id in reply.user_ids]

    def add_group_member(self, *, actor_id: uuid.UUID | None, group_id: uuid.UUID, user_id: uuid.UUID) -> None:
        request = pb.AddGroupMemberRequest(group_id=str(group_id), user_id=str(user_id), **_actor(actor_id))
        self._rpc.call("AddGroupMember", request)

    def remove_group_member(self, *, actor_id: uuid.UUID | None, group_id: uuid.UUID, user_id: uuid.UUID) -> None:
        request = pb.RemoveGroupMemberRequest(group_id=str(group_id), user_id=str(user_id), **_actor(actor_id))
        self._rpc.call("RemoveGroupMember", request)

    # Assignments.

    def grant(
        self,
        *,
        actor_id: uuid.UUID | None,
        role_id: uuid.UUID,
        user_id: uuid.UUID | None = None,
        group_id: uuid.UUID | None = None,
        scope: str | None = None,
        expires_at: datetime | None = None,
    ) -> Assignment:
        request = pb.GrantRequest(
            role_id=str(role_id),
            expires_at=mapping.expires_at_to_pb(expires_at),
            **without_none(
                user_id=None if user_id is None else str(user_id),
                group_id=None if group_id is None else str(group_id),
                scope=scope,
            ),
            **_actor(actor_id),
        )
        return mapping.assignment_from_pb(self._rpc.call("Grant", request).assignment)

    def revoke(self, *, actor_id: uuid.UUID | None, assignment_id: uuid.UUID) -> None:
        self._rpc.call("Revoke", pb.RevokeRequest(assignment_id=str(assignment_id), **_actor(actor_id)))

    def get_assignment(self, *, assignment_id: uuid.UUID) -> Assignment:
        reply = self._rpc.call("GetAssignment", pb.GetAssignmentRequest(assignment_id=str(assignment_id)))
        return mapping.assignment_from_pb(reply.assignment)

    def list_assignments(
        self,
        *,
        user_id: uuid.UUID | None = None,
        group_id: uuid.UUID | None = None,
        role_id: uuid.UUID | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> AssignmentPage:
        request = pb.ListAssignmentsRequest(
            limit=mapping.page_limit(limit),
            **without_none(
                user_id=None if user_id is None else str(user_id),
                group_id=None if group_id is None else str(group_id),
                role_id=None if role_id is None else str(role_id),
                cursor=cursor,
            ),
        )
        return mapping.assignment_page_from_pb(self._rpc.call("ListAssignments", request))

    # Audit.

    def list_audit(self, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None) -> AuditPage:
        request = pb.ListAuditRequest(limit=mapping.page_limit(limit), **without_none(cursor=cursor))
        return mapping.audit_page_from_pb(self._rpc.call("ListAudit", request))
