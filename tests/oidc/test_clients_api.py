"""`/api/v1/oidc/clients` (docs/oidc.md)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from permissions.interface import ADMIN_ROLE
from tests.support.factories import PASSWORD, UserFactory
from tests.support.http import tokens_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("oidc_transport")]
CLIENTS = "/api/v1/oidc/clients"


@pytest.fixture
def admin_api(db):
    UserFactory(email="root@example.com", display_name="Root", roles=[ADMIN_ROLE])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_of(api, 'root@example.com', PASSWORD)['access_token']}")
    return api


def test_an_admin_registers_lists_and_removes_a_client(admin_api):
    created = admin_api.post(
        CLIENTS,
        {"name": "Grafana", "redirect_uris": ["https://grafana.example.com/login/generic_oauth"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["client_secret"] and body["client"]["grant_types"] == ["authorization_code", "refresh_token"]
    assert created["Cache-Control"] == "no-store"
    listed = admin_api.get(CLIENTS).json()["results"]
    assert [c["name"] for c in listed] == ["Grafana"] and "client_secret" not in listed[0]
    client_id = body["client"]["client_id"]
    assert admin_api.get(f"{CLIENTS}/{client_id}").json()["name"] == "Grafana"
    assert admin_api.delete(f"{CLIENTS}/{client_id}").status_code == 204
    missing = admin_api.get(f"{CLIENTS}/{client_id}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "oidc_client_not_found"


def test_a_bad_registration_is_a_validation_error_in_the_envelope(admin_api):
    response = admin_api.post(CLIENTS, {"name": "x", "redirect_uris": ["http://evil.example.com/cb"]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert admin_api.get(CLIENTS).json()["results"] == []


def test_users_without_the_permission_get_403_and_anonymous_401(db):
    UserFactory(email="ada@example.com", display_name="Ada")
    api = APIClient()
    assert api.get(CLIENTS).status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_of(api, 'ada@example.com', PASSWORD)['access_token']}")
    assert api.get(CLIENTS).status_code == 403
    assert api.post(CLIENTS, {"name": "x", "redirect_uris": ["https://e.com/cb"]}, format="json").status_code == 403
