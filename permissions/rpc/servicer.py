"""gatehouse.permissions.v1.PermissionService, served by the in-process implementation.

Thin on purpose: requests become interface calls, results become replies. Errors are raised as
they are; the interceptor chain (project.rpc.interceptors) turns them into statuses. The
escalation rule needs nothing here: `actor_id` travels in the request and the service enforces it.
"""

from __future__ import annotations

import grpc

from permissions.interface import PermissionService
from permissions.local import LocalPermissionService
from project.rpc.messages import optional, present
from protos.gatehouse.permissions.v1 import permissions_pb2 as pb
from protos.gatehouse.permissions.v1 import permissions_pb2_grpc

from . import mapping

Context = grpc.ServicerContext


class PermissionServicer(permissions_pb2_grpc.PermissionServiceServicer):
    def __init__(self, permissions: PermissionService | None = None):
        # The local implementation, not permissions.interface.permission_service: a server whose
        # own PERMISSIONS_GRPC_TARGET is set must not call itself.
        self.permissions = permissions or LocalPermissionService()

    # Checks.

    def Check(self, request: pb.CheckRequest, context: Context) -> pb.CheckResponse:
        allowed = self.permissions.check(
            user_id=mapping.uuid_from(request, "user_id"),
            permission=request.permission,
            scope=optional(request, "scope"),
        )
        return pb.CheckResponse(allowed=allowed)

    def CheckMany(self, request: pb.CheckManyRequest, context: Context) -> pb.CheckManyResponse:
        results = self.permissions.check_many(
            user_id=mapping.uuid_from(request, "user_id"),
            checks=[(check.permission, optional(check, "scope")) for check in request.checks],
        )
        return pb.CheckManyResponse(results=results)

    def Explain(self, request: pb.ExplainRequest, context: Context) -> pb.ExplainResponse:
        explanation = self.permissions.explain(
            user_id=mapping.uuid_from(request, "user_id"),
            permission=request.permission,
            scope=optional(request, "scope"),
        )
        return pb.ExplainResponse(explanation=mapping.explanation_to_pb(explanation))

    def EffectivePermissions(
        self, request: pb.EffectivePermissionsRequest, context: Context
    ) -> pb.EffectivePermissionsResponse:
        held = self.permissions.effective_permissions(
            user_id=mapping.uuid_from(request, "user_id"), scope=optional(request, "scope")
        )
        return pb.EffectivePermissionsResponse(permissions=sorted(held))

    def UsersWithPermission(
        self, request: pb.UsersWithPermissionRequest, context: Context
    ) -> pb.UsersWithPermissionResponse:
        users = self.permissions.users_with_permission(permission=request.permission, scope=optional(request, "scope"))
        return pb.UsersWithPermissionResponse(user_ids=[str(user_id) for user_id in users])

    def UsersWithRole(self, request: pb.UsersWithRoleRequest, context: Context) -> pb.UsersWithRoleResponse:
        users = self.permissions.users_with_role(
            role_id=mapping.uuid_from(request, "role_id"), scope=optional(request, "scope")
        )
        return pb.UsersWithRoleResponse(user_ids=[str(user_id) for user_id in users])

    # The registry.

    def ListPermissions(self, request: pb.ListPermissionsRequest, context: Context) -> pb.ListPermissionsResponse:
        return pb.ListPermissionsResponse(
            permissions=[mapping.permission_to_pb(permission) for permission in self.permissions.list_permissions()]
        )

    # Roles.

    def CreateRole(self, request: pb.CreateRoleRequest, context: Context) -> pb.CreateRoleResponse:
        role = self.permissions.create_role(**mapping.create_role_kwargs(request))
        return pb.CreateRoleResponse(role=mapping.role_to_pb(role))

    def GetRole(self, request: pb.GetRoleRequest, context: Context) -> pb.GetRoleResponse:
        role = self.permissions.get_role(role_id=mapping.uuid_from(request, "role_id"))
        return pb.GetRoleResponse(role=mapping.role_to_pb(role))

    def GetRoleByName(self, request: pb.GetRoleByNameRequest, context: Context) -> pb.GetRoleByNameResponse:
        return pb.GetRoleByNameResponse(role=mapping.role_to_pb(self.permissions.get_role_by_name(name=request.name)))

    def ListRoles(self, request: pb.ListRolesRequest, context: Context) -> pb.ListRolesResponse:
        return pb.ListRolesResponse(roles=[mapping.role_to_pb(role) for role in self.permissions.list_roles()])

    def UpdateRole(self, request: pb.UpdateRoleRequest, context: Context) -> pb.UpdateRoleResponse:
        role = self.permissions.update_role(**mapping.update_role_kwargs(request))
        return pb.UpdateRoleResponse(role=mapping.role_to_pb(role))

    def DeleteRole(self, request: pb.DeleteRoleRequest, context: Context) -> pb.DeleteRoleResponse:
        self.permissions.delete_role(
            actor_id=mapping.actor_from(request), role_id=mapping.uuid_from(request, "role_id")
        )
        return pb.DeleteRoleResponse()

    # Groups.

    def CreateGroup(self, request: pb.CreateGroupRequest, context: Context) -> pb.CreateGroupResponse:
        group = self.permissions.create_group(
            actor_id=mapping.actor_from(request), name=request.name, description=request.description
        )
        return pb.CreateGroupResponse(group=mapping.group_to_pb(group))

    def GetGroup(self, request: pb.GetGroupRequest, context: Context) -> pb.GetGroupResponse:
        group = self.permissions.get_group(group_id=mapping.uuid_from(request, "group_id"))
        return pb.GetGroupResponse(group=mapping.group_to_pb(group))

    def ListGroups(self, request: pb.ListGroupsRequest, context: Context) -> pb.ListGroupsResponse:
        return pb.ListGroupsResponse(groups=[mapping.group_to_pb(group) for group in self.permissions.list_groups()])

    def DeleteGroup(self, request: pb.DeleteGroupRequest, context: Context) -> pb.DeleteGroupResponse:
        self.permissions.delete_group(
            actor_id=mapping.actor_from(request), group_id=mapping.uuid_from(request, "group_id")
        )
        return pb.DeleteGroupResponse()

    def GroupMembers(self, request: pb.GroupMembersRequest, context: Context) -> pb.GroupMembersResponse:
        members = self.permissions.group_members(group_id=mapping.uuid_from(request, "group_id"))
        return pb.GroupMembersResponse(user_ids=[str(user_id) for user_id in members])

    def AddGroupMember(self, request: pb.AddGroupMemberRequest, context: Context) -> pb.AddGroupMemberResponse:
        self.permissions.add_group_member(
            actor_id=mapping.actor_from(request),
            group_id=mapping.uuid_from(request, "group_id"),
            user_id=mapping.uuid_from(request, "user_id"),
        )
        return pb.AddGroupMemberResponse()

    def RemoveGroupMember(self, request: pb.RemoveGroupMemberRequest, context: Context) -> pb.RemoveGroupMemberResponse:
        self.permissions.remove_group_member(
            actor_id=mapping.actor_from(request),
            group_id=mapping.uuid_from(request, "group_id"),
            user_id=mapping.uuid_from(request, "user_id"),
        )
        return pb.RemoveGroupMemberResponse()

    # Assignments.

    def Grant(self, request: pb.GrantRequest, context: Context) -> pb.GrantResponse:
        assignment = self.permissions.grant(**mapping.grant_kwargs(request))
        return pb.GrantResponse(assignment=mapping.assignment_to_pb(assignment))

    def Revoke(self, request: pb.RevokeRequest, context: Context) -> pb.RevokeResponse:
        self.permissions.revoke(
            actor_id=mapping.actor_from(request), assignment_id=mapping.uuid_from(request, "assignment_id")
        )
        return pb.RevokeResponse()

    def GetAssignment(self, request: pb.GetAssignmentRequest, context: Context) -> pb.GetAssignmentResponse:
        assignment = self.permissions.get_assignment(assignment_id=mapping.uuid_from(request, "assignment_id"))
        return pb.GetAssignmentResponse(assignment=mapping.assignment_to_pb(assignment))

    def ListAssignments(self, request: pb.ListAssignmentsRequest, context: Context) -> pb.ListAssignmentsResponse:
        return mapping.assignment_page_to_pb(
            self.permissions.list_assignments(**mapping.list_assignments_kwargs(request))
        )

    # Audit.

    def ListAudit(self, request: pb.ListAuditRequest, context: Context) -> pb.ListAuditResponse:
        return mapping.audit_page_to_pb(self.permissions.list_audit(**present(request, "limit", "cursor")))


def register(server: grpc.Server) -> str:
    """Add the permissions servicer to `server` (project.rpc.server.SERVICERS); the gRPC service's name."""
    permissions_pb2_grpc.add_PermissionServiceServicer_to_server(PermissionServicer(), server)
    return pb.DESCRIPTOR.services_by_name["PermissionService"].full_name
