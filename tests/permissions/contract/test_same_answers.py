"""On one world, every question gets the same answer from the local and the remote implementation."""

from __future__ import annotations

import itertools
import uuid

PERMISSIONS = ["docs.page.read", "docs.page.write", "docs.page.delete", "billing.invoice.read", "nope.never.declared"]
SCOPES = [None, "org:a", "org:a/project:1", "org:a/project:1/doc:9", "org:ab", "org:b"]


def test_checks_explanations_and_listings_agree_across_transports(both):
    local, remote = both
    # Built through the server (see conftest), read through both.
    reader = remote.create_role(actor_id=None, name="reader", permissions=["docs.page.read"])
    writer = remote.create_role(actor_id=None, name="writer", permissions=["docs.page.write"], parents=[reader.id])
    remote.create_role(actor_id=None, name="deleter", permissions=["docs.page.delete"], parents=[writer.id])
    billing = remote.create_role(actor_id=None, name="billing", permissions=["billing.invoice.read"])
    users = [uuid.uuid4() for _ in range(4)]
    team = remote.create_group(actor_id=None, name="team")
    remote.add_group_member(actor_id=None, group_id=team.id, user_id=users[1])
    remote.add_group_member(actor_id=None, group_id=team.id, user_id=users[2])
    remote.grant(actor_id=None, role_id=writer.id, user_id=users[0], scope="org:a")
    remote.grant(actor_id=None, role_id=reader.id, group_id=team.id, scope="org:a/project:1")
    remote.grant(actor_id=None, role_id=billing.id, user_id=users[2])
    remote.grant(actor_id=None, role_id=remote.get_role_by_name(name="admin").id, user_id=users[3], scope="org:b")

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
    assert remote.list_assignments() == local.list_assignments()
    assert remote.list_audit(limit=200) == local.list_audit(limit=200)
