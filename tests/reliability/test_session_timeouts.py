"""Session lifetimes (ASVS 5.0 V7.3): an absolute one (the refresh TTL) and an idle one
(GATEHOUSE_SESSION_IDLE_TIMEOUT): a session not refreshed for that long ends at its next refresh,
and its access tokens stop working with it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from auth.models import Session
from tests.auth.conftest import sid_of
from tests.support.http import tokens_of

from .conftest import new_user

pytestmark = pytest.mark.django_db


def refresh(client, token: str):
    return client.post("/api/v1/auth/token/refresh", {"refresh_token": token}, format="json")


def idle_for(session_id: str, seconds: int) -> None:
    Session.objects.filter(id=session_id).update(last_used_at=timezone.now() - timedelta(seconds=seconds))


def test_a_session_idle_past_the_timeout_ends_at_its_next_refresh(settings, tally):
    settings.GATEHOUSE_SESSION_IDLE_TIMEOUT = 3600
    client, user = APIClient(), new_user()
    pair = tokens_of(client, user.email)
    idle_for(sid_of(pair["access_token"]), 3601)
    response = refresh(client, pair["refresh_token"])
    tally.record(response.status_code == 401, response.status_code)
    assert response.status_code == 401
    session = Session.objects.get(id=sid_of(pair["access_token"]))
    assert session.revoked_at is not None and session.revoke_reason == "idle_timeout"
    me = client.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}")
    tally.record(me.status_code == 401, me.status_code)
    assert me.status_code == 401
    # Signing in again opens a fresh session.
    assert refresh(client, tokens_of(client, user.email)["refresh_token"]).status_code == 200


def test_a_session_in_use_never_idles_out(settings, tally):
    settings.GATEHOUSE_SESSION_IDLE_TIMEOUT = 3600
    client, user = APIClient(), new_user()
    pair = tokens_of(client, user.email)
    for _ in range(3):
        idle_for(sid_of(pair["access_token"]), 3500)  # each refresh within the timeout
        response = refresh(client, pair["refresh_token"])
        tally.record(response.status_code == 200, response.status_code)
        assert response.status_code == 200
        pair = response.json()


def test_no_idle_timeout_when_it_is_zero(settings, tally):
    settings.GATEHOUSE_SESSION_IDLE_TIMEOUT = 0
    client, user = APIClient(), new_user()
    pair = tokens_of(client, user.email)
    idle_for(sid_of(pair["access_token"]), 86400 * 29)
    response = refresh(client, pair["refresh_token"])
    tally.record(response.status_code == 200, response.status_code)
    assert response.status_code == 200
