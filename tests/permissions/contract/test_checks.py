"""Checks, explanations, effective permissions and holders: the same answers in process and over gRPC."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from permissions.interface import ADMIN_ROLE, Explanation, InvalidScope, PermissionService, RoleNotFound
from tests.support.rbac import new_user


def world(perms: PermissionService):
    """reader ⊂ editor; ada holds editor in org:acme, staff (with bob) holds reader globally."""
    reader = perms.create_role(actor_id=None, name="reader", permissions=["docs.page.read"])
    editor = perms.create_role(actor_id=None, name="editor", permissions=["docs.page.write"], parents=[reader.id])
    ada, bob, eve = new_user(), new_user(), new_user()
    staff = perms.create_group(actor_id=None, name="staff")
    perms.add_group_member(actor_id=None, group_id=staff.id, user_id=bob)
    ada_editor = perms.grant_role(actor_id=None, role_id=editor.id, user_id=ada, scope="org:acme")
    staff_reader = perms.grant_role(actor_id=None, role_id=reader.id, group_id=staff.id)
    return {
        "reader": reader,
        "editor": editor,
        "staff": staff,
        "ada": ada,
        "bob": bob,
        "eve": eve,
        "ada_editor": ada_editor,
        "staff_reader": staff_reader,
    }


def test_a_scoped_grant_holds_in_its_scope_and_below_only(perms):
    w = world(perms)
    ada = w["ada"]
    assert perms.check(user_id=ada, permission="docs.page.write", scope="org:acme")
    assert perms.check(user_id=ada, permission="docs.page.read", scope="org:acme/project:42")  # inherited
    assert not perms.check(user_id=ada, permission="docs.page.write", scope="org:acmex")
    assert not perms.check(user_id=ada, permission="docs.page.write")
    assert not perms.check(user_id=ada, permission="billing.invoice.read", scope="org:acme")
    assert not perms.check(user_id=ada, permission="nope.never.declared", scope="org:acme")
    assert not perms.check(user_id=uuid.uuid4(), permission="docs.page.read", scope="org:acme")
    # '' and '/' are the global scope, outer slashes do not count.
    assert perms.check(user_id=ada, permission="docs.page.write", scope="/org:acme/")
    assert perms.check(user_id=w["bob"], permission="docs.page.read", scope="")


def test_check_many_answers_in_the_order_asked(perms):
    w = world(perms)
    checks = [
        ("docs.page.write", "org:acme"),
        ("docs.page.write", None),
        ("docs.page.read", "org:acme/p:1"),
        ("billing.invoice.pay", "org:acme"),
        ("docs.page.write", "org:acme/p:1"),
        ("docs.page.read", "org:other"),
        ("docs.page.write", "org:acme"),
    ]
    answers = perms.check_many(user_id=w["ada"], checks=checks)
    assert answers == [True, False, True, False, True, False, True]
    assert answers == [perms.check(user_id=w["ada"], permission=p, scope=s) for p, s in checks]
    assert perms.check_many(user_id=w["ada"], checks=[]) == []


def test_a_group_grants_its_members_until_they_leave(perms):
    w = world(perms)
    bob, staff = w["bob"], w["staff"]
    assert perms.check(user_id=bob, permission="docs.page.read", scope="org:any/p:1")
    why = perms.explain(user_id=bob, permission="docs.page.read", scope="org:any")
    assert (why.allowed, why.reason, why.group_id, why.assignment) == (True, "granted", staff.id, w["staff_reader"])
    perms.remove_group_member(actor_id=None, group_id=staff.id, user_id=bob)
    assert not perms.check(user_id=bob, permission="docs.page.read", scope="org:any/p:1")
    assert perms.explain(user_id=bob, permission="docs.page.read").reason == "not_assigned"


def test_an_assignment_stops_granting_when_it_expires(perms):
    reader = perms.create_role(actor_id=None, name="reader", permissions=["docs.page.read"])
    user = new_user()
    # Beyond a write's worst wait for a copy that restarted (ACK_TIMEOUT + LEASE, project.mirror):
    # a grant that returns after its assignment expired would leave nothing to check.
    expires_at = datetime.now(UTC) + timedelta(seconds=4)
    assignment = perms.grant_role(
        actor_id=None, role_id=reader.id, user_id=user, scope="org:acme", expires_at=expires_at
    )
    assert assignment.expires_at == expires_at
    assert perms.check(user_id=user, permission="docs.page.read", scope="org:acme")
    time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.1)
    assert not perms.check(user_id=user, permission="docs.page.read", scope="org:acme")
    why = perms.explain(user_id=user, permission="docs.page.read", scope="org:acme")
    assert (why.allowed, why.reason, why.assignment) == (False, "expired", assignment)
    assert perms.effective_permissions(user_id=user, scope="org:acme") == frozenset()
    assert perms.users_with_permission(permission="docs.page.read", scope="org:acme") == []


def test_explain_gives_the_granting_chain(perms):
    w = world(perms)
    why = perms.explain(user_id=w["ada"], permission="docs.page.read", scope="org:acme/p:1")
    assert isinstance(why, Explanation)
    assert (why.allowed, why.reason, why.user_id, why.permission, why.scope) == (
        True,
        "granted",
        w["ada"],
        "docs.page.read",
        "org:acme/p:1",
    )
    assert why.assignment == w["ada_editor"] and why.group_id is None
    assert why.role_chain == ("editor", "reader")
    assert "editor" in why.message


@pytest.mark.parametrize(
    ("who", "permission", "scope", "reason"),
    [
        ("ada", "nope.never.declared", "org:acme", "unknown_permission"),
        ("ada", "billing.invoice.read", "org:acme", "not_assigned"),  # only admin holds it
        ("eve", "docs.page.write", None, "not_assigned"),
        ("ada", "docs.page.write", "org:other", "scope_mismatch"),
    ],
)
def test_explain_names_why_not(perms, who, permission, scope, reason):
    w = world(perms)
    why = perms.explain(user_id=w[who], permission=permission, scope=scope)
    assert (why.allowed, why.reason, why.role_chain) == (False, reason, ())
    assert why.message
    if reason == "scope_mismatch":
        assert why.assignment == w["ada_editor"]
        assert "editor" in why.roles_granting
    if reason == "not_assigned":
        assert why.assignment is None and ADMIN_ROLE in why.roles_granting


def test_effective_permissions_are_own_and_inherited_in_the_scope(perms):
    w = world(perms)
    assert perms.effective_permissions(user_id=w["ada"], scope="org:acme/p:1") == {"docs.page.read", "docs.page.write"}
    assert perms.effective_permissions(user_id=w["ada"]) == frozenset()
    assert perms.effective_permissions(user_id=w["bob"], scope="org:x") == {"docs.page.read"}
    assert isinstance(perms.effective_permissions(user_id=w["eve"]), frozenset)


def test_users_with_permission_are_the_holders_sorted(perms):
    w = world(perms)
    assert perms.users_with_permission(permission="docs.page.read", scope="org:acme/p:1") == sorted(
        [w["ada"], w["bob"]]
    )
    assert perms.users_with_permission(permission="docs.page.read", scope="org:other") == [w["bob"]]
    assert perms.users_with_permission(permission="docs.page.write") == []
    assert perms.users_with_permission(permission="nope.never.declared") == []


@pytest.mark.parametrize(
    "call",
    [
        lambda perms, user: perms.check(user_id=user, permission="docs.page.read", scope="not a scope"),
        lambda perms, user: perms.check_many(user_id=user, checks=[("docs.page.read", None), ("x.y.z", "a:b/c")]),
        lambda perms, user: perms.explain(user_id=user, permission="docs.page.read", scope="org:"),
        lambda perms, user: perms.effective_permissions(user_id=user, scope="org:acme//p:1"),
        lambda perms, user: perms.users_with_permission(permission="docs.page.read", scope="x" * 600),
    ],
    ids=["check", "check_many", "explain", "effective_permissions", "users_with_permission"],
)
def test_a_bad_scope_is_invalid_scope(perms, call):
    with pytest.raises(InvalidScope) as raised:
        call(perms, uuid.uuid4())
    assert "scope" in raised.value.details


def test_users_with_role_are_its_own_holders_directly_or_through_a_group(perms):
    w = world(perms)
    assert perms.users_with_role(role_id=w["reader"].id, scope="org:acme") == [w["bob"]]  # not editor's ada
    assert perms.users_with_role(role_id=w["editor"].id, scope="org:acme/p:1") == [w["ada"]]
    assert perms.users_with_role(role_id=w["editor"].id) == []
    with pytest.raises(RoleNotFound):
        perms.users_with_role(role_id=uuid.uuid4())
    with pytest.raises(InvalidScope):
        perms.users_with_role(role_id=w["reader"].id, scope="acme")
