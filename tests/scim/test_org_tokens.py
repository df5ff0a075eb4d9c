"""SCIM under an organization's token (docs/scim.md, "Organization tokens"): its members are the
Users, its org roles the Groups; an account that exists beyond the org is never the token's to
change; and the isolation matrix: org A's token reaches nothing of org B's, and changes nothing."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from auth.interface import auth_service
from permissions.interface import permission_service
from permissions.models import Assignment, GroupMembership
from permissions.models import Group as RbacGroup
from scim.models import ScimUser
from scim.tokens import token_create
from tests.scim.conftest import GROUP_SCHEMA, USER_SCHEMA, Scim, new_user, scim_error
from tests.scim.test_scim_api import signed_in
from tests.support.factories import UserFactory
from tests.support.rbac import grant_role
from users.interface import user_service
from users.interface.orgs import org_scope, org_service
from users.models import User as UserRow

pytestmark = pytest.mark.django_db
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def org_token(org_id) -> Scim:
    _, secret = token_create(name="IdP", org_id=org_id)
    return Scim(secret)


def role_of(org_id, user_id) -> str | None:
    for membership in org_service.list_orgs(user_id=user_id, limit=200).results:
        if membership.org.id == org_id:
            return membership.role
    return None


def group_id(role: str) -> str:
    return str(permission_service.get_role_by_name(name=f"org_{role}").id)


def ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {r["id"] for r in response.json().get("Resources", [])}


def search(scim, expression: str) -> dict:
    response = scim.get(f"Users?filter={quote(expression)}")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def world(db):
    """Two orgs. Acme: its owner, a member its token made (Ada), a member who joined on their own
    (Joe, also a member of Globex), a global administrator who is a member (Root). Globex: its
    owner and Bea, made by Globex's token. An outsider in no org. Tokens for each org, and a
    global one."""
    acme_owner = UserFactory(email="owner@acme.example")
    globex_owner = UserFactory(email="owner@globex.example")
    acme = org_service.create_org(actor_id=acme_owner.id, name="Acme", slug="acme")
    globex = org_service.create_org(actor_id=globex_owner.id, name="Globex", slug="globex")
    # An org token creates accounts only at its org's verified domains (below).
    org_service.confirm_domain(org_id=acme.id, domain="acme.example")
    org_service.confirm_domain(org_id=globex.id, domain="globex.example")
    a, b = org_token(acme.id), org_token(globex.id)
    _, secret = token_create(name="global")
    ada = new_user(a, "ada@acme.example")
    bea = new_user(b, "bea@globex.example")
    joe = UserFactory(email="joe@example.com")
    root = UserFactory(email="root@example.com")
    grant_role(root.id)
    for org, user in ((acme, joe), (globex, joe), (acme, root)):
        org_service.add_member(actor_id=None, org_id=org.id, user_id=user.id, role="member")
    outsider = UserFactory(email="outsider@example.com")
    return {
        "acme": acme,
        "globex": globex,
        "a": a,
        "b": b,
        "global": Scim(secret),
        "acme_owner": str(acme_owner.id),
        "globex_owner": str(globex_owner.id),
        "ada": ada["id"],
        "bea": bea["id"],
        "joe": str(joe.id),
        "root": str(root.id),
        "outsider": str(outsider.id),
    }


# --- Users -------------------------------------------------------------------------------------


def test_users_are_the_orgs_members_only(world):
    a = world["a"]
    acme = {world[k] for k in ("acme_owner", "ada", "joe", "root")}
    assert ids(a.get("Users")) == acme
    assert a.get("Users").json()["totalResults"] == 4
    assert a.get(f"Users/{world['ada']}").status_code == 200
    for outside in ("bea", "globex_owner", "outsider"):
        scim_error(a.get(f"Users/{world[outside]}"), 404)
    assert search(a, 'userName eq "bea@globex.example"')["totalResults"] == 0
    assert search(a, 'userName eq "outsider@example.com"')["totalResults"] == 0
    assert search(a, 'userName eq "ada@acme.example"')["totalResults"] == 1
    assert search(a, 'userName co "@example.com"')["totalResults"] == 2  # joe and root, not the outsider
    # the global token still sees everyone
    assert {world["bea"], world["outsider"], world["ada"]} <= ids(world["global"].get("Users?count=200"))


def test_pagination_counts_members_only(world):
    a = world["a"]
    first = a.get("Users?startIndex=1&count=3").json()
    second = a.get("Users?startIndex=4&count=3").json()
    assert first["totalResults"] == second["totalResults"] == 4
    assert len(first["Resources"]) == 3 and len(second["Resources"]) == 1
    seen = {r["id"] for r in first["Resources"] + second["Resources"]}
    assert seen == {world[k] for k in ("acme_owner", "ada", "joe", "root")}


def test_an_external_id_lookup_finds_members_only(world):
    ScimUser.objects.filter(user_id=world["bea"]).update(external_id="shared-42")
    assert search(world["a"], 'externalId eq "shared-42"')["totalResults"] == 0
    assert search(world["b"], 'externalId eq "shared-42"')["totalResults"] == 1


def test_post_creates_a_member_of_the_org(world):
    cid = new_user(world["a"], "cid@acme.example", displayName="Cid")["id"]
    assert role_of(world["acme"].id, uuid.UUID(cid)) == "member"
    assert ScimUser.objects.get(user_id=cid).org_id == world["acme"].id
    assert cid in ids(world["a"].get("Users"))
    scim_error(world["b"].get(f"Users/{cid}"), 404)


def test_post_of_an_inactive_user_makes_an_inactive_member(world):
    cid = new_user(world["a"], "cid@acme.example", active=False)
    assert cid["active"] is False
    assert role_of(world["acme"].id, uuid.UUID(cid["id"])) == "member"
    assert not user_service.get_user(user_id=uuid.UUID(cid["id"])).is_active


def test_a_token_whose_org_was_deleted_lists_and_creates_nobody(world):
    a, acme = world["a"], world["acme"]
    org_service.delete_org(actor_id=None, org_id=acme.id)
    before = snapshot()
    assert ids(a.get("Users")) == set()
    scim_error(a.get(f"Users/{world['ada']}"), 404)
    scim_error(a.post("Users", {"schemas": [USER_SCHEMA], "userName": "new@acme.example"}), 403)
    assert "members" not in str(a.get("Groups").json())
    assert snapshot() == before


@pytest.mark.parametrize("email", ["ADA@acme.example", "owner@acme.example", "zed@acme.example"])
def test_post_of_an_address_with_an_account_is_409_and_reveals_nothing(world, email):
    UserFactory(email="zed@acme.example")  # at the org's domain, in no org
    before = snapshot()
    body = scim_error(world["a"].post("Users", {"schemas": [USER_SCHEMA], "userName": email}), 409, "uniqueness")
    assert body["detail"] == "userName is already taken."  # the same words, whoever holds it and where
    assert snapshot() == before


def test_an_org_token_changes_an_account_it_made_and_no_other(world):
    a = world["a"]
    renamed = a.patch(f"Users/{world['ada']}", [{"op": "replace", "path": "userName", "value": "ada.l@acme.example"}])
    assert renamed.status_code in (200, 204), renamed.content
    assert user_service.get_user(user_id=uuid.UUID(world["ada"])).email == "ada.l@acme.example"

    before = snapshot()
    for user in ("joe", "root", "acme_owner"):
        for change in (
            [{"op": "replace", "path": "userName", "value": "mallory@evil.example"}],
            [{"op": "replace", "path": "displayName", "value": "Mallory"}],
            [{"op": "add", "path": "emails", "value": [{"value": "mallory@evil.example", "type": "work"}]}],
            [{"op": "replace", "path": "name.familyName", "value": "Mallory"}],
        ):
            body = scim_error(a.patch(f"Users/{world[user]}", change), 403)
            assert "beyond this organization" in body["detail"]
        body = scim_error(
            a.put(f"Users/{world[user]}", {"schemas": [USER_SCHEMA], "userName": "mallory@evil.example"}), 403
        )
    assert snapshot() == before


def test_an_account_that_gained_a_grant_elsewhere_is_no_longer_the_orgs_to_change(world):
    org = org_service.create_org(actor_id=UserFactory().id, name="Initech", slug="initech")
    org_service.add_member(actor_id=None, org_id=org.id, user_id=uuid.UUID(world["ada"]), role="member")
    before = snapshot()
    change = [{"op": "replace", "path": "userName", "value": "mallory@evil.example"}]
    scim_error(world["a"].patch(f"Users/{world['ada']}", change), 403)
    assert snapshot() == before


@pytest.mark.parametrize("made_by", ["global token", "org token, then an RBAC group"])
def test_an_account_in_this_org_alone_is_still_not_the_orgs_when_it_did_not_make_it_or_it_has_a_group(world, made_by):
    if made_by == "global token":
        user_id = uuid.UUID(new_user(world["global"], "eve@example.com")["id"])
        org_service.add_member(actor_id=None, org_id=world["acme"].id, user_id=user_id, role="member")
    else:
        user_id = uuid.UUID(world["ada"])
        rbac = permission_service.create_group(actor_id=None, name="engineers")
        permission_service.add_group_member(actor_id=None, group_id=rbac.id, user_id=user_id)
    before = snapshot()
    change = [{"op": "replace", "path": "userName", "value": "mallory@evil.example"}]
    scim_error(world["a"].patch(f"Users/{user_id}", change), 403)
    assert snapshot() == before


@pytest.mark.parametrize("how", ["patch", "delete"])
def test_deprovisioning_an_account_the_org_alone_holds_removes_and_deactivates_it(world, how):
    api, user_id = signed_in("dan@acme.example")
    org_service.add_member(actor_id=None, org_id=world["acme"].id, user_id=user_id, role="member")
    ScimUser.objects.create(user_id=user_id, org_id=world["acme"].id)  # as if the token had made it
    a = world["a"]
    if how == "patch":
        response = a.patch(f"Users/{user_id}", [{"op": "replace", "path": "active", "value": False}])
    else:
        response = a.delete(f"Users/{user_id}")
    assert response.status_code in (200, 204), response.content
    assert api.get("/api/v1/users/me").status_code == 401  # the next request is refused
    assert auth_service.list_sessions(user_id=user_id) == []
    assert not user_service.get_user(user_id=user_id).is_active
    assert role_of(world["acme"].id, user_id) is None
    assert not Assignment.objects.filter(user_id=user_id, scope=org_scope(world["acme"].id)).exists()
    scim_error(a.get(f"Users/{user_id}"), 404)


@pytest.mark.parametrize("how", ["patch", "delete"])
def test_deprovisioning_an_independent_account_only_removes_it_from_the_org(world, how):
    a, joe = world["a"], uuid.UUID(world["joe"])
    if how == "patch":
        response = a.patch(f"Users/{joe}", [{"op": "replace", "value": {"active": False}}])
    else:
        response = a.delete(f"Users/{joe}")
    assert response.status_code in (200, 204), response.content
    assert role_of(world["acme"].id, joe) is None  # out of Acme, its grants there revoked
    assert not permission_service.check(user_id=joe, permission="orgs.org.view", scope=org_scope(world["acme"].id))
    assert user_service.get_user(user_id=joe).is_active  # the account is not Acme's to close
    assert role_of(world["globex"].id, joe) == "member"
    scim_error(a.get(f"Users/{joe}"), 404)
    assert world["joe"] in ids(world["b"].get("Users"))


def test_an_owner_or_a_global_administrator_is_not_removed_by_an_org_token(world):
    before = snapshot()
    for user in ("acme_owner", "root"):
        scim_error(world["a"].delete(f"Users/{world[user]}"), 403)
        scim_error(world["a"].patch(f"Users/{world[user]}", [{"op": "replace", "path": "active", "value": False}]), 403)
    assert snapshot() == before


def test_an_org_token_reactivates_an_account_it_made(world):
    a, ada = world["a"], uuid.UUID(world["ada"])
    user_service.deactivate_user(user_id=ada)  # e.g. by an operator; Ada stays a member
    response = a.patch(f"Users/{ada}", [{"op": "replace", "path": "active", "value": True}])
    assert response.status_code in (200, 204), response.content
    assert user_service.get_user(user_id=ada).is_active


def test_an_org_token_does_not_reactivate_an_independent_account(world):
    joe = uuid.UUID(world["joe"])
    user_service.deactivate_user(user_id=joe)
    scim_error(world["a"].patch(f"Users/{joe}", [{"op": "replace", "path": "active", "value": True}]), 403)
    assert not user_service.get_user(user_id=joe).is_active


# --- Groups ------------------------------------------------------------------------------------


def test_groups_are_the_orgs_roles(world):
    response = world["a"].get("Groups")
    assert response.status_code == 200
    groups = {r["displayName"]: r for r in response.json()["Resources"]}
    assert set(groups) == {"owner", "admin", "member"}
    assert {m["value"] for m in groups["owner"]["members"]} == {world["acme_owner"]}
    assert {m["value"] for m in groups["member"]["members"]} == {world["ada"], world["joe"], world["root"]}
    assert "members" not in groups["admin"]
    assert groups["admin"]["id"] == group_id("admin")
    # the same group under Globex's token lists Globex's people
    globex_members = world["b"].get(f"Groups/{group_id('member')}").json()["members"]
    assert {m["value"] for m in globex_members} == {world["bea"], world["joe"]}


def test_adding_to_admin_promotes_and_removing_demotes(world):
    a, acme, ada = world["a"], world["acme"].id, uuid.UUID(world["ada"])
    add = [{"op": "add", "path": "members", "value": [{"value": str(ada)}]}]
    assert a.patch(f"Groups/{group_id('admin')}", add).status_code in (200, 204)
    assert role_of(acme, ada) == "admin"
    remove = [{"op": "remove", "path": f'members[value eq "{ada}"]'}]
    assert a.patch(f"Groups/{group_id('admin')}", remove).status_code in (200, 204)
    assert role_of(acme, ada) == "member"
    assert a.patch(f"Groups/{group_id('member')}", remove).status_code in (200, 204)
    assert role_of(acme, ada) is None  # out of the member group: out of the org
    assert user_service.get_user(user_id=ada).is_active


def test_owners_are_not_made_or_unmade_by_an_org_token(world):
    a = world["a"]
    before = snapshot()
    add = [{"op": "add", "path": "members", "value": [{"value": world["ada"]}]}]
    body = scim_error(a.patch(f"Groups/{group_id('owner')}", add), 403)
    assert "Owners" in body["detail"]
    remove = [{"op": "remove", "path": f'members[value eq "{world["acme_owner"]}"]'}]
    scim_error(a.patch(f"Groups/{group_id('owner')}", remove), 403)
    promote_root = [{"op": "add", "path": "members", "value": [{"value": world["root"]}]}]
    scim_error(a.patch(f"Groups/{group_id('admin')}", promote_root), 403)  # holds more than an org admin
    assert snapshot() == before


def test_org_groups_are_not_created_renamed_or_deleted(world):
    a = world["a"]
    before = snapshot()
    scim_error(a.post("Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Engineers"}), 403)
    scim_error(a.delete(f"Groups/{group_id('member')}"), 403)
    scim_error(a.patch(f"Groups/{group_id('member')}", [{"op": "replace", "path": "displayName", "value": "x"}]), 403)
    assert snapshot() == before


# --- Addresses only at the org's verified domains ---------------------------------------------

NOT_VERIFIED = "must verify the domain first"


def post(scim, user_name, **extra):
    return scim.post("Users", {"schemas": [USER_SCHEMA], "userName": user_name, **extra})


def refused_address(response) -> None:
    body = scim_error(response, 400, "invalidValue")
    assert NOT_VERIFIED in body["detail"], body


@pytest.mark.parametrize(
    "user_name",
    [
        "cid@example.com",  # no domain of the org's
        "cid@pending.example",  # Acme's, pending
        "cid@globex.example",  # verified, by Globex
        "owner@globex.example",  # an address with an account elsewhere: 400 too, its account not revealed
        "cid@sub.acme.example",  # subdomains are not the domain
        "cid@acme.example.evil.test",
        "cid@evilacme.example",
        "cid@evil.test#@acme.example",
        "cid@evil.test@acme.example",
        '"cid@evil.test"@acme.example',
        "cid@acme.example.",  # a trailing dot
        "cid@acme.example@",
        "cid@ acme.example",
        "@acme.example",
        "acme.example",
        "cid@xn--bcher-kva.example.evil.test",
    ],
)
def test_post_refuses_addresses_outside_the_orgs_verified_domains(world, user_name):
    org_service.add_domain(actor_id=uuid.UUID(world["acme_owner"]), org_id=world["acme"].id, domain="pending.example")
    org_service.confirm_domain(org_id=world["acme"].id, domain="bücher.example")
    before = snapshot()
    refused_address(post(world["a"], user_name))
    assert snapshot() == before
    assert not UserRow.objects.filter(email__icontains="cid").exists()


@pytest.mark.parametrize(
    ("user_name", "stored"),
    [
        ("cid@acme.example", "cid@acme.example"),
        ("CID@ACME.Example", "cid@acme.example"),
        ("cid@bücher.example", "cid@bücher.example"),  # the Unicode form of the verified A-label
        ("cid@xn--bcher-kva.example", "cid@xn--bcher-kva.example"),
        ("cid@BÜCHER.example", "cid@bücher.example"),
    ],
)
def test_post_accepts_addresses_at_the_orgs_verified_domains(world, user_name, stored):
    org_service.confirm_domain(org_id=world["acme"].id, domain="Bücher.Example.")  # stored as its A-label
    made = new_user(world["a"], user_name)
    assert user_service.get_user(user_id=uuid.UUID(made["id"])).email == stored
    assert role_of(world["acme"].id, uuid.UUID(made["id"])) == "member"


def test_post_refuses_a_primary_or_work_email_outside_the_verified_domains(world):
    before = snapshot()
    for email in ({"value": "cid@evil.com", "type": "work"}, {"value": "cid@evil.com", "primary": True}):
        refused_address(post(world["a"], "cid@acme.example", emails=[email]))
    assert snapshot() == before
    home = new_user(world["a"], "cid@acme.example", emails=[{"value": "cid@home.com", "type": "home"}])
    assert home["emails"] == [{"value": "cid@home.com", "type": "home"}]


def test_the_same_address_is_refused_to_the_org_that_did_not_verify_its_domain(world):
    assert post(world["b"], "cid@acme.example").status_code == 400
    assert new_user(world["a"], "cid@acme.example")["userName"] == "cid@acme.example"


def test_an_org_without_a_verified_domain_creates_nobody_and_still_manages_its_members(world):
    a = world["a"]
    org_service.add_domain(actor_id=uuid.UUID(world["acme_owner"]), org_id=world["acme"].id, domain="other.example")
    domain = next(
        d for d in org_service.list_domains(actor_id=None, org_id=world["acme"].id) if d.domain == "acme.example"
    )
    org_service.delete_domain(actor_id=None, org_id=world["acme"].id, domain_id=domain.id)
    before = snapshot()
    refused_address(post(a, "cid@acme.example"))
    refused_address(
        a.patch(f"Users/{world['ada']}", [{"op": "replace", "path": "userName", "value": "a@acme.example"}])
    )
    assert snapshot() == before
    # existing members: still changed (but for their address), removed, deactivated
    renamed = a.patch(f"Users/{world['ada']}", [{"op": "replace", "path": "displayName", "value": "Ada L."}])
    assert renamed.status_code in (200, 204), renamed.content
    assert user_service.get_user(user_id=uuid.UUID(world["ada"])).display_name == "Ada L."
    assert a.delete(f"Users/{world['ada']}").status_code == 204
    assert not user_service.get_user(user_id=uuid.UUID(world["ada"])).is_active


@pytest.mark.parametrize(
    "change",
    [
        [{"op": "replace", "path": "userName", "value": "ada@evil.com"}],
        [{"op": "replace", "path": "userName", "value": "ada@acme.example.evil.test"}],
        [{"op": "replace", "path": "userName", "value": "ada@globex.example"}],
        [{"op": "replace", "value": {"userName": "ada@evil.test", "displayName": "Mallory"}}],
        [{"op": "add", "path": "emails", "value": [{"value": "ada@evil.com", "type": "work"}]}],
        [{"op": "add", "path": "emails", "value": [{"value": "ada@evil.com", "primary": True}]}],
        [
            {"op": "replace", "path": "displayName", "value": "Mallory"},
            {"op": "add", "path": "emails", "value": [{"value": "ADA@Evil.Com", "type": "Work"}]},
        ],
    ],
)
def test_patch_to_an_address_outside_the_orgs_verified_domains_changes_nothing(world, change):
    a, ada = world["a"], uuid.UUID(world["ada"])
    before = snapshot()
    refused_address(a.patch(f"Users/{ada}", change))
    assert snapshot() == before
    row = UserRow.objects.get(id=ada)
    assert (row.email, row.pending_email, row.display_name) == ("ada@acme.example", "", "")


def test_put_to_an_outside_address_changes_nothing(world):
    before = snapshot()
    body = {"schemas": [USER_SCHEMA], "userName": "ada@evil.test", "displayName": "Mallory"}
    refused_address(world["a"].put(f"Users/{world['ada']}", body))
    assert snapshot() == before


def test_changes_within_the_verified_domains_and_other_emails_are_accepted(world):
    a, ada = world["a"], world["ada"]
    org_service.confirm_domain(org_id=world["acme"].id, domain="acme-labs.example")
    ok = a.patch(
        f"Users/{ada}",
        [
            {"op": "replace", "path": "userName", "value": "Ada@ACME-labs.example"},
            {"op": "add", "path": "emails", "value": [{"value": "ada@acme.example", "type": "work", "primary": True}]},
            # a home address is the person's own: kept as written, it changes nothing in Gatehouse
            {"op": "add", "path": "emails", "value": [{"value": "ada@home.com", "type": "home"}]},
        ],
    )
    assert ok.status_code in (200, 204), ok.content
    assert UserRow.objects.get(id=ada).email == "ada@acme-labs.example"
    # a work address the account already has is no change: a later PUT that repeats it is accepted
    # even once its domain is no longer verified
    domain = next(
        d for d in org_service.list_domains(actor_id=None, org_id=world["acme"].id) if d.domain == "acme.example"
    )
    org_service.delete_domain(actor_id=None, org_id=world["acme"].id, domain_id=domain.id)
    body = a.get(f"Users/{ada}").json()
    assert {e["value"] for e in body["emails"]} == {"ada@acme.example", "ada@home.com"}
    body.pop("meta")
    body["displayName"] = "Ada"
    again = a.put(f"Users/{ada}", body)
    assert again.status_code in (200, 204), again.content
    assert UserRow.objects.get(id=ada).display_name == "Ada"


def test_global_tokens_are_unchanged(world):
    made = new_user(world["global"], "cid@evil.test")
    renamed = world["global"].patch(
        f"Users/{made['id']}", [{"op": "replace", "path": "userName", "value": "cid@other.test"}]
    )
    assert renamed.status_code in (200, 204), renamed.content


# --- The isolation matrix ----------------------------------------------------------------------


def snapshot() -> tuple:
    """Everything SCIM can change, as rows."""
    return (
        sorted(UserRow.objects.values_list("id", "email", "display_name", "is_active", "pending_email")),
        sorted(Assignment.objects.values_list("id", "role_id", "user_id", "group_id", "scope")),
        sorted(GroupMembership.objects.values_list("group_id", "user_id")),
        sorted(RbacGroup.objects.values_list("id", "name")),
        sorted(
            (str(r.user_id), r.external_id, str(r.attributes), r.deleted, str(r.org_id)) for r in ScimUser.objects.all()
        ),
    )


def _routes(target: str, group: str) -> list:
    user_body = {"schemas": [USER_SCHEMA], "userName": "mallory@evil.example", "active": False}
    group_body = {"schemas": [GROUP_SCHEMA], "displayName": "x", "members": [{"value": target}]}
    deactivate = [{"op": "replace", "path": "active", "value": False}]
    rename = [{"op": "replace", "path": "userName", "value": "mallory@evil.example"}]
    add = [{"op": "add", "path": "members", "value": [{"value": target}]}]
    return [
        ("GET user", lambda s: s.get(f"Users/{target}"), 404),
        ("PUT user", lambda s: s.put(f"Users/{target}", user_body), 404),
        ("PATCH user active", lambda s: s.patch(f"Users/{target}", deactivate), 404),
        ("PATCH user userName", lambda s: s.patch(f"Users/{target}", rename), 404),
        ("DELETE user", lambda s: s.delete(f"Users/{target}"), 404),
        ("GET group", lambda s: s.get(f"Groups/{group}"), 404),
        ("PUT group", lambda s: s.put(f"Groups/{group}", group_body), 404),
        ("PATCH group", lambda s: s.patch(f"Groups/{group}", add), 404),
        ("DELETE group", lambda s: s.delete(f"Groups/{group}"), 404),
        ("PATCH admin role with them", lambda s: s.patch(f"Groups/{group_id('admin')}", add), 400),
        (
            "PUT member role with them",
            lambda s: s.put(f"Groups/{group_id('member')}", {**group_body, "displayName": "member"}),
            400,
        ),
    ]


@pytest.mark.parametrize(
    ("token", "target", "own_member"),
    [
        ("a", "bea", "ada@acme.example"),
        ("a", "globex_owner", "ada@acme.example"),
        ("a", "outsider", "ada@acme.example"),
        ("b", "ada", "bea@globex.example"),
        ("b", "acme_owner", "bea@globex.example"),
        ("b", "root", "bea@globex.example"),
        ("b", "outsider", "bea@globex.example"),
    ],
)
def test_an_org_token_reaches_nothing_outside_its_org_and_changes_nothing(world, token, target, own_member):
    rbac = permission_service.create_group(actor_id=None, name="engineers")
    permission_service.add_group_member(actor_id=None, group_id=rbac.id, user_id=uuid.UUID(world[target]))
    a, user = world[token], world[target]
    before = snapshot()
    for name, call, status in _routes(user, str(rbac.id)):
        response = call(a)
        scim_error(response, status)
        # exactly the answer for ids nobody has (the ids asked for are echoed, nothing else)
        nobody, no_group = str(uuid.uuid4()), str(uuid.uuid4())
        twin = next(c for n, c, _ in _routes(nobody, no_group) if n == name)(a)
        assert twin.status_code == response.status_code, name
        seen = response.content.decode().replace(user, "ID").replace(str(rbac.id), "GID")
        assert seen == twin.content.decode().replace(nobody, "ID").replace(no_group, "GID"), name
        assert snapshot() == before, name
    listed = {r["id"] for r in a.get("Users?count=200").json()["Resources"]}
    assert user not in listed
    groups = a.get("Groups").json()["Resources"]
    assert str(rbac.id) not in {g["id"] for g in groups}
    assert user not in str(groups)
    email = user_service.get_user(user_id=uuid.UUID(user)).email
    assert search(a, f'userName eq "{email}"')["totalResults"] == 0
    assert search(a, f'emails.value eq "{email}"')["totalResults"] == 0
    for endpoint in ("Users/.search", ".search"):
        found = a.post(endpoint, {"schemas": [SEARCH_SCHEMA], "filter": f'userName eq "{email}"'})
        assert found.status_code == 200, found.content
        assert found.json()["totalResults"] == 0 and user not in found.content.decode()
        member = a.post(endpoint, {"schemas": [SEARCH_SCHEMA], "filter": f'userName eq "{own_member}"'})
        assert member.json()["totalResults"] == 1  # the same search finds a member


def test_org_b_token_mirrors_it_and_the_global_token_reaches_both(world):
    b, g = world["b"], world["global"]
    for acme_only in ("ada", "acme_owner", "root"):
        scim_error(b.get(f"Users/{world[acme_only]}"), 404)
        scim_error(b.delete(f"Users/{world[acme_only]}"), 404)
    for user in ("ada", "bea", "outsider"):
        assert g.get(f"Users/{world[user]}").status_code == 200
    assert {"owner", "admin", "member"}.isdisjoint(
        {r["displayName"] for r in g.get("Groups").json().get("Resources", [])}
    )
