"""The check engine: who holds what where, and the answers that derive from it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from permissions.core import engine, selectors, services
from permissions.interface import ADMIN_ROLE, InvalidScope, declare_permissions, undeclare_permissions
from permissions.models import Role
from tests.support.rbac import new_user

from .conftest import grant, role

pytestmark = pytest.mark.django_db


def check(user_id, permission, scope=None):
    return selectors.check(user_id=user_id, permission=permission, scope=scope)


def test_a_role_assigned_globally_holds_everywhere(codes):
    user = new_user()
    grant(role("reader", ["docs.page.read"]), user_id=user)
    assert check(user, "docs.page.read")
    assert check(user, "docs.page.read", "org:acme/project:42")
    assert not check(user, "docs.page.write")


def test_an_assignment_on_a_prefix_holds_below_it_but_not_beside_it(codes):
    user = new_user()
    grant(role("reader", ["docs.page.read"]), user_id=user, scope="org:acme")
    assert check(user, "docs.page.read", "org:acme")
    assert check(user, "docs.page.read", "org:acme/project:42")
    assert not check(user, "docs.page.read", "org:acmex")
    assert not check(user, "docs.page.read", "org:acmex/project:42")
    assert not check(user, "docs.page.read")


def test_an_assignment_deep_down_does_not_hold_above_it(codes):
    user = new_user()
    grant(role("reader", ["docs.page.read"]), user_id=user, scope="org:acme/project:42")
    assert check(user, "docs.page.read", "org:acme/project:42/page:1")
    assert not check(user, "docs.page.read", "org:acme")
    assert not check(user, "docs.page.read", "org:acme/project:4")


def test_a_role_holds_its_ancestors_permissions(codes):
    user = new_user()
    reader = role("reader", ["docs.page.read"])
    writer = role("writer", ["docs.page.write"], parents=[reader])
    editor = role("editor", ["docs.page.delete"], parents=[writer])
    grant(editor, user_id=user)
    assert selectors.effective_permissions(user_id=user) == {"docs.page.read", "docs.page.write", "docs.page.delete"}


def test_a_group_member_holds_the_groups_roles(codes):
    user, outsider = new_user(), new_user()
    group = services.create_group(actor_id=None, name="staff")
    services.add_group_member(actor_id=None, group_id=group.id, user_id=user)
    grant(role("reader", ["docs.page.read"]), group=group, scope="org:acme")
    assert check(user, "docs.page.read", "org:acme/project:1")
    assert not check(outsider, "docs.page.read", "org:acme/project:1")


def test_an_expired_assignment_grants_nothing_and_a_live_one_stops_at_its_expiry(codes, monkeypatch):
    user = new_user()
    expiry = timezone.now() + timedelta(hours=1)
    grant(role("reader", ["docs.page.read"]), user_id=user, expires_at=expiry)
    assert check(user, "docs.page.read")  # compiled and cached now
    monkeypatch.setattr(engine, "now", lambda: expiry + timedelta(seconds=1))
    assert not check(user, "docs.page.read")  # the cached entry knows when it stops being true


def test_the_admin_role_holds_every_permission_also_later_ones(codes):
    user = new_user()
    grant(Role.objects.get(name=ADMIN_ROLE), user_id=user)
    assert check(user, "docs.page.delete", "org:x")
    assert check(user, "rbac.role.manage")
    declare_permissions("later", {"later.thing.do": "Declared after the grant."})
    try:
        services.permission_registry_sync()
        assert check(user, "later.thing.do")
    finally:
        undeclare_permissions(["later.thing.do"])


def test_nobody_holds_an_undeclared_permission_not_even_admin(codes):
    user = new_user()
    grant(Role.objects.get(name=ADMIN_ROLE), user_id=user)
    assert not check(user, "nope.nothing.here")


def test_a_deactivated_user_holds_nothing_though_their_assignments_stay(codes):
    user = new_user()
    assignment = grant(role("reader", ["docs.page.read"]), user_id=user)
    assert check(user, "docs.page.read")
    services.user_deactivation_record(user_id=user)
    assert not check(user, "docs.page.read")
    assert selectors.effective_permissions(user_id=user) == frozenset()
    assert selectors.users_with_permission(permission="docs.page.read") == []
    assert selectors.get_assignment(assignment_id=assignment.id)
    assert selectors.explain(user_id=user, permission="docs.page.read").reason == "user_deactivated"


def test_check_many_answers_in_the_order_asked(codes):
    user = new_user()
    grant(role("reader", ["docs.page.read"]), user_id=user, scope="org:a")
    asked = [("docs.page.write", None), ("docs.page.read", "org:a/p:1"), ("docs.page.read", None), ("x.y.z", "org:a")]
    assert selectors.check_many(user_id=user, checks=asked) == [False, True, False, False]


def test_a_check_in_a_malformed_scope_is_refused(codes):
    with pytest.raises(InvalidScope):
        check(new_user(), "docs.page.read", "not a scope")


def test_users_with_a_permission_in_a_scope_are_those_whose_check_says_yes(codes):
    direct, member, elsewhere, beside = new_user(), new_user(), new_user(), new_user()
    reader = role("reader", ["docs.page.read"])
    group = services.create_group(actor_id=None, name="staff")
    services.add_group_member(actor_id=None, group_id=group.id, user_id=member)
    grant(reader, user_id=direct, scope="org:acme")
    grant(reader, group=group)
    grant(reader, user_id=elsewhere, scope="org:acme/project:2")
    grant(reader, user_id=beside, scope="org:acmex")
    assert selectors.users_with_permission(permission="docs.page.read", scope="org:acme/project:1") == sorted(
        [direct, member]
    )
    assert selectors.users_with_permission(permission="docs.page.write", scope="org:acme") == []


def test_explain_an_allow_names_the_assignment_the_role_chain_and_the_group(codes):
    user = new_user()
    reader = role("reader", ["docs.page.read"])
    editor = role("editor", ["docs.page.write"], parents=[reader])
    group = services.create_group(actor_id=None, name="staff")
    services.add_group_member(actor_id=None, group_id=group.id, user_id=user)
    assignment = grant(editor, group=group, scope="org:acme")
    why = selectors.explain(user_id=user, permission="docs.page.read", scope="org:acme/project:1")
    assert why.allowed and why.reason == "granted"
    assert why.assignment.id == assignment.id
    assert why.group_id == group.id
    assert why.role_chain == ("editor", "reader")


def test_explain_a_deny_names_the_closest_missing_link(codes, monkeypatch):
    user = new_user()
    reader = role("reader", ["docs.page.read"])
    role("writer", ["docs.page.write"])
    assert selectors.explain(user_id=user, permission="nope.no.no").reason == "unknown_permission"
    # Only the admin role holds it (admin holds everything): the user is missing an assignment.
    why = selectors.explain(user_id=user, permission="billing.invoice.pay")
    assert (why.reason, why.roles_granting) == ("not_assigned", ("admin",))
    why = selectors.explain(user_id=user, permission="docs.page.write")
    assert (why.reason, why.roles_granting) == ("not_assigned", ("admin", "writer"))
    elsewhere = grant(reader, user_id=user, scope="org:acmex")
    why = selectors.explain(user_id=user, permission="docs.page.read", scope="org:acme")
    assert (why.reason, why.assignment.id) == ("scope_mismatch", elsewhere.id)
    soon = timezone.now() + timedelta(minutes=5)
    expiring = grant(reader, user_id=user, scope="org:acme", expires_at=soon)
    assert selectors.explain(user_id=user, permission="docs.page.read", scope="org:acme").allowed
    monkeypatch.setattr(engine, "now", lambda: soon + timedelta(seconds=1))
    why = selectors.explain(user_id=user, permission="docs.page.read", scope="org:acme")
    assert (why.reason, why.assignment.id) == ("expired", expiring.id)
