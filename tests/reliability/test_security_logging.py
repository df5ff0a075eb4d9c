"""Security events in the log (ASVS 5.0 V16.3): every login outcome with who and from where (but
never what was typed), and every API request, refused ones included, with the caller."""

from __future__ import annotations

import logging

import pytest
from rest_framework.test import APIClient

from .conftest import PASSWORD, access_token_for, new_user

pytestmark = pytest.mark.django_db


def security_events(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "gatehouse.security"]


def test_every_login_outcome_is_a_security_event_without_what_was_typed(caplog, tally):
    user = new_user()
    client = APIClient()
    attempts = [
        ({"email": user.email, "password": "wrong-Password-123"}, 401, "auth.login_failed", "invalid_credentials"),
        ({"email": "nobody@example.com", "password": PASSWORD}, 401, "auth.login_failed", "invalid_credentials"),
        ({"email": user.email.upper(), "password": PASSWORD}, 200, "auth.login_succeeded", None),
    ]
    with caplog.at_level(logging.INFO):
        for body, status, _, _ in attempts:
            response = client.post("/api/v1/auth/token", body, format="json", REMOTE_ADDR="198.51.100.23")
            tally.record(response.status_code == status, response.status_code)
            assert response.status_code == status
    events = security_events(caplog)
    assert [(e.event, getattr(e, "reason", None)) for e in events] == [(a[2], a[3]) for a in attempts]
    assert all(e.client_ip == "198.51.100.23" for e in events)
    # One account, one reference, whatever the case of the address typed; another account another.
    assert events[0].account == events[2].account != events[1].account
    assert events[2].session_id
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for secret in (PASSWORD, "wrong-Password-123", "nobody@example.com", user.email):
        assert secret not in text


def test_refused_api_calls_are_logged_with_the_caller(caplog, tally):
    user = new_user()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    with caplog.at_level(logging.INFO):
        forbidden = client.get("/api/v1/users")
        anonymous = APIClient().get("/api/v1/users")
    tally.record(forbidden.status_code == 403, forbidden.status_code)
    tally.record(anonymous.status_code == 401, anonymous.status_code)
    lines = [r for r in caplog.records if r.name == "gatehouse.access" and r.path == "/api/v1/users"]
    assert [(r.status, r.user_id) for r in lines] == [(403, str(user.id)), (401, None)]
