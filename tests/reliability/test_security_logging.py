"""Security events in the log (ASVS 5.0 V16.3): every login outcome with who and from where (but
never what was typed), and every API request, refused ones included, with the caller."""

from __future__ import annotations

import logging

import pytest
from rest_framework.test import APIClient

from tests.support.factories import PASSWORD

from .conftest import access_token_for, new_user

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


def test_session_password_and_mfa_changes_are_security_events(caplog, tally):
    import pyotp

    from auth.interface import auth_service
    from tests.auth.conftest import sid_of

    user = new_user()
    client = APIClient()
    tokens = client.post("/api/v1/auth/token", {"email": user.email, "password": PASSWORD}, format="json").json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    new_password = "another-Long-passphrase-77"
    caplog.clear()
    with caplog.at_level(logging.INFO):
        calls = [
            client.post(
                "/api/v1/auth/password/change",
                {"old_password": "not-the-Password-1", "new_password": new_password},
                format="json",
            ),
            client.post(
                "/api/v1/auth/password/change", {"old_password": PASSWORD, "new_password": new_password}, format="json"
            ),
        ]
        secret = client.post("/api/v1/auth/mfa/totp", {"password": new_password}, format="json").json()["secret"]
        calls.append(client.post("/api/v1/auth/mfa/totp/confirm", {"otp": "000000"}, format="json"))
        calls.append(client.post("/api/v1/auth/mfa/totp/confirm", {"otp": pyotp.TOTP(secret).now()}, format="json"))
        calls.append(client.delete("/api/v1/auth/mfa/totp", {"password": new_password}, format="json"))
        calls.append(client.post("/api/v1/auth/logout"))
    for response in calls:
        tally.record(response.status_code in (204, 400), response.status_code)
    events = [(e.event, getattr(e, "reason", None)) for e in security_events(caplog)]
    assert events == [
        ("auth.password_changed_failed", "invalid_password"),
        ("auth.password_changed", None),
        ("auth.mfa_enrolment_started", None),
        ("auth.mfa_enabled_failed", "invalid_otp"),
        ("auth.mfa_enabled", None),
        ("auth.mfa_disabled", None),
        ("auth.logout", None),
    ], events
    named = security_events(caplog)
    assert all(e.user_id == str(user.id) for e in named[:5])
    assert named[5].session_id == sid_of(tokens["access_token"])
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert PASSWORD not in text and new_password not in text and secret not in text
    assert auth_service.mfa_enabled(user_id=user.id) is False
