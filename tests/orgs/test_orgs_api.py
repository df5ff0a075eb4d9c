"""Contract §10 over HTTP: organizations, members, org roles, custom roles, the last owner."""

from __future__ import annotations

import pytest

from permissions.interface import permission_service
from project.events.models import OutboxEvent
from tests.orgs.conftest import clients, turn_on_totp
from tests.support.factories import RoleFactory, UserFactory
from tests.support.http import client_for, error_code
from users.interface.orgs import org_scope, org_service
from users.models import Organization

pytestmark = pytest.mark.django_db


def test_a_verified_user_creates_an_org_and_is_its_owner(db):
    ada = UserFactory()
    api = client_for(ada)

    response = api.post("/api/v1/orgs", {"name": "Acme", "slug": "Acme"}, format="json")

    assert response.status_code == 201, response.content
    org = response.json()
    assert (org["name"], org["slug"], org["require_mfa"]) == ("Acme", "acme", False)
    mine = api.get("/api/v1/orgs").json()
    assert [(o["id"], o["role"]) for o in mine["results"]] == [(org["id"], "owner")]
    assert mine["next"] is None
    assert OutboxEvent.objects.filter(type="orgs.org_created").count() == 1
    assert OutboxEvent.objects.filter(type="orgs.member_added").count() == 1


def test_a_taken_slug_is_409_and_makes_no_second_org(db):
    ada, bob = UserFactory(), UserFactory()
    assert client_for(ada).post("/api/v1/orgs", {"name": "A", "slug": "acme"}, format="json").status_code == 201

    response = client_for(bob).post("/api/v1/orgs", {"name": "B", "slug": "ACME"}, format="json")

    assert (response.status_code, error_code(response)) == (409, "slug_taken")
    assert Organization.objects.count() == 1


@pytest.mark.parametrize("slug", ["", "-acme", "acme-", "ac me", "a" * 51, "acmé", "a/b"])
def test_a_bad_slug_is_400_on_slug(db, slug):
    response = client_for(UserFactory()).post("/api/v1/orgs", {"name": "A", "slug": slug}, format="json")

    assert response.status_code == 400
    assert "slug" in response.json()["error"]["details"]
    assert not Organization.objects.exists()


def test_an_unverified_user_cannot_create_an_org(db):
    response = client_for(UserFactory(is_verified=False)).post(
        "/api/v1/orgs", {"name": "A", "slug": "acme"}, format="json"
    )

    assert (response.status_code, error_code(response)) == (403, "email_not_verified")
    assert not Organization.objects.exists()


def test_members_read_admins_update_owners_delete(acme):
    org, people = acme
    api = clients(people)
    url = f"/api/v1/orgs/{org.id}"

    assert api["member"].get(url).json()["slug"] == "acme"
    assert error_code(api["member"].patch(url, {"name": "X"}, format="json")) == "org_permission_denied"
    api["admin"], api["owner"] = turn_on_totp(people["admin"]), turn_on_totp(people["owner"])
    response = api["admin"].patch(url, {"name": "Acme Inc", "require_mfa": True}, format="json")
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["require_mfa"]) == ("Acme Inc", True)
    assert error_code(api["admin"].delete(url)) == "org_permission_denied"
    assert api["owner"].delete(url).status_code == 204

    assert not Organization.objects.filter(id=org.id).exists()
    assert api["member"].get(url).status_code == 404
    assert api["member"].get("/api/v1/orgs").json()["results"] == []
    # Nothing of the org's scope is left in RBAC.
    for user in people.values():
        assert permission_service.effective_permissions(user_id=user.id, scope=org_scope(org.id)) == frozenset()


def test_the_member_list_shows_every_member_with_role_and_join_time(acme):
    org, people = acme
    response = client_for(people["member"]).get(f"/api/v1/orgs/{org.id}/members")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert {(r["user_id"], r["role"]) for r in rows} == {
        (str(people["owner"].id), "owner"),
        (str(people["admin"].id), "admin"),
        (str(people["member"].id), "member"),
    }
    assert {r["email"] for r in rows} == {p.email for p in people.values()}
    assert all(r["joined_at"].endswith("Z") for r in rows)


def test_the_member_list_pages_with_a_cursor(acme):
    org, people = acme
    api = client_for(people["owner"])
    seen, cursor = [], None
    while True:
        page = api.get(f"/api/v1/orgs/{org.id}/members", {"limit": 1, **({"cursor": cursor} if cursor else {})}).json()
        seen += [r["user_id"] for r in page["results"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(p.id) for p in people.values())
    bad = api.get(f"/api/v1/orgs/{org.id}/members", {"cursor": "nonsense"})
    assert bad.status_code == 400


def test_an_admin_changes_a_members_role_and_the_grant_follows(acme):
    org, people = acme
    response = client_for(people["admin"]).patch(
        f"/api/v1/orgs/{org.id}/members/{people['member'].id}", {"role": "admin"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["role"] == "admin"
    assert permission_service.check(
        user_id=people["member"].id, permission="orgs.invitation.manage", scope=org_scope(org.id)
    )


def test_an_admin_cannot_promote_to_owner_nor_touch_an_owner(acme):
    org, people = acme
    admin = client_for(people["admin"])
    members = f"/api/v1/orgs/{org.id}/members"

    promote = admin.patch(f"{members}/{people['member'].id}", {"role": "owner"}, format="json")
    demote = admin.patch(f"{members}/{people['owner'].id}", {"role": "member"}, format="json")
    remove = admin.delete(f"{members}/{people['owner'].id}")

    assert [r.status_code for r in (promote, demote, remove)] == [403, 403, 403]
    roles = {m.user_id: m.role for m in org_service.list_members(actor_id=None, org_id=org.id).results}
    assert roles[people["member"].id] == "member"
    assert roles[people["owner"].id] == "owner"


def test_the_last_owner_cannot_leave_be_removed_or_be_demoted(acme):
    org, people = acme
    owner = client_for(people["owner"])
    me = f"/api/v1/orgs/{org.id}/members/{people['owner'].id}"

    leave = owner.delete(me)
    demote = owner.patch(me, {"role": "admin"}, format="json")

    assert (leave.status_code, error_code(leave)) == (409, "last_owner")
    assert (demote.status_code, error_code(demote)) == (409, "last_owner")
    assert permission_service.check(user_id=people["owner"].id, permission="orgs.org.delete", scope=org_scope(org.id))


def test_with_a_second_owner_an_owner_may_leave(acme):
    org, people = acme
    owner = client_for(people["owner"])
    members = f"/api/v1/orgs/{org.id}/members"
    assert owner.patch(f"{members}/{people['admin'].id}", {"role": "owner"}, format="json").status_code == 200

    assert owner.delete(f"{members}/{people['owner'].id}").status_code == 204

    assert owner.get(f"/api/v1/orgs/{org.id}").status_code == 404
    second = client_for(people["admin"])
    assert second.delete(f"{members}/{people['admin'].id}").status_code == 409


def test_removing_a_member_revokes_every_grant_in_the_orgs_scope_and_below(acme):
    org, people = acme
    member = people["member"]
    scope = org_scope(org.id)
    reader = RoleFactory(name="project-inviter", permissions=["orgs.invitation.manage"])
    permission_service.grant_role(actor_id=None, role_id=reader.id, user_id=member.id, scope=f"{scope}/project:42")
    permission_service.grant_role(actor_id=None, role_id=reader.id, user_id=member.id, scope=scope)
    outside = permission_service.grant_role(actor_id=None, role_id=reader.id, user_id=member.id, scope="org:other")
    assert permission_service.check(user_id=member.id, permission="orgs.invitation.manage", scope=f"{scope}/project:42")

    response = client_for(people["owner"]).delete(f"/api/v1/orgs/{org.id}/members/{member.id}")

    assert response.status_code == 204
    for where in (scope, f"{scope}/project:42"):
        assert permission_service.effective_permissions(user_id=member.id, scope=where) == frozenset()
    assert permission_service.get_assignment(assignment_id=outside.id).scope == "org:other"
    assert OutboxEvent.objects.filter(type="orgs.member_removed").count() == 1


def test_a_member_may_leave(acme):
    org, people = acme
    api = client_for(people["member"])

    assert api.delete(f"/api/v1/orgs/{org.id}/members/{people['member'].id}").status_code == 204
    assert api.get(f"/api/v1/orgs/{org.id}").status_code == 404


def test_an_admin_grants_a_custom_role_they_hold_but_not_one_they_lack(acme):
    org, people = acme
    admin = client_for(people["admin"])
    roles = f"/api/v1/orgs/{org.id}/members/{people['member'].id}/roles"
    inviter = RoleFactory(name="inviter", permissions=["orgs.invitation.manage"])
    deleter = RoleFactory(name="deleter", permissions=["orgs.org.delete"])

    ok = admin.post(roles, {"role_id": str(inviter.id)}, format="json")
    denied = admin.post(roles, {"role_id": str(deleter.id)}, format="json")

    assert ok.status_code == 201, ok.content
    assert (denied.status_code, error_code(denied)) == (403, "escalation_denied")
    assert [g["role_name"] for g in admin.get(roles).json()] == ["inviter"]
    assert not permission_service.check(
        user_id=people["member"].id, permission="orgs.org.delete", scope=org_scope(org.id)
    )
    assert admin.delete(f"{roles}/{ok.json()['id']}").status_code == 204
    assert admin.get(roles).json() == []


def test_an_org_admin_cannot_remove_a_member_who_holds_more_than_they_do_there(acme):
    org, people = acme
    root = UserFactory(roles=["admin"])  # a global administrator who also joined the org
    org_service.add_member(actor_id=None, org_id=org.id, user_id=root.id, role="member")

    response = client_for(people["admin"]).delete(f"/api/v1/orgs/{org.id}/members/{root.id}")

    assert (response.status_code, error_code(response)) == (403, "escalation_denied")
    assert root.id in {m.user_id for m in org_service.list_members(actor_id=None, org_id=org.id).results}
