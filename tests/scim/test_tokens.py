"""SCIM tokens made by `manage.py scim_token` and in the admin: shown once, stored as a digest,
listed and revoked (docs/scim.md)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from permissions.interface import permission_service
from scim.models import ScimToken
from tests.scim.conftest import Scim
from tests.support.rbac import grant_role
from users.interface import user_service

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


def test_org_is_refused_until_organizations_exist():
    with pytest.raises(CommandError, match="no organizations"):
        run("create", "--org", "acme", "--json")
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
    root = user_service.create_user(email="root@example.com", password=PASSWORD, is_staff=True)
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


def test_staff_without_scim_token_manage_cannot_see_or_make_tokens(client):
    user_service.create_user(email="staff@example.com", password=PASSWORD, is_staff=True)
    assert client.login(username="staff@example.com", password=PASSWORD)
    assert client.get("/admin/scim/scimtoken/").status_code == 403
    assert client.post("/admin/scim/scimtoken/add/", {"name": "sneaky"}).status_code == 403
    assert not ScimToken.objects.exists()


def test_scim_token_manage_alone_opens_the_tokens_page(client):
    permission_service.create_role(actor_id=None, name="provisioning", permissions=["scim.token.manage"])
    staff = user_service.create_user(email="staff@example.com", password=PASSWORD, is_staff=True)
    grant_role(staff.id, "provisioning")
    assert client.login(username="staff@example.com", password=PASSWORD)
    assert client.get("/admin/scim/scimtoken/").status_code == 200
    assert client.post("/admin/scim/scimtoken/add/", {"name": "Okta"}).status_code == 302
    assert ScimToken.objects.get().name == "Okta"
