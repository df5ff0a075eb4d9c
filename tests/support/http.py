"""The HTTP side of tests: signing in through the real token endpoint, bearer headers, and the
error envelope every JSON error answers with (docs/api.md)."""

from __future__ import annotations

from rest_framework.test import APIClient

from tests.support.factories import PASSWORD

TOKEN = "/api/v1/auth/token"


def login(api, email="ada@example.com", password=PASSWORD, *, otp=None, **environ):
    """POST /api/v1/auth/token; `environ` goes to the request (e.g. REMOTE_ADDR), not the body."""
    body = {"email": email, "password": password} | ({"otp": otp} if otp is not None else {})
    return api.post(TOKEN, body, format="json", **environ)


def tokens_of(api, email="ada@example.com", password=PASSWORD, **extra) -> dict:
    """The token pair of a sign-in that must succeed."""
    response = login(api, email, password, **extra)
    assert response.status_code == 200, response.content
    return response.json()


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def client_for(user, password=PASSWORD) -> APIClient:
    """A client signed in as `user` through the real token endpoint."""
    api = APIClient()
    api.credentials(**bearer(tokens_of(api, user.email, password)["access_token"]))
    return api


def error_of(response) -> dict:
    """The `error` object of a JSON error answer."""
    assert response["Content-Type"] == "application/json", response.content
    return response.json()["error"]


def error_code(response) -> str:
    return error_of(response)["code"]
