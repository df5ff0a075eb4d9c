"""SCIM tokens made by `manage.py scim_token` and in the admin: shown once, stored as a digest,
listed and revoked (docs/scim.md)."""

from __future__ import annotations

import json
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from permissions.interface import permission_service
from scim.models import ScimToken
from scim.tokens import token_create
from tests.scim.conftest import Scim
from tests.support.factories import UserFactory
from tests.support.rbac import grant_role
from users.interface import user_service
from users.interface.orgs import org_service

pytestmark = pytest.mark.django_db

PASSWORD = "a-Long-unguessable-passphrase-42"


def run(*args) -> str:
    out = StringIO()
    call_command("scim_token", *args, stdout=out)
    return out.getvalue()


def test_create_json_prints_the_token_once_and_it_works():
    secret = json.loads(run("create", "--name", "Okta", "--json"))["token"]
    token = ScimToken.objects.get()
    assert token.name == "Okta" and secret not in token.digest
    assert Scim(secret).get("Users").status_code == 200
    listing = run("list")
    assert str(token.id) in listing and token.prefix in listing and secret not in listing


def test_org_makes_a_token_of_that_organization():
    owner = UserFactory()
    org = org_service.create_org(actor_id=owner.id, name="Acme", slug="acme")
    secret = json.loads(run("create", "--name", "Acme Okta", "--org", str(org.id), "--json"))["token"]
    token = ScimToken.objects.get()
    assert token.org_id == org.id
    listed = Scim(secret).get("Users").json()
    assert [r["id"] for r in listed["Resources"]] == [str(owner.id)]  # its members only
    assert f"org {org.id}" in run("list")


@pytest.mark.parametrize("org", ["acme", "00000000-0000-0000-0000-000000000000"])
def test_org_that_is_not_an_organizations_id_is_refused(db, org):
    UserFactory()
    with pytest.raises(CommandError, match="no organization"):
        run("create", "--org", org, "--json")
    assert not ScimToken.objects.exists()


def test_revoke_stops_the_token():
    secret = json.loads(run("create", "--json"))["token"]
    token = ScimToken.objects.get()
    assert "revoked" in run("revoke", str(token.id))
    assert Scim(secret).get("Users").status_code == 401
    assert "revoked" in run("list")
    with pytest.raises(CommandError, match="no SCIM token"):
        run("revoke", "not-an-id")


@pytest.fixture
def admin_client(client):
    root = UserFactory(email="root@example.com", password=PASSWORD, is_staff=True)
    grant_role(root.id)  # the admin role
    assert client.login(username="root@example.com", password=PASSWORD)
    return client


def test_the_admin_makes_a_token_shows_it_once_lists_and_revokes_it(admin_client):
    response = admin_client.post("/admin/scim/scimtoken/add/", {"name": "Entra ID"}, follow=True)
    assert response.status_code == 200
    token = ScimToken.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    secret = next(m.split(": ", 1)[1] for m in shown if "shown this once" in m)
    assert Scim(secret).get("Users").status_code == 200

    listing = admin_client.get("/admin/scim/scimtoken/")
    assert b"Entra ID" in listing.content and token.prefix.encode() in listing.content
    assert secret.encode() not in listing.content
    assert secret.encode() not in admin_client.get(f"/admin/scim/scimtoken/{token.id}/change/").content

    admin_client.post("/admin/scim/scimtoken/", {"action": "revoke", "_selected_action": [str(token.id)]})
    assert ScimToken.objects.get().revoked_at is not None
    assert Scim(secret).get("Users").status_code == 401


def test_the_admin_makes_an_organization_token_and_refuses_an_unknown_organization(admin_client):
    owner = UserFactory()
    org = org_service.create_org(actor_id=owner.id, name="Acme", slug="acme")
    refused = admin_client.post("/admin/scim/scimtoken/add/", {"name": "Okta", "org_id": str(uuid.uuid4())})
    assert refused.status_code == 200 and b"No organization has this id" in refused.content
    assert not ScimToken.objects.exists()

    response = admin_client.post("/admin/scim/scimtoken/add/", {"name": "Okta", "org_id": str(org.id)}, follow=True)
    assert ScimToken.objects.get().org_id == org.id
    secret = next(str(m).split(": ", 1)[1] for m in response.context["messages"] if "shown this once" in str(m))
    assert [r["id"] for r in Scim(secret).get("Users").json()["Resources"]] == [str(owner.id)]


def test_staff_without_scim_token_manage_cannot_see_or_make_tokens(client):
    UserFactory(email="staff@example.com", password=PASSWORD, is_staff=True)
    assert client.login(username="staff@example.com", password=PASSWORD)
    assert client.get("/admin/scim/scimtoken/").status_code == 403
    assert client.post("/admin/scim/scimtoken/add/", {"name": "sneaky"}).status_code == 403
    assert not ScimToken.objects.exists()


def test_scim_token_manage_alone_lists_and_revokes_tokens_but_cannot_make_one(client):
    """A global token can change any user's email, then a password reset takes the account over:
    only the admin role, which could do that anyway, makes one. A holder of scim.token.manage
    alone lists and revokes."""
    existing, secret = token_create(name="Entra ID")
    permission_service.create_role(actor_id=None, name="provisioning", permissions=["scim.token.manage"])
    staff = UserFactory(email="staff@example.com", password=PASSWORD, is_staff=True)
    grant_role(staff.id, "provisioning")
    assert client.login(username="staff@example.com", password=PASSWORD)

    assert client.get("/admin/scim/scimtoken/").status_code == 200
    assert client.get("/admin/scim/scimtoken/add/").status_code == 403
    assert client.post("/admin/scim/scimtoken/add/", {"name": "Okta"}).status_code == 403
    assert list(ScimToken.objects.values_list("name", flat=True)) == ["Entra ID"]

    client.post("/admin/scim/scimtoken/", {"action": "revoke", "_selected_action": [str(existing.id)]})
    assert ScimToken.objects.get().revoked_at is not None
    assert Scim(secret).get("Users").status_code == 401


def test_a_token_manager_cannot_take_over_an_administrator_through_scim(client):
    """The attack this closes, end to end over HTTP: mint a token in the admin, then point an
    administrator's email at a mailbox the attacker reads. Nothing is made, nothing changes."""
    root = UserFactory(email="root@example.com", password=PASSWORD, is_staff=True)
    grant_role(root.id)
    permission_service.create_role(actor_id=None, name="provisioning", permissions=["scim.token.manage"])
    attacker = UserFactory(email="mallory@example.com", password=PASSWORD, is_staff=True)
    grant_role(attacker.id, "provisioning")
    assert client.login(username="mallory@example.com", password=PASSWORD)

    response = client.post("/admin/scim/scimtoken/add/", {"name": "Okta"}, follow=True)
    assert response.status_code == 403
    assert not ScimToken.objects.exists()
    assert user_service.get_user(user_id=root.id).email == "root@example.com"
