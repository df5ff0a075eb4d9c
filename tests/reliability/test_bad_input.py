"""Bad input, by hand: bodies a fuzzer rarely builds (oversized, deeply nested, invalid UTF-8, the
wrong content type), mass assignment on every writable endpoint, and client-sent forwarding and
identity headers. Every answer is the contract's envelope, quickly, never a 500; nothing changes
that should not."""

from __future__ import annotations

import time
import uuid

import pytest
from rest_framework.test import APIClient

from gateway import edge
from permissions.interface import ADMIN_ROLE, permission_service
from tests.support.factories import PASSWORD
from users.interface import user_service

from .conftest import access_token_for, new_user

pytestmark = pytest.mark.django_db

WRITABLE = [
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/token"),
    ("post", "/api/v1/auth/token/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/auth/verify-email"),
    ("post", "/api/v1/auth/password/change"),
    ("post", "/api/v1/auth/password/reset"),
    ("post", "/api/v1/auth/password/reset/confirm"),
    ("post", "/api/v1/auth/mfa/totp/confirm"),
    ("patch", "/api/v1/users/me"),
    ("post", "/api/v1/rbac/roles"),
    ("post", "/api/v1/rbac/groups"),
    ("post", "/api/v1/rbac/assignments"),
    ("post", "/api/v1/rbac/check"),
    ("post", "/api/v1/rbac/explain"),
]


@pytest.fixture
def admin_client():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(new_user(admin=True))}")
    return client


def send(client, method: str, path: str, body: bytes, content_type: str):
    return getattr(client, method)(path, body, content_type=content_type)


def assert_envelope(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json", response.content[:300]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    return error


@pytest.mark.parametrize(
    ("label", "body", "content_type"),
    [
        ("text/plain", b'{"email": "a@example.com"}', "text/plain"),
        ("xml", b"<a>b</a>", "application/xml"),
        ("form", b"email=a%40example.com", "application/x-www-form-urlencoded"),
        ("multipart", b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x"),
    ],
)
def test_a_wrong_content_type_is_415_on_every_writable_endpoint(admin_client, tally, label, body, content_type):
    for method, path in WRITABLE:
        response = send(admin_client, method, path, body, content_type)
        ok = response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type"
        tally.record(ok, response.status_code)
        assert_envelope(response, 415)
    assert tally.failed == 0


@pytest.mark.parametrize(
    ("label", "body"),
    [
        ("invalid UTF-8", b'{"email": "\xff\xfe\xfd", "password": "x"}'),
        ("truncated", b'{"email": "a@example.com", "pass'),
        ("NUL bytes", b"\x00\x00\x00\x00"),
        ("deeply nested arrays", b"[" * 100_000 + b"]" * 100_000),
        ("deeply nested objects", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
        ("a huge number", b'{"email": 1' + b"0" * 100_000 + b"}"),
        ("JSON with trailing garbage", b'{"email": "a@example.com"} trailing'),
    ],
)
def test_malformed_json_is_a_400_envelope_quickly_on_every_writable_endpoint(admin_client, tally, label, body):
    for method, path in WRITABLE:
        started = time.monotonic()
        response = send(admin_client, method, path, body, "application/json")
        elapsed = time.monotonic() - started
        tally.record(response.status_code == 400 and elapsed < 2, response.status_code)
        assert_envelope(response, 400)
        assert elapsed < 2, f"{method} {path} took {elapsed:.2f}s on {label}"
    assert tally.failed == 0


def test_an_oversized_body_is_413_at_once_on_every_writable_endpoint(admin_client, tally, settings):
    settings.GATEHOUSE_MAX_BODY_BYTES = 64 * 1024
    body = b'{"email": "' + b"a" * (settings.GATEHOUSE_MAX_BODY_BYTES + 1) + b'"}'
    for method, path in WRITABLE:
        started = time.monotonic()
        response = send(admin_client, method, path, body, "application/json")
        elapsed = time.monotonic() - started
        tally.record(response.status_code == 413, response.status_code)
        assert assert_envelope(response, 413)["code"] == "request_too_large"
        assert elapsed < 1
    assert tally.failed == 0


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/users/%ff%fe", 404),
        ("/api/v1/rbac/roles/%c0%80", 404),
        ("/api/v1/%ff", 404),
        ("/api/v1/users?search=%ff%fe", 200),  # decoded with replacement characters: matches nobody
        ("/api/v1/users?cursor=%ff%fe", 400),
    ],
)
def test_invalid_utf8_in_a_path_or_query_is_an_ordinary_json_answer(admin_client, tally, path, expected):
    for method in ("get", "delete", "patch"):
        response = getattr(admin_client, method)(path)
        ok = response.status_code in (expected, 405) and response["Content-Type"] == "application/json"
        tally.record(ok, response.status_code)
        assert ok, (method, path, response.status_code, response.content[:200])
    assert tally.failed == 0


# --- mass assignment ---------------------------------------------------------------------------------


def test_patching_me_with_privileged_fields_changes_none_of_them(tally):
    user = new_user()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    before = user_service.get_user(user_id=user.id)
    attempts = {
        "id": str(uuid.uuid4()),
        "email": "taken-over@example.com",
        "is_staff": True,
        "is_superuser": True,
        "is_active": False,
        "is_verified": False,
        "mfa_enabled": True,
        "date_joined": "2000-01-01T00:00:00Z",
        "password": "Another-long-passphrase-99",
    }
    for field, value in attempts.items():
        response = client.patch("/api/v1/users/me", {field: value}, format="json")
        tally.record(response.status_code in (200, 400), response.status_code)
        after = user_service.get_user(user_id=user.id)
        assert after == before, f"PATCH /users/me with {field} changed the user"
    me = client.get("/api/v1/users/me").json()
    assert me["id"] == str(user.id) and me["email"] == user.email and me["is_active"] and me["is_verified"]
    assert user_service.check_password(user_id=user.id, password=PASSWORD)
    assert tally.failed == 0


def test_registering_with_privileged_fields_sets_none_of_them(tally):
    client = APIClient()
    chosen_id = uuid.uuid4()
    response = client.post(
        "/api/v1/auth/register",
        {
            "email": "eve@example.com",
            "password": PASSWORD,
            "id": str(chosen_id),
            "is_verified": True,
            "is_staff": True,
            "is_superuser": True,
            "is_active": False,
            "roles": [ADMIN_ROLE],
        },
        format="json",
    )
    tally.record(response.status_code == 201, response.status_code)
    assert response.status_code == 201, response.content
    user = user_service.get_user(user_id=uuid.UUID(response.json()["id"]))
    assert user.id != chosen_id
    assert not user.is_verified and user.is_active
    assert not user.is_staff and not user.is_superuser
    assert not permission_service.check(user_id=user.id, permission="rbac.role.view")


def test_patching_a_role_cannot_change_its_id_or_system_flag(admin_client, tally):
    created = admin_client.post("/api/v1/rbac/roles", {"name": "support", "permissions": []}, format="json")
    assert created.status_code == 201, created.content
    role = created.json()
    admin_role = permission_service.get_role_by_name(name=ADMIN_ROLE)
    for body in ({"id": str(uuid.uuid4())}, {"is_system": True}, {"id": str(admin_role.id)}, {"system": True}):
        response = admin_client.patch(f"/api/v1/rbac/roles/{role['id']}", body, format="json")
        tally.record(response.status_code in (200, 400), response.status_code)
        assert response.status_code in (200, 400)
    after = permission_service.get_role(role_id=uuid.UUID(role["id"]))
    assert after.name == "support" and not after.is_system
    # Still an ordinary role: it can be deleted, the admin role cannot.
    assert admin_client.delete(f"/api/v1/rbac/roles/{role['id']}").status_code == 204
    assert admin_client.delete(f"/api/v1/rbac/roles/{admin_role.id}").status_code == 409
    assert tally.failed == 0


# --- forwarding and identity headers -----------------------------------------------------------------

SPOOFING_HEADERS = {
    "HTTP_X_FORWARDED_FOR": "203.0.113.{n}",
    "HTTP_X_REAL_IP": "203.0.113.{n}",
    "HTTP_FORWARDED": "for=203.0.113.{n}",
    "HTTP_TRUE_CLIENT_IP": "203.0.113.{n}",
    "HTTP_CF_CONNECTING_IP": "203.0.113.{n}",
}


@pytest.fixture
def fresh_counter():
    edge.use_counter(edge.LocalCounter())
    yield
    edge.use_counter(None)


def test_forwarding_headers_cannot_move_an_anonymous_caller_to_another_rate_limit_bucket(
    settings, fresh_counter, tally
):
    settings.GATEHOUSE_TRUSTED_PROXIES = []
    settings.GATEHOUSE_RATELIMIT_ANON = "5/min"
    client = APIClient()
    statuses = []
    for n in range(12):
        headers = {name: value.format(n=n) for name, value in SPOOFING_HEADERS.items()}
        response = client.get("/api/v1/rbac/permissions", REMOTE_ADDR="198.51.100.7", **headers)
        statuses.append(response.status_code)
        tally.record(True, response.status_code)
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429] * 7, statuses


def test_behind_a_trusted_proxy_only_the_hop_it_appended_counts(settings, fresh_counter, tally):
    settings.GATEHOUSE_TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.GATEHOUSE_RATELIMIT_ANON = "3/min"
    client = APIClient()
    statuses = []
    for n in range(6):
        # The client writes its own X-Forwarded-For; nginx appends the address it saw.
        forwarded = f"203.0.113.{n}, 198.51.100.9"
        response = client.get("/api/v1/rbac/permissions", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR=forwarded)
        statuses.append(response.status_code)
        tally.record(True, response.status_code)
    assert statuses == [401, 401, 401, 429, 429, 429]


@pytest.mark.parametrize(
    "header",
    ["HTTP_X_USER_ID", "HTTP_X_FORWARDED_USER", "HTTP_X_REMOTE_USER", "HTTP_REMOTE_USER", "HTTP_X_AUTH_USER"],
)
def test_identity_headers_are_not_a_principal(header, tally):
    admin = new_user(admin=True)
    user = new_user()
    client = APIClient()
    for value in (str(admin.id), admin.email):
        anonymous = client.get("/api/v1/users/me", **{header: value})
        tally.record(anonymous.status_code == 401, anonymous.status_code)
        assert anonymous.status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    response = client.get("/api/v1/users/me", **{header: str(admin.id), "REMOTE_USER": admin.email})
    tally.record(response.status_code == 200, response.status_code)
    assert response.json()["id"] == str(user.id)
    listing = client.get("/api/v1/users", **{header: str(admin.id)})
    tally.record(listing.status_code == 403, listing.status_code)
    assert listing.status_code == 403


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_an_unknown_api_path_is_a_json_404_for_every_method_not_a_csrf_page(admin_client, tally, method):
    # Paths that miss every route fall through to the catch-all; Django's CSRF check answered
    # those with its HTML 403 page before the fix (found by the schema fuzzer).
    for path in ("/api/v1/users/not-a-uuid", "/api/v1/rbac/roles/%1E%C3%8A", "/api/v1/nothing-here"):
        response = getattr(admin_client, method)(path, b"{}", content_type="application/json")
        tally.record(response.status_code == 404, response.status_code)
        assert assert_envelope(response, 404)["code"] == "not_found"


@pytest.mark.parametrize("value", [1, 1.5, True, ["a"], {"a": "b"}])
def test_a_token_field_that_is_not_a_string_is_a_400(value, tally):
    client = APIClient()
    for path, field in (
        ("/api/v1/auth/logout", "refresh_token"),
        ("/api/v1/auth/token/refresh", "refresh_token"),
        ("/api/v1/auth/verify-email", "token"),
    ):
        response = client.post(path, {field: value}, format="json")
        tally.record(response.status_code == 400, response.status_code)
        assert assert_envelope(response, 400)["code"] == "validation_error"
        assert field in response.json()["error"]["details"]


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_error_is_a_generic_500_envelope_without_internals(settings, debug, tally):
    settings.ROOT_URLCONF = "tests.reliability.urls"
    settings.DEBUG = debug
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/v1/boom")
    tally.record(response.status_code == 500, response.status_code)
    assert assert_envelope(response, 500) == {
        "code": "internal_error",
        "message": "Internal server error.",
        "details": {},
    }
    assert b"hunter2" not in response.content and b"Traceback" not in response.content
