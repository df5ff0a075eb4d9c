from __future__ import annotations

import jwt
import pytest
from rest_framework.test import APIClient

from auth.interface import EMAIL_VERIFICATION_REQUESTED
from permissions.interface import ADMIN_ROLE
from project.crypto import unseal_for
from project.events.models import OutboxEvent
from project.events.relay import relay_all
from tests.support.factories import PASSWORD, UserFactory
from tests.support.http import bearer, tokens_of

ME = "/api/v1/users/me"


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def ada(db):
    return UserFactory(email="ada@example.com", display_name="Ada")


@pytest.fixture
def admin(db):
    """Holds the `admin` role globally: `is_superuser` alone grants nothing."""
    return UserFactory(email="root@example.com", display_name="Root", is_superuser=True, roles=[ADMIN_ROLE])


@pytest.fixture
def tokens(api, ada):
    return tokens_of(api)


def sid_of(access_token: str) -> str:
    """The session id an access token speaks for (its `sid` claim)."""
    return jwt.decode(access_token, options={"verify_signature": False})["sid"]


def status_of_me(api, access_token: str) -> int:
    """What a request with this access token gets: 200 while it works, 401 once it does not."""
    return api.get(ME, **bearer(access_token)).status_code


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


@pytest.fixture
def registered(api, deliver_events):
    """A user registered over HTTP, and the token of the mail that followed."""
    response = api.post("/api/v1/auth/register", {"email": "grace@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 201
    deliver_events()
    [payload] = events(EMAIL_VERIFICATION_REQUESTED)
    return response.json()["id"], sealed_token(payload)


def sealed_token(payload: dict) -> str:
    from auth.interface import ONE_TIME_TOKEN_SEAL

    return unseal_for(payload["sealed_token"], purpose=ONE_TIME_TOKEN_SEAL, subject=payload["user_id"])
