"""Grant, revoke, the assignment pages and the audit pages: the same results in process and over gRPC."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from permissions.interface import Assignment, AssignmentNotFound, AssignmentPage, AuditEntry, AuditPage
from project.kernel.context import request_id_scope
from tests.support.rbac import new_user


def test_a_grant_is_read_back_and_a_revoke_takes_it_away(perms):
    reader = perms.create_role(actor_id=None, name="reader", permissions=["docs.page.read"])
    staff = perms.create_group(actor_id=None, name="staff")
    user, actor = new_user(), None
    expires_at = datetime.now(UTC) + timedelta(days=7)
    to_user = perms.grant_role(actor_id=actor, role_id=reader.id, user_id=user, scope="org:acme", expires_at=expires_at)
    assert isinstance(to_user, Assignment)
    assert (to_user.role_id, to_user.role_name, to_user.user_id, to_user.group_id, to_user.scope) == (
        reader.id,
        "reader",
        user,
        None,
        "org:acme",
    )
    assert to_user.expires_at == expires_at and to_user.granted_by is None
    to_group = perms.grant_role(actor_id=None, role_id=reader.id, group_id=staff.id)
    assert (to_group.user_id, to_group.group_id, to_group.scope, to_group.expires_at) == (None, staff.id, None, None)
    assert perms.get_assignment(assignment_id=to_user.id) == to_user

    assert perms.check(user_id=user, permission="docs.page.read", scope="org:acme")
    perms.revoke_assignment(actor_id=None, assignment_id=to_user.id)
    assert not perms.check(user_id=user, permission="docs.page.read", scope="org:acme")
    with pytest.raises(AssignmentNotFound):
        perms.get_assignment(assignment_id=to_user.id)
    with pytest.raises(AssignmentNotFound):
        perms.revoke_assignment(actor_id=None, assignment_id=to_user.id)


def test_an_actor_holding_the_permissions_grants_and_is_recorded_as_granting(perms):
    reader = perms.create_role(actor_id=None, name="reader", permissions=["docs.page.read"])
    manager = new_user()
    perms.grant_role(actor_id=None, role_id=reader.id, user_id=manager, scope="org:acme")
    granted = perms.grant_role(actor_id=manager, role_id=reader.id, user_id=new_user(), scope="org:acme/p:1")
    assert granted.granted_by == manager


def test_assignments_come_in_pages_newest_first(perms):
    reader = perms.create_role(actor_id=None, name="reader", permissions=["docs.page.read"])
    user = new_user()
    mine = [perms.grant_role(actor_id=None, role_id=reader.id, user_id=user, scope=f"org:o{i}").id for i in range(5)]
    perms.grant_role(actor_id=None, role_id=reader.id, user_id=new_user())

    seen, cursor = [], None
    while True:
        page = perms.list_assignments(user_id=user, limit=2, cursor=cursor)
        assert isinstance(page, AssignmentPage) and len(page.results) <= 2
        seen += [a.id for a in page.results]
        if page.next is None:
            break
        cursor = page.next
    assert seen == list(reversed(mine))
    assert len(perms.list_assignments(role_id=reader.id).results) == 6
    assert perms.list_assignments(role_id=uuid.uuid4()) == AssignmentPage(results=(), next=None)


def test_every_change_is_in_the_audit_newest_first_with_who_and_before_after(perms):
    actor = new_user()
    reader = perms.create_role(actor_id=None, name="reader", permissions=["docs.page.read"])
    perms.grant_role(actor_id=None, role_id=reader.id, user_id=actor)
    perms.update_role(actor_id=actor, role_id=reader.id, description="Reads.")

    first = perms.list_audit(limit=2)
    assert isinstance(first, AuditPage) and len(first.results) == 2 and first.next
    latest = first.results[0]
    assert isinstance(latest, AuditEntry)
    assert (latest.action, latest.actor_id, latest.target_type, latest.target_id) == (
        "role.updated",
        actor,
        "role",
        str(reader.id),
    )
    assert latest.before["description"] == "" and latest.after["description"] == "Reads."
    assert first.results[1].action == "assignment.granted" and first.results[1].actor_id is None

    rest = perms.list_audit(limit=200, cursor=first.next)
    assert rest.results[0].action == "role.created" and rest.results[0].before is None
    assert not {e.id for e in first.results} & {e.id for e in rest.results}


def test_the_audit_keeps_the_callers_request_id(perms):
    reader = perms.create_role(actor_id=None, name="reader", permissions=["docs.page.read"])
    with request_id_scope("contract-request-42"):
        perms.grant_role(actor_id=None, role_id=reader.id, user_id=new_user())
    [entry] = perms.list_audit(limit=1).results
    assert (entry.action, entry.request_id) == ("assignment.granted", "contract-request-42")
