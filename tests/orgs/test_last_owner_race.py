"""Two owners removed at the same moment: at most one removal succeeds, the org is never left
without an owner (the permissions service locks the scope's owner assignments, docs/orgs.md).
Once through the org service, once straight at the RBAC write that holds the guarantee, where
the two transactions overlap most."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from permissions.interface import ORG_OWNER_ROLE, LastRoleHolder, permission_service
from project.kernel.errors import DomainError
from tests.orgs.conftest import make_org
from tests.support.factories import UserFactory
from users.interface.orgs import org_scope, org_service

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("attempt", range(3))
def test_two_owners_removing_each_other_at_once_leave_one_owner(attempt):
    a, b = UserFactory(), UserFactory()
    org = make_org(a, f"acme-{attempt}")
    org_service.add_member(actor_id=a.id, org_id=org.id, user_id=b.id, role="owner")
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def remove(actor, user):
        try:
            start.wait()
            org_service.remove_member(actor_id=actor.id, org_id=org.id, user_id=user.id)
            outcomes.append("removed")
        except DomainError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=remove, args=pair) for pair in ((a, b), (b, a))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    owners = [m for m in org_service.list_members(actor_id=None, org_id=org.id).results if m.role == "owner"]
    assert len(owners) == 1, outcomes
    assert outcomes.count("removed") == 1, outcomes


@pytest.mark.parametrize("attempt", range(5))
def test_two_revokes_racing_for_the_last_two_owners_leave_one(attempt):
    a, b = UserFactory(), UserFactory()
    org = make_org(a, f"race-{attempt}")
    org_service.add_member(actor_id=a.id, org_id=org.id, user_id=b.id, role="owner")
    owner_role = permission_service.get_role_by_name(name=ORG_OWNER_ROLE).id
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def revoke(user):
        try:
            start.wait()
            permission_service.revoke_assignments(
                actor_id=None, scope=org_scope(org.id), user_id=user.id, protect_role_id=owner_role
            )
            outcomes.append("removed")
        except LastRoleHolder:
            outcomes.append("last_role_holder")
        finally:
            connection.close()

    threads = [threading.Thread(target=revoke, args=(user,)) for user in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes) == ["last_role_holder", "removed"]
    owners = [m for m in org_service.list_members(actor_id=None, org_id=org.id).results if m.role == "owner"]
    assert len(owners) == 1
