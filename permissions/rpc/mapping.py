"""permissions.interface data objects <-> gatehouse.permissions.v1 messages, for the client and the
servicer.

Errors need no mapping here: project.rpc.errors carries every DomainError by its kind.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from google.protobuf.message import Message

from permissions.interface import (
    Assignment,
    AssignmentPage,
    AuditEntry,
    AuditPage,
    Explanation,
    Group,
    InvalidRbacInput,
    Permission,
    Role,
)
from project.rpc.messages import from_timestamp, int32, optional, present, timestamp, without_none
from protos.gatehouse.permissions.v1 import permissions_pb2 as pb


def _str(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _uuid_or_none(message: Message, field: str) -> uuid.UUID | None:
    # Replies: the server wrote these, so a bad one is a bug, not bad input.
    return uuid.UUID(getattr(message, field)) if message.HasField(field) else None


def _time_or_none(message: Message, field: str) -> datetime | None:
    return from_timestamp(getattr(message, field)) if message.HasField(field) else None


# --- data objects ------------------------------------------------------------------------------------


def permission_to_pb(permission: Permission) -> pb.Permission:
    return pb.Permission(code=permission.code, description=permission.description)


def permission_from_pb(message: pb.Permission) -> Permission:
    return Permission(code=message.code, description=message.description)


def role_to_pb(role: Role) -> pb.Role:
    return pb.Role(
        id=str(role.id),
        name=role.name,
        description=role.description,
        permissions=list(role.permissions),
        parents=[str(parent) for parent in role.parents],
        is_system=role.is_system,
        grants_all=role.grants_all,
    )


def role_from_pb(message: pb.Role) -> Role:
    return Role(
        id=uuid.UUID(message.id),
        name=message.name,
        description=message.description,
        permissions=tuple(message.permissions),
        parents=tuple(uuid.UUID(parent) for parent in message.parents),
        is_system=message.is_system,
        grants_all=message.grants_all,
    )


def group_to_pb(group: Group) -> pb.Group:
    return pb.Group(id=str(group.id), name=group.name, description=group.description)


def group_from_pb(message: pb.Group) -> Group:
    return Group(id=uuid.UUID(message.id), name=message.name, description=message.description)


def assignment_to_pb(assignment: Assignment) -> pb.Assignment:
    return pb.Assignment(
        id=str(assignment.id),
        role_id=str(assignment.role_id),
        role_name=assignment.role_name,
        created_at=timestamp(assignment.created_at),
        expires_at=None if assignment.expires_at is None else timestamp(assignment.expires_at),
        **without_none(
            user_id=_str(assignment.user_id),
            group_id=_str(assignment.group_id),
            scope=assignment.scope,
            granted_by=_str(assignment.granted_by),
        ),
    )


def assignment_from_pb(message: pb.Assignment) -> Assignment:
    return Assignment(
        id=uuid.UUID(message.id),
        role_id=uuid.UUID(message.role_id),
        role_name=message.role_name,
        user_id=_uuid_or_none(message, "user_id"),
        group_id=_uuid_or_none(message, "group_id"),
        scope=optional(message, "scope"),
        expires_at=_time_or_none(message, "expires_at"),
        created_at=from_timestamp(message.created_at),
        granted_by=_uuid_or_none(message, "granted_by"),
    )


def assignment_page_to_pb(page: AssignmentPage) -> pb.ListAssignmentsResponse:
    return pb.ListAssignmentsResponse(
        results=[assignment_to_pb(assignment) for assignment in page.results], **without_none(next=page.next)
    )


def assignment_page_from_pb(message: pb.ListAssignmentsResponse) -> AssignmentPage:
    return AssignmentPage(
        results=tuple(assignment_from_pb(assignment) for assignment in message.results),
        next=optional(message, "next"),
    )


def explanation_to_pb(explanation: Explanation) -> pb.Explanation:
    return pb.Explanation(
        allowed=explanation.allowed,
        user_id=str(explanation.user_id),
        permission=explanation.permission,
        reason=explanation.reason,
        message=explanation.message,
        assignment=None if explanation.assignment is None else assignment_to_pb(explanation.assignment),
        role_chain=list(explanation.role_chain),
        roles_granting=list(explanation.roles_granting),
        **without_none(scope=explanation.scope, group_id=_str(explanation.group_id)),
    )


def explanation_from_pb(message: pb.Explanation) -> Explanation:
    return Explanation(
        allowed=message.allowed,
        user_id=uuid.UUID(message.user_id),
        permission=message.permission,
        scope=optional(message, "scope"),
        reason=message.reason,
        message=message.message,
        assignment=assignment_from_pb(message.assignment) if message.HasField("assignment") else None,
        group_id=_uuid_or_none(message, "group_id"),
        role_chain=tuple(message.role_chain),
        roles_granting=tuple(message.roles_granting),
    )


def _json_or_none(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)


def audit_entry_to_pb(entry: AuditEntry) -> pb.AuditEntry:
    return pb.AuditEntry(
        id=str(entry.id),
        occurred_at=timestamp(entry.occurred_at),
        action=entry.action,
        target_type=entry.target_type,
        target_id=entry.target_id,
        **without_none(
            actor_id=_str(entry.actor_id),
            before_json=_json_or_none(entry.before),
            after_json=_json_or_none(entry.after),
            request_id=entry.request_id,
        ),
    )


def audit_entry_from_pb(message: pb.AuditEntry) -> AuditEntry:
    before, after = optional(message, "before_json"), optional(message, "after_json")
    return AuditEntry(
        id=uuid.UUID(message.id),
        occurred_at=from_timestamp(message.occurred_at),
        actor_id=_uuid_or_none(message, "actor_id"),
        action=message.action,
        target_type=message.target_type,
        target_id=message.target_id,
        before=None if before is None else json.loads(before),
        after=None if after is None else json.loads(after),
        request_id=optional(message, "request_id"),
    )


def audit_page_to_pb(page: AuditPage) -> pb.ListAuditResponse:
    return pb.ListAuditResponse(
        results=[audit_entry_to_pb(entry) for entry in page.results], **without_none(next=page.next)
    )


def audit_page_from_pb(message: pb.ListAuditResponse) -> AuditPage:
    return AuditPage(
        results=tuple(audit_entry_from_pb(entry) for entry in message.results), next=optional(message, "next")
    )


# --- client side: keyword arguments of the interface -> request ------------------------------------


def string_list(values: list[Any] | None) -> pb.StringList | None:
    """None stays unset ("not given"); a list, empty or not, is sent."""
    return None if values is None else pb.StringList(values=[str(value) for value in values])


def expires_at_to_pb(expires_at: datetime | None):
    if expires_at is None:
        return None
    # A Timestamp is an instant: a naive time would be read in this process's zone. The service
    # refuses it in process; so does its client, with the same error.
    if expires_at.tzinfo is None or expires_at.utcoffset() is None:
        raise InvalidRbacInput("expires_at needs a time zone.", details={"expires_at": ["Give a time zone."]})
    return timestamp(expires_at)


def page_limit(limit: int) -> int:
    return int32(limit)


# --- servicer side: request -> keyword arguments of the interface ----------------------------------


def uuid_from(request: Message, field: str) -> uuid.UUID:
    """The UUID in `request.<field>`. Python callers send canonical UUIDs; a caller in another
    language may send anything, and gets INVALID_ARGUMENT for it rather than an internal error."""
    try:
        return uuid.UUID(getattr(request, field))
    except ValueError:
        raise InvalidRbacInput(f"{field} is not a valid UUID.", details={field: ["Must be a UUID."]}) from None


def optional_uuid_from(request: Message, field: str) -> uuid.UUID | None:
    return uuid_from(request, field) if request.HasField(field) else None


def uuids_from(values: Any, field: str) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(value) for value in values]
    except ValueError:
        raise InvalidRbacInput(f"{field} holds an invalid UUID.", details={field: ["Must be UUIDs."]}) from None


def actor_from(request: Message) -> uuid.UUID | None:
    return optional_uuid_from(request, "actor_id")


def role_fields_from(request: pb.CreateRoleRequest | pb.UpdateRoleRequest) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if request.HasField("permissions"):
        fields["permissions"] = list(request.permissions.values)
    if request.HasField("parents"):
        fields["parents"] = uuids_from(request.parents.values, "parents")
    return fields


def create_role_kwargs(request: pb.CreateRoleRequest) -> dict[str, Any]:
    return {
        "actor_id": actor_from(request),
        "name": request.name,
        "description": request.description,
        **role_fields_from(request),
    }


def update_role_kwargs(request: pb.UpdateRoleRequest) -> dict[str, Any]:
    return {
        "actor_id": actor_from(request),
        "role_id": uuid_from(request, "role_id"),
        **present(request, "name", "description"),
        **role_fields_from(request),
    }


def grant_kwargs(request: pb.GrantRequest) -> dict[str, Any]:
    return {
        "actor_id": actor_from(request),
        "role_id": uuid_from(request, "role_id"),
        "user_id": optional_uuid_from(request, "user_id"),
        "group_id": optional_uuid_from(request, "group_id"),
        "scope": optional(request, "scope"),
        "expires_at": _time_or_none(request, "expires_at"),
    }


def list_assignments_kwargs(request: pb.ListAssignmentsRequest) -> dict[str, Any]:
    return {
        "user_id": optional_uuid_from(request, "user_id"),
        "group_id": optional_uuid_from(request, "group_id"),
        "role_id": optional_uuid_from(request, "role_id"),
        **present(request, "limit", "cursor"),
    }
