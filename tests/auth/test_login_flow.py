"""Register, log in, use, refresh, log out: the happy paths of docs/auth.md over HTTP."""

import pytest

from tests.support.factories import PASSWORD
from tests.support.http import bearer, login

pytestmark = pytest.mark.django_db


def test_registration_creates_an_unverified_user_and_answers_201(api):
    response = api.post(
        "/api/v1/auth/register",
        {"email": "Grace@Example.com", "password": PASSWORD, "display_name": "Grace"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "grace@example.com"
    assert body["is_verified"] is False
    assert body["mfa_enabled"] is False
    assert set(body) == {"id", "email", "display_name", "is_verified", "is_active", "date_joined", "mfa_enabled"}
    assert body["date_joined"].endswith("Z")


def test_login_returns_a_bearer_token_pair(api, ada):
    response = login(api)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["access_token"].count(".") == 2
    assert body["refresh_token"]


def test_the_access_token_opens_the_profile(api, tokens):
    response = api.get("/api/v1/users/me", **bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.com"


def test_the_profile_needs_a_token(api, db):
    response = api.get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_refresh_rotates_the_pair(api, tokens):
    response = api.post("/api/v1/auth/token/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert response.status_code == 200
    fresh = response.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert api.get("/api/v1/users/me", **bearer(fresh["access_token"])).status_code == 200


def test_logout_stops_the_access_token_at_once(api, tokens):
    assert api.post("/api/v1/auth/logout", **bearer(tokens["access_token"])).status_code == 204
    response = api.get("/api/v1/users/me", **bearer(tokens["access_token"]))
    assert response.status_code == 401
    refreshed = api.post("/api/v1/auth/token/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert refreshed.status_code == 401


def test_logout_with_the_refresh_token_alone(api, tokens):
    response = api.post("/api/v1/auth/logout", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert response.status_code == 204
    assert api.get("/api/v1/users/me", **bearer(tokens["access_token"])).status_code == 401


def test_wrong_password_and_unknown_email_get_the_same_answer(api, ada):
    wrong = login(api, password="not-the-password-at-all")
    unknown = login(api, email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"


def test_jwks_publishes_the_verifying_key(api, tokens):
    keys = api.get("/.well-known/jwks.json").json()["keys"]
    assert [k["alg"] for k in keys] == ["RS256"]
    assert {"kid", "use", "kty", "n", "e"} <= set(keys[0])
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])
