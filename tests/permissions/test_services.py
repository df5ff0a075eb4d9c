"""Writes: validation, system roles, cycles, escalation, the audit log and the rbac.* events."""

from datetime import timedelta

import pytest
from django.utils import timezone

from permissions.core import selectors, services
from permissions.interface import (
    ADMIN_ROLE,
    ASSIGNMENT_GRANTED,
    ASSIGNMENT_REVOKED,
    GROUP_CHANGED,
    ROLE_CHANGED,
    AssignmentNotFound,
    EscalationDenied,
    GroupNotFound,
    InvalidRbacInput,
    InvalidScope,
    RoleCycle,
    RoleNameTaken,
    RoleNotFound,
    SystemRoleProtected,
    UnknownPermission,
)
from permissions.models import Assignment, AuditEntry, GroupMembership, Role
from project.events.models import OutboxEvent
from project.kernel.context import request_id_scope
from tests.support.rbac import new_user

from .conftest import grant, role

pytestmark = pytest.mark.django_db


def events(type_):
    return [e.payload for e in OutboxEvent.objects.filter(type=type_).order_by("occurred_at", "seq")]


def audit(action):
    return list(AuditEntry.objects.filter(action=action).order_by("occurred_at"))


@pytest.fixture
def manager(codes):
    """A user holding the docs permissions and RBAC management in org:acme only."""
    user = new_user()
    docs = role("docs-manager", ["docs.page.read", "docs.page.write", "rbac.assignment.manage"])
    grant(docs, user_id=user, scope="org:acme")
    return user


# --- Roles ---------------------------------------------------------------------------------------


def test_a_role_is_created_audited_and_announced(codes):
    actor = new_user()
    grant(Role.objects.get(name=ADMIN_ROLE), user_id=actor)
    with request_id_scope("req-role-create-1"):
        reader = role("reader", ["docs.page.read"], actor_id=actor)
    [entry] = audit("role.created")
    assert (entry.actor_id, entry.target_id, entry.request_id) == (actor, str(reader.id), "req-role-create-1")
    assert entry.after["permissions"] == ["docs.page.read"] and entry.before is None
    assert events(ROLE_CHANGED)[-1] == {"role_id": str(reader.id), "name": "reader", "change": "created"}


def test_a_role_with_an_unknown_permission_or_a_taken_name_is_refused_and_nothing_changes(codes):
    role("reader", ["docs.page.read"])
    with pytest.raises(UnknownPermission) as caught:
        role("writer", ["docs.page.write", "docs.page.fly"])
    assert caught.value.details == {"permissions": ["Unknown permission: docs.page.fly"]}
    with pytest.raises(RoleNameTaken):
        role("reader")
    with pytest.raises(InvalidRbacInput) as caught:
        role("  ")
    assert "name" in caught.value.details
    assert not Role.objects.filter(name="writer").exists()
    assert len(audit("role.created")) == 1


def test_a_role_cannot_become_its_own_ancestor(codes):
    a = role("a")
    b = role("b", parents=[a])
    c = role("c", parents=[b])
    for child, parent in [(a, c), (a, a), (b, c)]:
        with pytest.raises(RoleCycle):
            services.update_role(actor_id=None, role_id=child.id, parents=[parent.id])
    assert list(a.parents.all()) == []
    assert not audit("role.updated")


def test_a_system_role_cannot_be_deleted_or_changed_but_may_be_described(codes):
    admin = Role.objects.get(name=ADMIN_ROLE)
    with pytest.raises(SystemRoleProtected):
        services.delete_role(actor_id=None, role_id=admin.id)
    for change in [{"name": "root"}, {"permissions": ["docs.page.read"]}, {"parents": [role("x").id]}]:
        with pytest.raises(SystemRoleProtected):
            services.update_role(actor_id=None, role_id=admin.id, **change)
    services.update_role(actor_id=None, role_id=admin.id, description="Everything.")
    admin.refresh_from_db()
    assert (admin.name, admin.grants_all, admin.description) == (ADMIN_ROLE, True, "Everything.")


def test_deleting_a_role_removes_its_assignments_and_is_audited(codes):
    reader = role("reader", ["docs.page.read"])
    grant(reader, user_id=new_user())
    services.delete_role(actor_id=None, role_id=reader.id)
    assert not Assignment.objects.exists()
    [entry] = audit("role.deleted")
    assert entry.before["assignments"] == 1 and entry.after is None
    assert events(ROLE_CHANGED)[-1]["change"] == "deleted"
    with pytest.raises(RoleNotFound):
        services.delete_role(actor_id=None, role_id=reader.id)


# --- Escalation ----------------------------------------------------------------------------------


def test_nobody_grants_a_role_holding_a_permission_they_lack_in_that_scope(manager):
    writer = role("writer", ["docs.page.write"])
    deleter = role("deleter", ["docs.page.delete"])
    grant(writer, user_id=new_user(), scope="org:acme/project:1", actor_id=manager)  # held there: fine
    with pytest.raises(EscalationDenied) as caught:
        grant(writer, user_id=new_user(), scope="org:other", actor_id=manager)
    assert caught.value.code == "escalation_denied"
    assert caught.value.details == {"missing_permissions": ["docs.page.write"], "scope": "org:other"}
    with pytest.raises(EscalationDenied):
        grant(writer, user_id=new_user(), actor_id=manager)  # globally: not held globally
    with pytest.raises(EscalationDenied):
        grant(deleter, user_id=new_user(), scope="org:acme", actor_id=manager)
    with pytest.raises(EscalationDenied):
        grant(Role.objects.get(name=ADMIN_ROLE), user_id=manager, scope="org:acme", actor_id=manager)
    assert Assignment.objects.filter(granted_by=manager).count() == 1


def test_nobody_edits_a_role_to_hold_a_permission_they_lack(manager, codes):
    admin = new_user()
    grant(Role.objects.get(name=ADMIN_ROLE), user_id=admin)
    holder = new_user()
    reader = role("reader", ["docs.page.read"])
    grant(reader, user_id=holder)
    # The manager holds docs.page.write only in org:acme; roles are global, so that is not enough.
    with pytest.raises(EscalationDenied):
        services.update_role(actor_id=manager, role_id=reader.id, permissions=["docs.page.read", "docs.page.write"])
    with pytest.raises(EscalationDenied):
        services.update_role(actor_id=manager, role_id=reader.id, parents=[Role.objects.get(name=ADMIN_ROLE).id])
    with pytest.raises(EscalationDenied):
        role("mine", ["docs.page.read"], actor_id=manager)
    assert not selectors.check(user_id=holder, permission="docs.page.write")
    services.update_role(actor_id=admin, role_id=reader.id, permissions=["docs.page.read", "docs.page.write"])
    assert selectors.check(user_id=holder, permission="docs.page.write")
    # Taking away, or keeping what is there, needs nothing held.
    services.update_role(actor_id=manager, role_id=reader.id, description="Reads.", permissions=["docs.page.write"])


def test_adding_a_member_to_a_group_needs_what_the_group_carries(manager):
    group = services.create_group(actor_id=None, name="staff")
    grant(role("deleter", ["docs.page.delete"]), group=group, scope="org:acme")
    with pytest.raises(EscalationDenied):
        services.add_group_member(actor_id=manager, group_id=group.id, user_id=new_user())
    assert not GroupMembership.objects.exists()


def test_a_deactivated_actor_grants_nothing(manager):
    writer = role("writer", ["docs.page.write"])
    services.user_deactivation_record(user_id=manager)
    with pytest.raises(EscalationDenied):
        grant(writer, user_id=new_user(), scope="org:acme", actor_id=manager)


# --- Assignments and groups ----------------------------------------------------------------------


def test_a_grant_and_its_revoke_are_audited_and_announced(codes):
    reader = role("reader", ["docs.page.read"])
    user = new_user()
    expires = timezone.now() + timedelta(days=1)
    assignment = grant(reader, user_id=user, scope="/org:acme/", expires_at=expires)
    assert assignment.scope == "org:acme"
    payload = {
        "assignment_id": str(assignment.id),
        "role_id": str(reader.id),
        "role": "reader",
        "user_id": str(user),
        "group_id": None,
        "scope": "org:acme",
        "expires_at": expires.isoformat(),
    }
    assert events(ASSIGNMENT_GRANTED) == [payload]
    services.revoke_assignment(actor_id=None, assignment_id=assignment.id)
    assert events(ASSIGNMENT_REVOKED) == [payload]
    assert audit("assignment.granted")[0].after == payload
    assert audit("assignment.revoked")[0].before == payload
    with pytest.raises(AssignmentNotFound):
        services.revoke_assignment(actor_id=None, assignment_id=assignment.id)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, InvalidRbacInput),
        ({"user_id": "u", "group_id": "g"}, InvalidRbacInput),
        ({"user_id": "u", "scope": "org acme"}, InvalidScope),
        ({"user_id": "u", "expires_at": "past"}, InvalidRbacInput),
        ({"group_id": "missing"}, GroupNotFound),
    ],
)
def test_a_malformed_grant_is_refused_and_nothing_changes(codes, kwargs, error):
    import uuid

    group = services.create_group(actor_id=None, name="staff")
    values = {"u": new_user(), "g": group.id, "missing": uuid.uuid4(), "past": timezone.now() - timedelta(seconds=1)}
    kwargs = {k: values.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}
    with pytest.raises(error):
        services.grant_role(actor_id=None, role_id=role("reader").id, **kwargs)
    assert not Assignment.objects.exists()
    assert not events(ASSIGNMENT_GRANTED)


def test_granting_the_same_assignment_twice_keeps_one(codes):
    reader, user = role("reader"), new_user()
    assert grant(reader, user_id=user, scope="org:a").id == grant(reader, user_id=user, scope="org:a").id
    assert len(events(ASSIGNMENT_GRANTED)) == 1


def test_group_membership_changes_are_idempotent_audited_and_announced(codes):
    group, user = services.create_group(actor_id=None, name="staff"), new_user()
    for _ in range(2):
        services.add_group_member(actor_id=None, group_id=group.id, user_id=user)
    assert selectors.group_members(group_id=group.id) == [user]
    for _ in range(2):
        services.remove_group_member(actor_id=None, group_id=group.id, user_id=user)
    assert [e["change"] for e in events(GROUP_CHANGED)] == ["created", "member_added", "member_removed"]
    assert [e.action for e in AuditEntry.objects.order_by("occurred_at") if e.action.startswith("group.")] == [
        "group.created",
        "group.member_added",
        "group.member_removed",
    ]


# --- The audit log -------------------------------------------------------------------------------


def test_the_audit_log_is_append_only(codes):
    role("reader")
    entry = AuditEntry.objects.get(action="role.created")
    for attempt in (
        entry.save,
        entry.delete,
        AuditEntry.objects.all().delete,
        lambda: AuditEntry.objects.update(action="x"),
    ):
        with pytest.raises(TypeError):
            attempt()
    assert AuditEntry.objects.get(id=entry.id).action == "role.created"


def test_the_audit_log_pages_newest_first(codes):
    for i in range(5):
        role(f"r{i}")
    first, cursor = selectors.list_audit(limit=3, cursor=None)
    second, end = selectors.list_audit(limit=3, cursor=cursor)
    names = [e.after["name"] for e in first + second if e.action == "role.created"]
    assert names == ["r4", "r3", "r2", "r1", "r0"] and end is None
    with pytest.raises(InvalidRbacInput):
        selectors.list_audit(limit=3, cursor="garbage!")
