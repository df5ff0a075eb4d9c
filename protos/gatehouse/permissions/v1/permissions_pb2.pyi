import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Permission(_message.Message):
    __slots__ = ("code", "description")
    CODE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    code: str
    description: str
    def __init__(self, code: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class Role(_message.Message):
    __slots__ = ("id", "name", "description", "permissions", "parents", "is_system", "grants_all")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    IS_SYSTEM_FIELD_NUMBER: _ClassVar[int]
    GRANTS_ALL_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    permissions: _containers.RepeatedScalarFieldContainer[str]
    parents: _containers.RepeatedScalarFieldContainer[str]
    is_system: bool
    grants_all: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., permissions: _Optional[_Iterable[str]] = ..., parents: _Optional[_Iterable[str]] = ..., is_system: _Optional[bool] = ..., grants_all: _Optional[bool] = ...) -> None: ...

class Group(_message.Message):
    __slots__ = ("id", "name", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class Assignment(_message.Message):
    __slots__ = ("id", "role_id", "role_name", "user_id", "group_id", "scope", "expires_at", "created_at", "granted_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_NAME_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    GRANTED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    role_id: str
    role_name: str
    user_id: str
    group_id: str
    scope: str
    expires_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    granted_by: str
    def __init__(self, id: _Optional[str] = ..., role_id: _Optional[str] = ..., role_name: _Optional[str] = ..., user_id: _Optional[str] = ..., group_id: _Optional[str] = ..., scope: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., granted_by: _Optional[str] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ("allowed", "user_id", "permission", "scope", "reason", "message", "assignment", "group_id", "role_chain", "roles_granting")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_CHAIN_FIELD_NUMBER: _ClassVar[int]
    ROLES_GRANTING_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    user_id: str
    permission: str
    scope: str
    reason: str
    message: str
    assignment: Assignment
    group_id: str
    role_chain: _containers.RepeatedScalarFieldContainer[str]
    roles_granting: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, allowed: _Optional[bool] = ..., user_id: _Optional[str] = ..., permission: _Optional[str] = ..., scope: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., assignment: _Optional[_Union[Assignment, _Mapping]] = ..., group_id: _Optional[str] = ..., role_chain: _Optional[_Iterable[str]] = ..., roles_granting: _Optional[_Iterable[str]] = ...) -> None: ...

class AuditEntry(_message.Message):
    __slots__ = ("id", "occurred_at", "actor_id", "action", "target_type", "target_id", "before", "after", "request_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    occurred_at: _timestamp_pb2.Timestamp
    actor_id: str
    action: str
    target_type: str
    target_id: str
    before: str
    after: str
    request_id: str
    def __init__(self, id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor_id: _Optional[str] = ..., action: _Optional[str] = ..., target_type: _Optional[str] = ..., target_id: _Optional[str] = ..., before: _Optional[str] = ..., after: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class StringList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class CheckRequest(_message.Message):
    __slots__ = ("user_id", "permission", "scope")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    permission: str
    scope: str
    def __init__(self, user_id: _Optional[str] = ..., permission: _Optional[str] = ..., scope: _Optional[str] = ...) -> None: ...

class CheckResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: bool
    def __init__(self, result: _Optional[bool] = ...) -> None: ...

class PermissionInScope(_message.Message):
    __slots__ = ("permission", "scope")
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    permission: str
    scope: str
    def __init__(self, permission: _Optional[str] = ..., scope: _Optional[str] = ...) -> None: ...

class CheckManyRequest(_message.Message):
    __slots__ = ("user_id", "checks")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    checks: _containers.RepeatedCompositeFieldContainer[PermissionInScope]
    def __init__(self, user_id: _Optional[str] = ..., checks: _Optional[_Iterable[_Union[PermissionInScope, _Mapping]]] = ...) -> None: ...

class CheckManyResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, result: _Optional[_Iterable[bool]] = ...) -> None: ...

class ExplainRequest(_message.Message):
    __slots__ = ("user_id", "permission", "scope")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    permission: str
    scope: str
    def __init__(self, user_id: _Optional[str] = ..., permission: _Optional[str] = ..., scope: _Optional[str] = ...) -> None: ...

class ExplainResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Explanation
    def __init__(self, result: _Optional[_Union[Explanation, _Mapping]] = ...) -> None: ...

class EffectivePermissionsRequest(_message.Message):
    __slots__ = ("user_id", "scope")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    scope: str
    def __init__(self, user_id: _Optional[str] = ..., scope: _Optional[str] = ...) -> None: ...

class EffectivePermissionsResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, result: _Optional[_Iterable[str]] = ...) -> None: ...

class UsersWithPermissionRequest(_message.Message):
    __slots__ = ("permission", "scope")
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    permission: str
    scope: str
    def __init__(self, permission: _Optional[str] = ..., scope: _Optional[str] = ...) -> None: ...

class UsersWithPermissionResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, result: _Optional[_Iterable[str]] = ...) -> None: ...

class UsersWithRoleRequest(_message.Message):
    __slots__ = ("role_id", "scope")
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    role_id: str
    scope: str
    def __init__(self, role_id: _Optional[str] = ..., scope: _Optional[str] = ...) -> None: ...

class UsersWithRoleResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, result: _Optional[_Iterable[str]] = ...) -> None: ...

class ListPermissionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPermissionsResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _containers.RepeatedCompositeFieldContainer[Permission]
    def __init__(self, result: _Optional[_Iterable[_Union[Permission, _Mapping]]] = ...) -> None: ...

class UndeclaredPermissionsRequest(_message.Message):
    __slots__ = ("codes",)
    CODES_FIELD_NUMBER: _ClassVar[int]
    codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, codes: _Optional[_Iterable[str]] = ...) -> None: ...

class UndeclaredPermissionsResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, result: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateRoleRequest(_message.Message):
    __slots__ = ("actor_id", "name", "description", "permissions", "parents")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    actor_id: str
    name: str
    description: str
    permissions: StringList
    parents: StringList
    def __init__(self, actor_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., permissions: _Optional[_Union[StringList, _Mapping]] = ..., parents: _Optional[_Union[StringList, _Mapping]] = ...) -> None: ...

class CreateRoleResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Role
    def __init__(self, result: _Optional[_Union[Role, _Mapping]] = ...) -> None: ...

class GetRoleRequest(_message.Message):
    __slots__ = ("role_id",)
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    role_id: str
    def __init__(self, role_id: _Optional[str] = ...) -> None: ...

class GetRoleResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Role
    def __init__(self, result: _Optional[_Union[Role, _Mapping]] = ...) -> None: ...

class GetRoleByNameRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetRoleByNameResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Role
    def __init__(self, result: _Optional[_Union[Role, _Mapping]] = ...) -> None: ...

class ListRolesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRolesResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _containers.RepeatedCompositeFieldContainer[Role]
    def __init__(self, result: _Optional[_Iterable[_Union[Role, _Mapping]]] = ...) -> None: ...

class UpdateRoleRequest(_message.Message):
    __slots__ = ("actor_id", "role_id", "name", "description", "permissions", "parents")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    actor_id: str
    role_id: str
    name: str
    description: str
    permissions: StringList
    parents: StringList
    def __init__(self, actor_id: _Optional[str] = ..., role_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., permissions: _Optional[_Union[StringList, _Mapping]] = ..., parents: _Optional[_Union[StringList, _Mapping]] = ...) -> None: ...

class UpdateRoleResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Role
    def __init__(self, result: _Optional[_Union[Role, _Mapping]] = ...) -> None: ...

class DeleteRoleRequest(_message.Message):
    __slots__ = ("actor_id", "role_id")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    actor_id: str
    role_id: str
    def __init__(self, actor_id: _Optional[str] = ..., role_id: _Optional[str] = ...) -> None: ...

class DeleteRoleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateGroupRequest(_message.Message):
    __slots__ = ("actor_id", "name", "description")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    actor_id: str
    name: str
    description: str
    def __init__(self, actor_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class CreateGroupResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Group
    def __init__(self, result: _Optional[_Union[Group, _Mapping]] = ...) -> None: ...

class GetGroupRequest(_message.Message):
    __slots__ = ("group_id",)
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    group_id: str
    def __init__(self, group_id: _Optional[str] = ...) -> None: ...

class GetGroupResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Group
    def __init__(self, result: _Optional[_Union[Group, _Mapping]] = ...) -> None: ...

class ListGroupsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListGroupsResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _containers.RepeatedCompositeFieldContainer[Group]
    def __init__(self, result: _Optional[_Iterable[_Union[Group, _Mapping]]] = ...) -> None: ...

class RenameGroupRequest(_message.Message):
    __slots__ = ("actor_id", "group_id", "name")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    actor_id: str
    group_id: str
    name: str
    def __init__(self, actor_id: _Optional[str] = ..., group_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RenameGroupResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Group
    def __init__(self, result: _Optional[_Union[Group, _Mapping]] = ...) -> None: ...

class DeleteGroupRequest(_message.Message):
    __slots__ = ("actor_id", "group_id")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    actor_id: str
    group_id: str
    def __init__(self, actor_id: _Optional[str] = ..., group_id: _Optional[str] = ...) -> None: ...

class DeleteGroupResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GroupMembersRequest(_message.Message):
    __slots__ = ("group_id",)
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    group_id: str
    def __init__(self, group_id: _Optional[str] = ...) -> None: ...

class GroupMembersResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, result: _Optional[_Iterable[str]] = ...) -> None: ...

class UserGroupsRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class UserGroupsResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _containers.RepeatedCompositeFieldContainer[Group]
    def __init__(self, result: _Optional[_Iterable[_Union[Group, _Mapping]]] = ...) -> None: ...

class AddGroupMemberRequest(_message.Message):
    __slots__ = ("actor_id", "group_id", "user_id")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    actor_id: str
    group_id: str
    user_id: str
    def __init__(self, actor_id: _Optional[str] = ..., group_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class AddGroupMemberResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RemoveGroupMemberRequest(_message.Message):
    __slots__ = ("actor_id", "group_id", "user_id")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    actor_id: str
    group_id: str
    user_id: str
    def __init__(self, actor_id: _Optional[str] = ..., group_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class RemoveGroupMemberResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GrantRoleRequest(_message.Message):
    __slots__ = ("actor_id", "role_id", "user_id", "group_id", "scope", "expires_at")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    actor_id: str
    role_id: str
    user_id: str
    group_id: str
    scope: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, actor_id: _Optional[str] = ..., role_id: _Optional[str] = ..., user_id: _Optional[str] = ..., group_id: _Optional[str] = ..., scope: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GrantRoleResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Assignment
    def __init__(self, result: _Optional[_Union[Assignment, _Mapping]] = ...) -> None: ...

class RevokeAssignmentRequest(_message.Message):
    __slots__ = ("actor_id", "assignment_id")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_ID_FIELD_NUMBER: _ClassVar[int]
    actor_id: str
    assignment_id: str
    def __init__(self, actor_id: _Optional[str] = ..., assignment_id: _Optional[str] = ...) -> None: ...

class RevokeAssignmentResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RevokeAssignmentsRequest(_message.Message):
    __slots__ = ("actor_id", "scope", "user_id", "protect_role_id")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PROTECT_ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    actor_id: str
    scope: str
    user_id: str
    protect_role_id: str
    def __init__(self, actor_id: _Optional[str] = ..., scope: _Optional[str] = ..., user_id: _Optional[str] = ..., protect_role_id: _Optional[str] = ...) -> None: ...

class RevokeAssignmentsResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: int
    def __init__(self, result: _Optional[int] = ...) -> None: ...

class ReplaceRoleRequest(_message.Message):
    __slots__ = ("actor_id", "user_id", "scope", "role_id", "replaces", "protect_role_id")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    REPLACES_FIELD_NUMBER: _ClassVar[int]
    PROTECT_ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    actor_id: str
    user_id: str
    scope: str
    role_id: str
    replaces: _containers.RepeatedScalarFieldContainer[str]
    protect_role_id: str
    def __init__(self, actor_id: _Optional[str] = ..., user_id: _Optional[str] = ..., scope: _Optional[str] = ..., role_id: _Optional[str] = ..., replaces: _Optional[_Iterable[str]] = ..., protect_role_id: _Optional[str] = ...) -> None: ...

class ReplaceRoleResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Assignment
    def __init__(self, result: _Optional[_Union[Assignment, _Mapping]] = ...) -> None: ...

class GetAssignmentRequest(_message.Message):
    __slots__ = ("assignment_id",)
    ASSIGNMENT_ID_FIELD_NUMBER: _ClassVar[int]
    assignment_id: str
    def __init__(self, assignment_id: _Optional[str] = ...) -> None: ...

class GetAssignmentResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Assignment
    def __init__(self, result: _Optional[_Union[Assignment, _Mapping]] = ...) -> None: ...

class ListAssignmentsRequest(_message.Message):
    __slots__ = ("user_id", "group_id", "role_id", "limit", "cursor", "scope", "role_ids")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ROLE_IDS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    group_id: str
    role_id: str
    limit: int
    cursor: str
    scope: str
    role_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_id: _Optional[str] = ..., group_id: _Optional[str] = ..., role_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., scope: _Optional[str] = ..., role_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListAssignmentsResponse(_message.Message):
    __slots__ = ("results", "next")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[Assignment]
    next: str
    def __init__(self, results: _Optional[_Iterable[_Union[Assignment, _Mapping]]] = ..., next: _Optional[str] = ...) -> None: ...

class ListAuditRequest(_message.Message):
    __slots__ = ("limit", "cursor")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    limit: int
    cursor: str
    def __init__(self, limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListAuditResponse(_message.Message):
    __slots__ = ("results", "next")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[AuditEntry]
    next: str
    def __init__(self, results: _Optional[_Iterable[_Union[AuditEntry, _Mapping]]] = ..., next: _Optional[str] = ...) -> None: ...
