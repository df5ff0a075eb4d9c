"""Clients in the Django admin: registered through the auth service, the secret shown once."""

from __future__ import annotations

import re

import pytest

from auth.interface.oidc import oidc_provider
from permissions.interface import ADMIN_ROLE
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db
ADD = "/admin/gatehouse_auth/oidcclient/add/"


@pytest.fixture
def operator(client):
    from users.models import User

    user = UserFactory(email="op@example.com", display_name="Op", is_staff=True, roles=[ADMIN_ROLE])
    client.force_login(User.objects.get(id=user.id))
    return client


def test_an_operator_registers_a_client_and_sees_its_secret_once(operator):
    response = operator.post(
        ADD,
        {
            "name": "Grafana",
            "redirect_uris_text": "https://grafana.example.com/login/generic_oauth",
            "post_logout_text": "",
            "grant_types_choice": ["authorization_code", "refresh_token"],
            "permissions_scope": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    shown = re.search(r"shown only now: ([A-Za-z0-9_\-]+)", response.content.decode())
    assert shown, response.content.decode()[:2000]
    [client] = oidc_provider.list_clients()
    assert client.name == "Grafana" and client.redirect_uris == ("https://grafana.example.com/login/generic_oauth",)
    listing = operator.get("/admin/gatehouse_auth/oidcclient/").content.decode()
    assert "Grafana" in listing and shown.group(1) not in listing


def test_a_bad_redirect_uri_is_shown_on_the_form_and_nothing_is_registered(operator):
    response = operator.post(
        ADD,
        {
            "name": "Bad",
            "redirect_uris_text": "http://evil.example.com/cb",
            "grant_types_choice": ["authorization_code"],
        },
    )
    assert response.status_code == 200 and "Not a usable redirect URI" in response.content.decode()
    assert oidc_provider.list_clients() == []


def test_deleting_a_client_in_the_admin_removes_it(operator):
    created = oidc_provider.create_client(name="Old", redirect_uris=["https://e.com/cb"])
    url = f"/admin/gatehouse_auth/oidcclient/{created.client.client_id}/delete/"
    response = operator.post(url, {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert oidc_provider.list_clients() == []
