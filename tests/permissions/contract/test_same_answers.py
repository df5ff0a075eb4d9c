"""On one world, every question gets the same answer from the local and the remote implementation."""

from __future__ import annotations

import itertools

from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from permissions.core import cache as rbac_cache
from tests.support.rbac import new_user

PERMISSIONS = ["docs.page.read", "docs.page.write", "docs.page.delete", "billing.invoice.read", "nope.never.declared"]
SCOPES = [None, "org:a", "org:a/project:1", "org:a/project:1/doc:9", "org:ab", "org:b"]


def test_checks_explanations_and_listings_agree_across_transports(both):
    local, remote = both
    # Built through the server (see conftest), read through both.
    reader = remote.create_role(actor_id=None, name="reader", permissions=["docs.page.read"])
    writer = remote.create_role(actor_id=None, name="writer", permissions=["docs.page.write"], parents=[reader.id])
    remote.create_role(actor_id=None, name="deleter", permissions=["docs.page.delete"], parents=[writer.id])
    billing = remote.create_role(actor_id=None, name="billing", permissions=["billing.invoice.read"])
    users = [new_user() for _ in range(4)]
    team = remote.create_group(actor_id=None, name="team")
    remote.add_group_member(actor_id=None, group_id=team.id, user_id=users[1])
    remote.add_group_member(actor_id=None, group_id=team.id, user_id=users[2])
    remote.grant_role(actor_id=None, role_id=writer.id, user_id=users[0], scope="org:a")
    remote.grant_role(actor_id=None, role_id=reader.id, group_id=team.id, scope="org:a/project:1")
    remote.grant_role(actor_id=None, role_id=billing.id, user_id=users[2])
    remote.grant_role(actor_id=None, role_id=remote.get_role_by_name(name="admin").id, user_id=users[3], scope="org:b")

    asked = list(itertools.product(PERMISSIONS, SCOPES))
    for user in users:
        answers = remote.check_many(user_id=user, checks=asked)
        assert answers == local.check_many(user_id=user, checks=asked)
        for (permission, scope), answer in zip(asked, answers, strict=True):
            assert remote.check(user_id=user, permission=permission, scope=scope) is answer
            assert remote.explain(user_id=user, permission=permission, scope=scope) == local.explain(
                user_id=user, permission=permission, scope=scope
            )
        for scope in SCOPES:
            assert remote.effective_permissions(user_id=user, scope=scope) == local.effective_permissions(
                user_id=user, scope=scope
            )
    assert any(local.check_many(user_id=user, checks=asked).count(True) for user in users)
    for permission, scope in asked:
        assert remote.users_with_permission(permission=permission, scope=scope) == local.users_with_permission(
            permission=permission, scope=scope
        )
    assert remote.list_roles() == local.list_roles()
    assert remote.list_groups() == local.list_groups()
    assert remote.list_permissions() == local.list_permissions()
    codes = [permission for permission, _ in asked] + [
        "nobody.declared.this",
        "users.user.view",
        "nobody.declared.this",
    ]
    assert remote.undeclared_permissions(codes=codes) == local.undeclared_permissions(codes=codes)
    assert remote.undeclared_permissions(codes=[]) == local.undeclared_permissions(codes=[]) == []
    assert remote.list_assignments() == local.list_assignments()
    assert remote.list_audit(limit=200) == local.list_audit(limit=200)


ROLE_SCOPES = [None, "org:a", "org:ab", "org:a/project:1"]
USERS = 3


@st.composite
def worlds(draw):
    """Roles (own permissions, parents among earlier roles), group members, assignments."""
    n_roles = draw(st.integers(1, 4))
    roles = [
        (
            draw(st.lists(st.sampled_from(PERMISSIONS[:4]), max_size=2, unique=True)),
            draw(st.lists(st.integers(0, i - 1), max_size=2, unique=True)) if i else [],
        )
        for i in range(n_roles)
    ]
    members = draw(st.lists(st.integers(0, USERS - 1), unique=True))
    subject = st.one_of(st.tuples(st.just("user"), st.integers(0, USERS - 1)), st.just(("group", 0)))
    assignments = draw(
        st.lists(st.tuples(st.integers(0, n_roles - 1), subject, st.sampled_from(ROLE_SCOPES)), max_size=5)
    )
    return roles, members, assignments


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=worlds())
def test_on_random_worlds_every_answer_agrees_across_transports(both, world):
    local, remote = both
    # This process must not answer from what it cached for an earlier example: the server's
    # writes do not reach its in-process cache (in stack mode they do, through Redis).
    cache.clear()
    rbac_cache.local.clear()
    role_specs, members, assignments = world
    users = [new_user() for _ in range(USERS)]
    roles, group = [], remote.create_group(actor_id=None, name="g")
    try:
        for i, (own, parents) in enumerate(role_specs):
            roles.append(
                remote.create_role(actor_id=None, name=f"r{i}", permissions=own, parents=[roles[p].id for p in parents])
            )
        for member in members:
            remote.add_group_member(actor_id=None, group_id=group.id, user_id=users[member])
        for role, (kind, index), scope in assignments:
            remote.grant_role(
                actor_id=None,
                role_id=roles[role].id,
                user_id=users[index] if kind == "user" else None,
                group_id=group.id if kind == "group" else None,
                scope=scope,
            )
        asked = list(itertools.product(PERMISSIONS, SCOPES))
        for user in users:
            assert remote.check_many(user_id=user, checks=asked) == local.check_many(user_id=user, checks=asked)
            for permission, scope in asked:
                assert remote.explain(user_id=user, permission=permission, scope=scope) == local.explain(
                    user_id=user, permission=permission, scope=scope
                )
            for scope in SCOPES:
                assert remote.effective_permissions(user_id=user, scope=scope) == local.effective_permissions(
                    user_id=user, scope=scope
                )
        for permission, scope in asked:
            assert remote.users_with_permission(permission=permission, scope=scope) == local.users_with_permission(
                permission=permission, scope=scope
            )
        for role in roles:
            assert remote.users_with_role(role_id=role.id, scope="org:a/project:1") == local.users_with_role(
                role_id=role.id, scope="org:a/project:1"
            )
    finally:
        for role in reversed(roles):
            remote.delete_role(actor_id=None, role_id=role.id)
        remote.delete_group(actor_id=None, group_id=group.id)
