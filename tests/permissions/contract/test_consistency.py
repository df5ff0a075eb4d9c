"""A revoke through the gRPC server is seen at once by a check in this process, though this process
had the grant warm in its own memory and in the shared cache (docs/rbac.md, consistency)."""

from __future__ import annotations

import pytest

from tests.support.rbac import new_user

pytestmark = pytest.mark.stack  # two processes share a cache only through Redis


def test_a_revoke_over_grpc_is_seen_by_an_in_process_check_immediately(both):
    local, remote = both
    reader = remote.create_role(actor_id=None, name="reader", permissions=["docs.page.read"])
    team = remote.create_group(actor_id=None, name="team")
    user = new_user()
    for _ in range(3):
        assignment = remote.grant_role(actor_id=None, role_id=reader.id, user_id=user, scope="org:acme")
        assert local.check(user_id=user, permission="docs.page.read", scope="org:acme/p:1")
        assert local.check(user_id=user, permission="docs.page.read", scope="org:acme/p:1")  # warm here
        remote.revoke_assignment(actor_id=None, assignment_id=assignment.id)
        assert not local.check(user_id=user, permission="docs.page.read", scope="org:acme/p:1")

        remote.grant_role(actor_id=None, role_id=reader.id, group_id=team.id)
        remote.add_group_member(actor_id=None, group_id=team.id, user_id=user)
        assert local.check(user_id=user, permission="docs.page.read")
        remote.remove_group_member(actor_id=None, group_id=team.id, user_id=user)
        assert not local.check(user_id=user, permission="docs.page.read")

        remote.add_group_member(actor_id=None, group_id=team.id, user_id=user)
        assert local.effective_permissions(user_id=user) == {"docs.page.read"}
        remote.update_role(actor_id=None, role_id=reader.id, permissions=[])
        assert local.effective_permissions(user_id=user) == frozenset()
        remote.update_role(actor_id=None, role_id=reader.id, permissions=["docs.page.read"])
        remote.remove_group_member(actor_id=None, group_id=team.id, user_id=user)


def test_a_revoke_in_process_is_seen_by_a_check_over_grpc_immediately(both):
    local, remote = both
    reader = local.create_role(actor_id=None, name="reader", permissions=["docs.page.read"])
    user = new_user()
    assignment = local.grant_role(actor_id=None, role_id=reader.id, user_id=user)
    assert remote.check(user_id=user, permission="docs.page.read")
    assert remote.check(user_id=user, permission="docs.page.read")  # warm in the server
    local.revoke_assignment(actor_id=None, assignment_id=assignment.id)
    assert not remote.check(user_id=user, permission="docs.page.read")
