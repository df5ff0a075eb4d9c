"""An org's `require_mfa` policy (docs/orgs.md, "Policy: require_mfa"): every org route of an org
that requires a second factor refuses a caller without TOTP with 403 `mfa_required` (saying how to
comply), but for reading the org and leaving it; an outsider still gets the 404 of an org that does
not exist; turning the policy on needs one's own second factor; RBAC writes in the org's scope (and
below it) need one too. Nothing changes on a refusal."""

from __future__ import annotations

import pytest

from permissions.interface import permission_service
from tests.orgs.conftest import turn_on_totp
from tests.orgs.test_isolation import CALLERS, ROUTES, _body, _fill, caller_of, snapshot
from tests.support.factories import RoleFactory, UserFactory
from tests.support.http import client_for, error_of
from users.interface.orgs import org_service
from users.models import Organization

pytestmark = pytest.mark.django_db

# What a member needs to comply or to leave: reading the org itself (and leaving, below).
EXEMPT = {"get_org"}
# Every route of an org's own (joining by domain is how one becomes a member, like accepting).
ORG_ROUTES = [r for r in ROUTES if r[0] != "join_org"]


def _require(world, target="acme"):
    owner = world["orgs"][target]["owner"]
    Organization.objects.filter(id=world["orgs"][target]["org"].id).update(require_mfa=True)
    return owner


@pytest.mark.parametrize("caller", ["member", "admin", "owner"])
@pytest.mark.parametrize("route", ORG_ROUTES, ids=[r[0] for r in ORG_ROUTES])
def test_a_member_without_a_second_factor_is_refused_every_org_route_but_reading_it(world, dns_server, route, caller):
    name, method, path, body, _ = route
    _require(world)
    api = client_for(caller_of(world, "acme", caller))
    before = snapshot()

    response = getattr(api, method)(_fill(path, world, "acme"), _body(body, world, "acme"), format="json")

    if name in EXEMPT:
        assert response.status_code == 200, response.content
        assert response.json()["require_mfa"] is True
        return
    assert response.status_code == 403, (name, caller, response.content)
    error = error_of(response)
    assert error["code"] == "mfa_required"
    assert "/api/v1/auth/mfa/totp" in error["message"]  # says how to comply
    assert error["details"]["enroll"] == "/api/v1/auth/mfa/totp"
    assert snapshot() == before, f"{name} by {caller} changed something"


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ORG_ROUTES, ids=[r[0] for r in ORG_ROUTES])
def test_with_a_second_factor_every_caller_is_answered_as_their_role_allows(world, dns_server, route, caller):
    name, method, path, body, expected = route
    _require(world)
    person = caller_of(world, "acme", caller)
    api = turn_on_totp(person)

    response = getattr(api, method)(_fill(path, world, "acme"), _body(body, world, "acme"), format="json")

    assert response.status_code == expected[CALLERS.index(caller)], (name, caller, response.content)


@pytest.mark.parametrize("caller", ["outsider", "other_admin"])
@pytest.mark.parametrize("route", ORG_ROUTES, ids=[r[0] for r in ORG_ROUTES])
def test_an_outsider_without_a_second_factor_still_gets_404_not_403(world, dns_server, route, caller):
    name, method, path, body, _ = route
    _require(world)
    api = client_for(caller_of(world, "acme", caller))
    before = snapshot()

    response = getattr(api, method)(_fill(path, world, "acme"), _body(body, world, "acme"), format="json")

    assert (response.status_code, error_of(response)["code"]) == (404, "org_not_found"), name
    assert "mfa" not in response.content.decode()
    assert snapshot() == before


def test_a_member_without_a_second_factor_may_leave(world):
    _require(world)
    member = world["orgs"]["acme"]["member"]
    org_id = world["orgs"]["acme"]["org"].id

    response = client_for(member).delete(f"/api/v1/orgs/{org_id}/members/{member.id}")

    assert response.status_code == 204
    assert member.id not in {m.user_id for m in org_service.list_members(actor_id=None, org_id=org_id).results}


def test_an_org_without_the_policy_asks_nothing(world):
    member = world["orgs"]["acme"]["member"]
    response = client_for(member).get(f"/api/v1/orgs/{world['orgs']['acme']['org'].id}/members")
    assert response.status_code == 200


@pytest.mark.parametrize("caller", ["admin", "owner"])
def test_turning_the_policy_on_needs_ones_own_second_factor(world, caller):
    person = world["orgs"]["acme"][caller]
    org_id = world["orgs"]["acme"]["org"].id
    api = client_for(person)

    refused = api.patch(f"/api/v1/orgs/{org_id}", {"require_mfa": True}, format="json")

    assert refused.status_code == 403
    error = error_of(refused)
    assert error["code"] == "mfa_required" and "yourself" in error["message"]
    assert Organization.objects.get(id=org_id).require_mfa is False

    api = turn_on_totp(person)
    allowed = api.patch(f"/api/v1/orgs/{org_id}", {"require_mfa": True}, format="json")
    assert (allowed.status_code, allowed.json()["require_mfa"]) == (200, True)
    # Renaming without touching the policy never asked for it; turning it off again needs MFA
    # because the route does (the caller has it).
    off = api.patch(f"/api/v1/orgs/{org_id}", {"require_mfa": False}, format="json")
    assert (off.status_code, off.json()["require_mfa"]) == (200, False)


def test_renaming_an_org_without_the_policy_needs_no_second_factor(world):
    org_id = world["orgs"]["acme"]["org"].id
    response = client_for(world["orgs"]["acme"]["admin"]).patch(
        f"/api/v1/orgs/{org_id}", {"name": "Renamed", "require_mfa": False}, format="json"
    )
    assert (response.status_code, response.json()["name"]) == (200, "Renamed")


@pytest.fixture
def rbac_manager(world):
    """Someone holding rbac.assignment.manage in acme's scope only, and a role to hand out there."""
    manager = UserFactory()
    org_id = world["orgs"]["acme"]["org"].id
    managing = RoleFactory(name="org-rbac-manager", permissions=["rbac.assignment.manage", "orgs.member.view"])
    permission_service.grant_role(actor_id=None, role_id=managing.id, user_id=manager.id, scope=f"org:{org_id}")
    return manager, org_id


@pytest.mark.parametrize("below", ["", "/project:42"])
def test_rbac_writes_in_the_scope_of_an_org_that_requires_mfa_need_a_second_factor(world, rbac_manager, below):
    manager, org_id = rbac_manager
    helper, target = world["helper"], world["orgs"]["acme"]["target"]
    scope = f"org:{org_id}{below}"
    grant = permission_service.grant_role(actor_id=None, role_id=helper.id, user_id=target.id, scope=scope)
    _require(world)
    api = client_for(manager)
    before = snapshot()

    granted = api.post(
        "/api/v1/rbac/assignments", {"role": str(helper.id), "user_id": str(target.id), "scope": scope}, format="json"
    )
    revoked = api.delete(f"/api/v1/rbac/assignments/{grant.id}")

    for response in (granted, revoked):
        assert response.status_code == 403
        assert error_of(response)["code"] == "mfa_required"
    assert snapshot() == before

    api = turn_on_totp(manager)
    assert api.delete(f"/api/v1/rbac/assignments/{grant.id}").status_code == 204
    again = api.post(
        "/api/v1/rbac/assignments", {"role": str(helper.id), "user_id": str(target.id), "scope": scope}, format="json"
    )
    assert again.status_code == 201, again.content


def test_rbac_writes_in_an_org_without_the_policy_or_in_another_scope_ask_nothing(world, rbac_manager):
    manager, org_id = rbac_manager
    helper, target = world["helper"], world["orgs"]["acme"]["target"]
    api = client_for(manager)

    granted = api.post(
        "/api/v1/rbac/assignments",
        {"role": str(helper.id), "user_id": str(target.id), "scope": f"org:{org_id}"},
        format="json",
    )

    assert granted.status_code == 201, granted.content


def test_the_permission_check_itself_does_not_enforce_the_policy(world):
    """By design (docs/orgs.md): the hot check answers what the member holds; the policy is the
    app service's, on the org's routes."""
    _require(world)
    member = world["orgs"]["acme"]["member"]
    org_id = world["orgs"]["acme"]["org"].id

    assert permission_service.check(user_id=member.id, permission="orgs.org.view", scope=f"org:{org_id}") is True
