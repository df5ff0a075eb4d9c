"""The HTTP side of tests: signing in through the real token endpoint, bearer headers, the error
envelope every JSON error answers with (docs/api.md), and JSON requests to real servers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

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


def bearer_header(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def bearer(token: str) -> dict:
    """The header as the Django test client takes it."""
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


def call(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    """A JSON request to a real server (`live_server`, or a process the test started): the status
    and the JSON answer ({} when empty)."""
    headers = {"Content-Type": "application/json"} | (bearer_header(token) if token else {})
    data = None if body is None else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method), timeout=15) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def tokens_from(base_url: str, email: str, password: str = PASSWORD) -> dict:
    """The token pair of a sign-in at a real server that must succeed."""
    status, body = call("POST", base_url + TOKEN, {"email": email, "password": password})
    assert status == 200, body
    return body


# Response headers that differ between any two requests, whoever answers them.
PER_REQUEST_HEADERS = frozenset(
    {"X-Request-ID", "RateLimit", "RateLimit-Policy", "RateLimit-Remaining", "RateLimit-Reset"}
)


def exchange(client, method: str, path: str, body: bytes = b"", content_type: str | None = None, **headers):
    """A request as its bytes are, and its whole answer: status, body bytes, and the headers but the
    per-request ones (to compare two answers to the same request)."""
    extra = {} if content_type is None else {"content_type": content_type}
    response = client.generic(method, path, body, **extra, **headers)
    kept = {name: value for name, value in response.headers.items() if name not in PER_REQUEST_HEADERS}
    return response.status_code, response.content, kept


def presenting(token: str, signed_in: APIClient) -> APIClient:
    """A client presenting `token`: "own" (the signed-in client), "none", "bad" (a bearer token that
    does not verify) or "Basic" (another scheme)."""
    if token == "own":
        return signed_in
    client = APIClient()
    if token == "bad":
        client.credentials(**bearer("not.a.token"))
    elif token == "Basic":
        client.credentials(HTTP_AUTHORIZATION="Basic YTpi")
    return client
