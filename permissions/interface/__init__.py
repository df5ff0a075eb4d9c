"""The permissions core service (RBAC): the only module other apps may import from `permissions`.

Standard library only. `permission_service` is the configured implementation. Every check,
explanation and listing comes from one engine; every write is audited, emits an `rbac.*` event
and refuses escalation (nobody hands out a permission they do not hold in that scope).

Permission codes are `app.resource.action`. Apps declare theirs with `declare_permissions`; the
registry is synced to the database on every `migrate`.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from project.kernel.delegation import delegate
from project.kernel.errors import Conflict, InvalidArgument, NotFound, PermissionDenied

SERVICE_NAME = "permissions"

# Event types this module produces (docs/events.md); payloads are documented in docs/events.md.
ROLE_CHANGED = "rbac.role_changed"
ASSIGNMENT_GRANTED = "rbac.assignment_granted"
ASSIGNMENT_REVOKED = "rbac.assignment_revoked"
GROUP_CHANGED = "rbac.group_changed"
# A revoke committed while the cache did not answer; its consumer replaces the tokens once it does.
CACHE_INVALIDATION_PENDING = "rbac.cache_invalidation_pending"

ADMIN_ROLE = "admin"
# The org roles (docs/orgs.md), system roles assigned in scope `org:<id>`, shown by
# the orgs API as `owner`, `admin`, `member`. Not the global `admin` role: that one holds every
# permission, and an org admin must hold only what the org gives, so that §3 means something.
ORG_OWNER_ROLE = "org_owner"
ORG_ADMIN_ROLE = "org_admin"
ORG_MEMBER_ROLE = "org_member"
ORG_ROLES = (ORG_OWNER_ROLE, ORG_ADMIN_ROLE, ORG_MEMBER_ROLE)

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50

# --- Permission codes and scopes ---------------------------------------------------------------

PERMISSION_CODE = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")
# A scope is a path of `type:id` segments, outermost first: `org:acme/project:42`.
SCOPE_SEGMENT = re.compile(r"[a-z][a-z0-9_\-]*:[A-Za-z0-9_.@\-]+")
MAX_SCOPE_LENGTH = 500


# --- Data ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Permission:
    code: str
    description: str

    @property
    def app(self) -> str:
        return self.code.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class Role:
    id: uuid.UUID
    name: str
    description: str
    permissions: tuple[str, ...]  # the role's own permission codes, sorted (every code when grants_all)
    parents: tuple[uuid.UUID, ...]  # roles whose permissions this one inherits
    is_system: bool
    grants_all: bool = False  # holds every permission, present and future (the `admin` role)


@dataclass(frozen=True, slots=True)
class Group:
    id: uuid.UUID
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class Assignment:
    id: uuid.UUID
    role_id: uuid.UUID
    role_name: str
    user_id: uuid.UUID | None  # exactly one of user_id and group_id is set
    group_id: uuid.UUID | None
    scope: str | None  # None: global
    expires_at: datetime | None
    created_at: datetime
    granted_by: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class AssignmentPage:
    results: tuple[Assignment, ...]
    next: str | None  # the cursor of the next page; None on the last one


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a check answers as it does.

    `reason` is one of: `granted`; `user_deactivated`; `unknown_permission`; `no_role_grants`
    (no role holds the permission); `not_assigned` (roles hold it, the user has none of them);
    `scope_mismatch` (the user has such a role, but in a scope that does not cover this one: see
    `assignment`); `expired` (a covering assignment of such a role has expired: see `assignment`).
    For `granted`, `assignment` is the assignment that grants it, `group_id` the group it came
    through (None when assigned to the user directly) and `role_chain` the role names from the
    assigned role up its parents to the role that holds the permission itself.
    """

    allowed: bool
    user_id: uuid.UUID
    permission: str
    scope: str | None
    reason: str
    message: str
    assignment: Assignment | None = None
    group_id: uuid.UUID | None = None
    role_chain: tuple[str, ...] = ()
    roles_granting: tuple[str, ...] = field(default=())  # for a deny: the roles that would grant it


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: uuid.UUID
    occurred_at: datetime
    actor_id: uuid.UUID | None  # None: the system (migrations, operators' commands)
    action: str  # e.g. role.created, assignment.granted, group.member_added
    target_type: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None


@dataclass(frozen=True, slots=True)
class AuditPage:
    results: tuple[AuditEntry, ...]
    next: str | None


# --- Errors --------------------------------------------------------------------------------------


class RoleNotFound(NotFound):
    code = "role_not_found"
    default_message = "Role not found."


class GroupNotFound(NotFound):
    code = "group_not_found"
    default_message = "Group not found."


class AssignmentNotFound(NotFound):
    code = "assignment_not_found"
    default_message = "Assignment not found."


class RoleNameTaken(Conflict):
    code = "role_name_taken"
    default_message = "A role with this name already exists."


class GroupNameTaken(Conflict):
    code = "group_name_taken"
    default_message = "A group with this name already exists."


class RoleCycle(Conflict):
    code = "role_cycle"
    default_message = "A role cannot inherit from itself, directly or through its parents."


class SystemRoleProtected(Conflict):
    code = "system_role_protected"
    default_message = "System roles cannot be deleted or changed."


class LastRoleHolder(Conflict):
    code = "last_role_holder"
    default_message = "This would leave the role with no holder in that scope."


class EscalationDenied(PermissionDenied):
    code = "escalation_denied"
    default_message = "You cannot grant a permission you do not hold yourself in that scope."


class InvalidRbacInput(InvalidArgument):
    """Field-level validation failure; `details` maps field names to lists of messages."""


class InvalidScope(InvalidRbacInput):
    default_message = "The scope is not valid."


class UnknownPermission(InvalidRbacInput):
    code = "unknown_permission"
    default_message = "Unknown permission."


def normalise_scope(scope: str | None) -> str | None:
    """`None` for the global scope ('' and '/' too), else the scope with outer slashes stripped.

    Raises InvalidScope unless every segment is `type:id` (`org:acme/project:42`).
    """
    if scope is None:
        return None
    if not isinstance(scope, str):
        raise InvalidScope(details={"scope": ["Must be a string."]})
    scope = scope.strip().strip("/")
    if not scope:
        return None
    if len(scope) > MAX_SCOPE_LENGTH:
        raise InvalidScope(details={"scope": [f"At most {MAX_SCOPE_LENGTH} characters."]})
    if not all(SCOPE_SEGMENT.fullmatch(segment) for segment in scope.split("/")):
        raise InvalidScope(details={"scope": ["Segments are type:id, separated by '/', e.g. org:acme/project:42."]})
    return scope


def scope_prefixes(scope: str | None) -> tuple[str, ...]:
    """The scopes whose assignments hold in `scope`, outermost first; '' stands for global.

    Segment-wise: `org:acme` covers `org:acme/project:42`, never `org:acmex`.
    """
    if not scope:
        return ("",)
    segments = scope.split("/")
    return ("", *("/".join(segments[: i + 1]) for i in range(len(segments))))


def rbac_scope_of(obj: Any) -> str | None:
    """The scope an object lives in, for object-level checks (`user.has_perm(code, obj)`, DRF's
    `has_object_permission`): its `rbac_scope` attribute or property, or the result of calling it
    when it is a method. An object without one (or with None) lives in the global scope, the
    strictest: only global assignments hold there."""
    scope = getattr(obj, "rbac_scope", None)
    return scope() if callable(scope) else scope


# --- The registry of declared permissions --------------------------------------------------------

_registry: dict[str, Permission] = {}
_registry_lock = threading.Lock()


def declare_permissions(app: str, permissions: Mapping[str, str]) -> None:
    """Declare `app`'s permission codes with their descriptions (from the app's `ready()`).

    Codes are `app.resource.action` and must start with `app.`. Declaring a code again replaces
    its description. The registry reaches the database on the next `migrate`.
    """
    bad = sorted(code for code in permissions if not PERMISSION_CODE.fullmatch(code) or not code.startswith(f"{app}."))
    if bad:
        raise ValueError(f"permission codes of {app!r} must be {app}.resource.action: {bad}")
    with _registry_lock:
        for code, description in permissions.items():
            _registry[code] = Permission(code=code, description=str(description))


def declared_permissions() -> dict[str, Permission]:
    """Every declared permission by code."""
    with _registry_lock:
        return dict(_registry)


def undeclare_permissions(codes: Iterable[str]) -> None:
    """Remove codes from the registry (tests that declare their own)."""
    with _registry_lock:
        for code in codes:
            _registry.pop(code, None)


# --- The service ---------------------------------------------------------------------------------


class PermissionService(Protocol):
    # Checks. None of these raise for an unknown user or permission: they answer False / nothing.

    def check(self, *, user_id: uuid.UUID, permission: str, scope: str | None = None) -> bool:
        """Whether the user holds `permission` in `scope` (None: globally).

        Held when an unexpired assignment of a role to the user, or to a group the user is in,
        has the global scope or a scope that is a segment-wise prefix of `scope`, and the role or
        one of its ancestors holds the permission. A deactivated user holds nothing.
        Raises InvalidScope.
        """
        ...

    def check_many(self, *, user_id: uuid.UUID, checks: list[tuple[str, str | None]]) -> list[bool]:
        """`check` for each `(permission, scope)` pair, answers in the same order. Raises InvalidScope."""
        ...

    def explain(self, *, user_id: uuid.UUID, permission: str, scope: str | None = None) -> Explanation:
        """Why `check` answers as it does: the granting chain, or the closest missing link.
        Raises InvalidScope."""
        ...

    def effective_permissions(self, *, user_id: uuid.UUID, scope: str | None = None) -> frozenset[str]:
        """Every permission the user holds in `scope`. Raises InvalidScope."""
        ...

    def users_with_permission(self, *, permission: str, scope: str | None = None) -> list[uuid.UUID]:
        """The active users for whom `check(permission, scope)` is True, sorted. Raises InvalidScope."""
        ...

    def users_with_role(self, *, role_id: uuid.UUID, scope: str | None = None) -> list[uuid.UUID]:
        """The active users who hold the role itself in `scope` (None: globally), sorted: assigned
        it directly or through a group, unexpired, in the global scope or one that covers `scope`.
        Roles that inherit from it do not count. Raises RoleNotFound, InvalidScope."""
        ...

    # The registry.

    def list_permissions(self) -> list[Permission]:
        """The registry as synced to the database, sorted by code."""
        ...

    def undeclared_permissions(self, *, codes: list[str]) -> list[str]:
        """The codes of `codes` that no permission of the registry has, each once, in the order
        given: what tells a check of a mistyped or removed code from a denial without reading the
        whole registry."""
        ...

    # Roles. `actor_id` is who acts (None: the system itself); it is audited and checked for escalation.

    def create_role(
        self,
        *,
        actor_id: uuid.UUID | None,
        name: str,
        description: str = "",
        permissions: list[str] | None = None,
        parents: list[uuid.UUID] | None = None,
    ) -> Role:
        """Create a role. The actor must hold, globally, every permission it would hold.
        Raises InvalidRbacInput (also for a parent that does not exist), UnknownPermission,
        RoleNameTaken, EscalationDenied."""
        ...

    def get_role(self, *, role_id: uuid.UUID) -> Role:
        """Raises RoleNotFound."""
        ...

    def get_role_by_name(self, *, name: str) -> Role:
        """Raises RoleNotFound."""
        ...

    def list_roles(self) -> list[Role]:
        """Every role, sorted by name."""
        ...

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
        """Change the given fields (None leaves one as it is). The actor must hold, globally,
        every permission the change adds to the role (its own or inherited). Raises RoleNotFound,
        RoleCycle, SystemRoleProtected (name, permissions or parents of a system role),
        UnknownPermission, RoleNameTaken, EscalationDenied."""
        ...

    def delete_role(self, *, actor_id: uuid.UUID | None, role_id: uuid.UUID) -> None:
        """Delete a role with its assignments; children lose it as a parent.
        Raises RoleNotFound, SystemRoleProtected."""
        ...

    # Groups.

    def create_group(self, *, actor_id: uuid.UUID | None, name: str, description: str = "") -> Group:
        """Raises InvalidRbacInput, GroupNameTaken."""
        ...

    def get_group(self, *, group_id: uuid.UUID) -> Group:
        """Raises GroupNotFound."""
        ...

    def list_groups(self) -> list[Group]:
        """Every group, sorted by name."""
        ...

    def rename_group(self, *, actor_id: uuid.UUID | None, group_id: uuid.UUID, name: str) -> Group:
        """Give the group a new name (audited; `rbac.group_changed` with change "renamed").
        Raises GroupNotFound, InvalidRbacInput, GroupNameTaken."""
        ...

    def delete_group(self, *, actor_id: uuid.UUID | None, group_id: uuid.UUID) -> None:
        """Delete a group with its memberships and assignments. Raises GroupNotFound."""
        ...

    def group_members(self, *, group_id: uuid.UUID) -> list[uuid.UUID]:
        """The user ids in the group, sorted. Raises GroupNotFound."""
        ...

    def user_groups(self, *, user_id: uuid.UUID) -> list[Group]:
        """The groups the user is a member of, sorted by name (none for an unknown user)."""
        ...

    def add_group_member(self, *, actor_id: uuid.UUID | None, group_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """Put a user in a group (idempotent). The user gains the group's roles, so the actor
        must hold every permission they carry in each of their scopes. Raises UserNotFound (from
        `users.interface`) for a user the users service does not know or has deactivated,
        GroupNotFound, EscalationDenied."""
        ...

    def remove_group_member(self, *, actor_id: uuid.UUID | None, group_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """Take a user out of a group (idempotent). Once it returns, no check answers with what
        the membership granted. Raises GroupNotFound."""
        ...

    # Assignments.

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
        """Assign a role to a user or a group (exactly one), globally or in `scope`, until
        `expires_at` if given. The actor must hold every permission of the role in that scope.
        Raises UserNotFound (from `users.interface`) for a user the users service does not know or
        has deactivated, RoleNotFound, GroupNotFound, InvalidScope, InvalidRbacInput,
        EscalationDenied."""
        ...

    def revoke_assignment(self, *, actor_id: uuid.UUID | None, assignment_id: uuid.UUID) -> None:
        """Remove an assignment. Once it returns, no check anywhere answers with what it granted.
        Raises AssignmentNotFound."""
        ...

    def revoke_assignments(
        self,
        *,
        actor_id: uuid.UUID | None,
        scope: str,
        user_id: uuid.UUID | None = None,
        protect_role_id: uuid.UUID | None = None,
    ) -> int:
        """Remove, in one transaction, every assignment in `scope` and the scopes below it (all
        subjects', or only the user's own when `user_id` is given); returns how many. With
        `protect_role_id`, refuses (LastRoleHolder, nothing removed) when that would leave no
        user holding that role in exactly `scope`. Once it returns, no check anywhere answers
        with what they granted. Raises InvalidScope (also for the global scope), LastRoleHolder."""
        ...

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
        """In one transaction: grant the user `role_id` in exactly `scope` (checked for
        escalation like grant_role) and revoke the user's assignments there of the roles in
        `replaces`; the new assignment keeps the earliest `created_at` of those it replaces. With
        `protect_role_id`, refuses (LastRoleHolder, nothing changed) when that would leave no user
        holding that role in `scope`. Raises UserNotFound, RoleNotFound, InvalidScope,
        EscalationDenied, LastRoleHolder."""
        ...

    def get_assignment(self, *, assignment_id: uuid.UUID) -> Assignment:
        """Raises AssignmentNotFound."""
        ...

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
        """A page of assignments (expired ones too), newest first, filtered by the arguments given
        (`scope`: assignments in exactly that scope; `role_ids`: of any of these roles).

        Keyset-paged: pass the page's `next` as `cursor` for the one after it; assignments granted
        meanwhile never shift a page. Raises InvalidRbacInput for a bad limit or cursor."""
        ...

    # Audit.

    def list_audit(self, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None) -> AuditPage:
        """The audit log, newest first. Raises InvalidRbacInput for a bad limit or cursor."""
        ...


permission_service: PermissionService = delegate(SERVICE_NAME, PermissionService)


def all_assignments(
    *, user_id: uuid.UUID | None = None, group_id: uuid.UUID | None = None, role_id: uuid.UUID | None = None
) -> list[Assignment]:
    """Every assignment that `list_assignments` would page through with these filters, newest first."""
    assignments: list[Assignment] = []
    cursor: str | None = None
    while True:
        page = permission_service.list_assignments(
            user_id=user_id, group_id=group_id, role_id=role_id, limit=MAX_PAGE_SIZE, cursor=cursor
        )
        assignments.extend(page.results)
        if page.next is None:
            return assignments
        cursor = page.next


__all__ = [
    "ADMIN_ROLE",
    "ASSIGNMENT_GRANTED",
    "ASSIGNMENT_REVOKED",
    "DEFAULT_PAGE_SIZE",
    "GROUP_CHANGED",
    "MAX_PAGE_SIZE",
    "ORG_ADMIN_ROLE",
    "ORG_MEMBER_ROLE",
    "ORG_OWNER_ROLE",
    "ORG_ROLES",
    "ROLE_CHANGED",
    "SERVICE_NAME",
    "Assignment",
    "AssignmentNotFound",
    "AssignmentPage",
    "AuditEntry",
    "AuditPage",
    "EscalationDenied",
    "Explanation",
    "Group",
    "GroupNameTaken",
    "GroupNotFound",
    "InvalidRbacInput",
    "InvalidScope",
    "LastRoleHolder",
    "Permission",
    "PermissionService",
    "Role",
    "RoleCycle",
    "RoleNameTaken",
    "RoleNotFound",
    "SystemRoleProtected",
    "UnknownPermission",
    "all_assignments",
    "declare_permissions",
    "declared_permissions",
    "normalise_scope",
    "permission_service",
    "rbac_scope_of",
    "scope_prefixes",
    "undeclare_permissions",
]
