from __future__ import annotations

import jwt
import pytest
from rest_framework.test import APIClient

from auth.core import keys
from project.crypto import unseal_for
from project.events.models import OutboxEvent
from project.events.relay import relay_all
from tests.support.rbac import grant_role
from users.interface import user_service

PASSWORD = "a-Long-unguessable-passphrase-42"
ME = "/api/v1/users/me"


@pytest.fixture(autouse=True)
def _signing_keys_from_the_database():
    # The per-process key cache outlives a test's rolled-back database: without this a test could
    # sign with a key that no longer exists for anyone but this process.
    keys._cache.invalidate()
    yield
    keys._cache.invalidate()


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def ada(db):
    return user_service.create_user(email="ada@example.com", password=PASSWORD, display_name="Ada", is_verified=True)


@pytest.fixture
def admin(db):
    """Holds the `admin` role globally: `is_superuser` alone grants nothing."""
    user = user_service.create_user(
        email="root@example.com", password=PASSWORD, display_name="Root", is_verified=True, is_superuser=True
    )
    grant_role(user.id)
    return user


def login(api, email="ada@example.com", password=PASSWORD, *, otp=None, **environ):
    """POST /api/v1/auth/token; `environ` goes to the request (e.g. REMOTE_ADDR), not the body."""
    body = {"email": email, "password": password} | ({"otp": otp} if otp is not None else {})
    return api.post("/api/v1/auth/token", body, format="json", **environ)


def tokens_of(api, email="ada@example.com", password=PASSWORD, **extra) -> dict:
    response = login(api, email, password, **extra)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def tokens(api, ada):
    return tokens_of(api)


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def sid_of(access_token: str) -> str:
    """The session id an access token speaks for (its `sid` claim)."""
    return jwt.decode(access_token, options={"verify_signature": False})["sid"]


def status_of_me(api, access_token: str) -> int:
    """What a request with this access token gets: 200 while it works, 401 once it does not."""
    return api.get(ME, **bearer(access_token)).status_code


def error_code(response) -> str:
    assert response["Content-Type"] == "application/json", response.content
    return response.json()["error"]["code"]


def events(event_type: str) -> list[dict]:
    """Payloads of the outbox events of this type, oldest first."""
    return [row.payload for row in OutboxEvent.objects.filter(type=event_type).order_by("occurred_at", "seq")]


@pytest.fixture
def deliver_events(settings):
    """Run the in-process consumers on every pending outbox event, in both test modes (the
    tests that need a real worker say so and live in test_stack.py)."""
    settings.CELERY_BROKER_URL = ""

    def deliver() -> int:
        total = 0
        while count := relay_all():
            total += count
        return total

    return deliver


def sealed_token(payload: dict) -> str:
    from auth.interface import ONE_TIME_TOKEN_SEAL

    return unseal_for(payload["sealed_token"], purpose=ONE_TIME_TOKEN_SEAL, subject=payload["user_id"])
