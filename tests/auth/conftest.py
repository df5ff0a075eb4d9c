from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from users.interface import user_service

PASSWORD = "a-Long-unguessable-passphrase-42"


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def ada(db):
    return user_service.create(email="ada@example.com", password=PASSWORD, display_name="Ada", is_verified=True)


def login(api, email="ada@example.com", password=PASSWORD, **extra):
    return api.post("/api/v1/auth/token", {"email": email, "password": password, **extra}, format="json")


@pytest.fixture
def tokens(api, ada):
    response = login(api)
    assert response.status_code == 200, response.content
    return response.json()


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}
