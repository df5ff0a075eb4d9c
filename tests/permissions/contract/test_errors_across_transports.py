"""The same failing call raises equal errors — same class, code, message and details — whether
the implementation is in process or across gRPC, and changes nothing either way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from permissions.interface import (
    ADMIN_ROLE,
    AssignmentNotFound,
    EscalationDenied,
    GroupNameTaken,
    GroupNotFound,
    InvalidRbacInput,
    InvalidScope,
    RoleCycle,
    RoleNameTaken,
    RoleNotFound,
    SystemRoleProtected,
    UnknownPermission,
)
from tests.support.rbac import new_user
from users.interface import UserNotFound, user_service

MISSING = uuid.UUID("00000000-0000-4000-8000-000000000000")
NOBODY = uuid.UUID("00000000-0000-4000-8000-0000000000aa")  # an actor who holds nothing


def user(email: str) -> uuid.UUID:
    """A real user, made on first use: grants and memberships of anyone else are refused."""
    try:
        return user_service.get_user_by_email(email=email).id
    except UserNotFound:
        return new_user(email=email)


def reader() -> uuid.UUID:
    return user("reader@example.com")  # holds reader in org:acme


def someone() -> uuid.UUID:
    return user("someone@example.com")


def setup(perms):
    role = perms.create_role(actor_id=None, name="reader", permissions=["docs.page.read"])
    perms.create_role(actor_id=None, name="editor", permissions=["docs.page.write"], parents=[role.id])
    perms.create_group(actor_id=None, name="staff")
    perms.grant_role(actor_id=None, role_id=role.id, user_id=reader(), scope="org:acme")
    new_user(email="gone@example.com", active=False)


def role(perms, name):
    return perms.get_role_by_name(name=name).id


def group(perms):
    return perms.list_groups()[0].id


FAILING_CALLS = {
    "cycle": (
        RoleCycle,
        lambda p: p.update_role(actor_id=None, role_id=role(p, "reader"), parents=[role(p, "editor")]),
    ),
    "self parent": (
        RoleCycle,
        lambda p: p.update_role(actor_id=None, role_id=role(p, "reader"), parents=[role(p, "reader")]),
    ),
    "delete system role": (SystemRoleProtected, lambda p: p.delete_role(actor_id=None, role_id=role(p, ADMIN_ROLE))),
    "change system role": (
        SystemRoleProtected,
        lambda p: p.update_role(actor_id=None, role_id=role(p, ADMIN_ROLE), name="root"),
    ),
    "escalating create": (
        EscalationDenied,
        lambda p: p.create_role(actor_id=NOBODY, name="mine", permissions=["docs.page.read"]),
    ),
    "escalating update": (
        EscalationDenied,
        lambda p: p.update_role(actor_id=reader(), role_id=role(p, "reader"), permissions=["billing.invoice.pay"]),
    ),
    "escalating grant": (
        EscalationDenied,
        lambda p: p.grant_role(actor_id=reader(), role_id=role(p, "editor"), user_id=someone(), scope="org:acme"),
    ),
    "grant outside own scope": (
        EscalationDenied,
        lambda p: p.grant_role(actor_id=reader(), role_id=role(p, "reader"), user_id=someone(), scope="org:other"),
    ),
    "escalating membership": (
        EscalationDenied,
        lambda p: p.add_group_member(actor_id=NOBODY, group_id=_group_with_grant(p), user_id=someone()),
    ),
    "role name taken": (RoleNameTaken, lambda p: p.create_role(actor_id=None, name="reader")),
    "rename to taken": (
        RoleNameTaken,
        lambda p: p.update_role(actor_id=None, role_id=role(p, "editor"), name="reader"),
    ),
    "empty role name": (InvalidRbacInput, lambda p: p.create_role(actor_id=None, name=" ")),
    "unknown permission": (
        UnknownPermission,
        lambda p: p.create_role(actor_id=None, name="x", permissions=["docs.page.fly"]),
    ),
    "unknown parent": (InvalidRbacInput, lambda p: p.create_role(actor_id=None, name="x", parents=[MISSING])),
    "get unknown role": (RoleNotFound, lambda p: p.get_role(role_id=MISSING)),
    "unknown role name": (RoleNotFound, lambda p: p.get_role_by_name(name="nope")),
    "delete unknown role": (RoleNotFound, lambda p: p.delete_role(actor_id=None, role_id=MISSING)),
    "group name taken": (GroupNameTaken, lambda p: p.create_group(actor_id=None, name="staff")),
    "get unknown group": (GroupNotFound, lambda p: p.get_group(group_id=MISSING)),
    "members of unknown group": (GroupNotFound, lambda p: p.group_members(group_id=MISSING)),
    "join unknown group": (
        GroupNotFound,
        lambda p: p.add_group_member(actor_id=None, group_id=MISSING, user_id=someone()),
    ),
    "grant to unknown user": (
        UserNotFound,
        lambda p: p.grant_role(actor_id=None, role_id=role(p, "reader"), user_id=MISSING),
    ),
    "grant to deactivated user": (
        UserNotFound,
        lambda p: p.grant_role(actor_id=None, role_id=role(p, "reader"), user_id=user("gone@example.com")),
    ),
    "unknown user joins": (
        UserNotFound,
        lambda p: p.add_group_member(actor_id=None, group_id=group(p), user_id=MISSING),
    ),
    "deactivated user joins": (
        UserNotFound,
        lambda p: p.add_group_member(actor_id=None, group_id=group(p), user_id=user("gone@example.com")),
    ),
    "grant unknown role": (RoleNotFound, lambda p: p.grant_role(actor_id=None, role_id=MISSING, user_id=someone())),
    "grant to unknown group": (
        GroupNotFound,
        lambda p: p.grant_role(actor_id=None, role_id=role(p, "reader"), group_id=MISSING),
    ),
    "grant to both": (
        InvalidRbacInput,
        lambda p: p.grant_role(actor_id=None, role_id=role(p, "reader"), user_id=someone(), group_id=group(p)),
    ),
    "grant to nobody": (InvalidRbacInput, lambda p: p.grant_role(actor_id=None, role_id=role(p, "reader"))),
    "grant in bad scope": (
        InvalidScope,
        lambda p: p.grant_role(actor_id=None, role_id=role(p, "reader"), user_id=someone(), scope="acme"),
    ),
    "grant expired": (
        InvalidRbacInput,
        lambda p: p.grant_role(
            actor_id=None,
            role_id=role(p, "reader"),
            user_id=someone(),
            expires_at=datetime.now(UTC) - timedelta(minutes=1),
        ),
    ),
    "grant with naive expiry": (
        InvalidRbacInput,
        lambda p: p.grant_role(
            actor_id=None, role_id=role(p, "reader"), user_id=someone(), expires_at=datetime(2999, 1, 1)
        ),
    ),
    "revoke unknown": (AssignmentNotFound, lambda p: p.revoke_assignment(actor_id=None, assignment_id=MISSING)),
    "get unknown assignment": (AssignmentNotFound, lambda p: p.get_assignment(assignment_id=MISSING)),
    "assignments bad limit": (InvalidRbacInput, lambda p: p.list_assignments(limit=0)),
    "assignments huge limit": (InvalidRbacInput, lambda p: p.list_assignments(limit=10**12)),
    "assignments bad cursor": (InvalidRbacInput, lambda p: p.list_assignments(cursor="not-a-cursor")),
    "audit bad limit": (InvalidRbacInput, lambda p: p.list_audit(limit=201)),
    "audit bad cursor": (InvalidRbacInput, lambda p: p.list_audit(cursor="eyJ4Ijp9")),
    "check in bad scope": (
        InvalidScope,
        lambda p: p.check(user_id=reader(), permission="docs.page.read", scope="org:acme//p:1"),
    ),
}


def _group_with_grant(perms) -> uuid.UUID:
    staff = group(perms)
    if not perms.list_assignments(group_id=staff).results:
        perms.grant_role(actor_id=None, role_id=role(perms, "reader"), group_id=staff)
    return staff


def _raised(call, perms) -> Exception:
    with pytest.raises(Exception) as caught:
        call(perms)
    return caught.value


def _state(perms):
    return (
        perms.list_roles(),
        perms.list_groups(),
        {g.id: perms.group_members(group_id=g.id) for g in perms.list_groups()},
        perms.list_assignments(limit=200),
        perms.list_audit(limit=200),
    )


@pytest.mark.parametrize(("expected", "call"), FAILING_CALLS.values(), ids=FAILING_CALLS.keys())
def test_a_failing_call_raises_equal_errors_in_process_and_over_grpc(both, expected, call):
    local, remote = both
    setup(remote)  # through the server, so that its cache has seen every write (see conftest)
    _group_with_grant(remote)
    before = _state(remote)
    remote_error, local_error = _raised(call, remote), _raised(call, local)
    assert type(local_error) is expected
    assert type(remote_error) is type(local_error)
    assert remote_error == local_error
    assert (remote_error.code, remote_error.message, remote_error.details) == (
        local_error.code,
        local_error.message,
        local_error.details,
    )
    assert _state(local) == _state(remote) == before
