"""Password rules as ASVS 5.0 V6.2 states them, through the API: long passphrases of any
composition are accepted and verified exactly as typed; short and common ones are refused."""

from __future__ import annotations

import pyotp
import pytest
from rest_framework.test import APIClient

from auth.interface import PASSWORD_RESET_REQUESTED, auth_service
from project.events.models import OutboxEvent
from project.events.relay import relay_all
from tests.auth.conftest import sealed_token
from tests.support.factories import PASSWORD
from tests.support.http import login

from .conftest import new_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-Long-passphrase-77"

PASSPHRASES = [
    "  correct horse battery staple, spaces at both ends  ",
    "x" * 64 + "-Ümlaut-密码-🔑",
    "a-long " * 140,  # ~1000 characters
]


def register(client, email: str, password: str):
    return client.post("/api/v1/auth/register", {"email": email, "password": password}, format="json")


@pytest.mark.parametrize("passphrase", PASSPHRASES, ids=["spaces", "64+unicode", "1000"])
def test_long_passphrases_of_any_composition_work_exactly_as_typed(passphrase, tally):
    client = APIClient()
    email = f"p{len(passphrase)}@example.com"
    created = register(client, email, passphrase)
    tally.record(created.status_code == 201, created.status_code)
    assert created.status_code == 201, created.content
    assert login(client, email, passphrase).status_code == 200
    # Verified exactly as received: no trimming, truncation or case folding.
    for variant in {passphrase.strip(), passphrase[:-1], passphrase.upper(), passphrase[:72]} - {passphrase}:
        status = login(client, email, variant).status_code
        tally.record(status == 401, status)
        assert status == 401, repr(variant[:20])


@pytest.mark.parametrize(
    ("password", "why"),
    [("Short-pw1", "shorter than 10"), ("password1234", "common"), ("12345678901234", "only digits")],
)
def test_short_common_or_all_digit_passwords_are_refused(password, why, tally):
    response = register(APIClient(), "weak@example.com", password)
    tally.record(response.status_code == 400, response.status_code)
    assert response.status_code == 400, why
    assert "password" in response.json()["error"]["details"]


def test_a_password_reset_does_not_bypass_mfa(settings, tally):
    """ASVS 6.4.3: the reset sets a password and ends every session; signing in afterwards still
    asks for the second factor."""
    settings.CELERY_BROKER_URL = ""  # the reset mail's event runs in this process
    user = new_user()
    enrolment = auth_service.enroll_totp(user_id=user.id, password=PASSWORD)
    auth_service.confirm_totp(user_id=user.id, otp=pyotp.TOTP(enrolment.secret).now())
    client = APIClient()
    assert client.post("/api/v1/auth/password/reset", {"email": user.email}, format="json").status_code == 202
    while relay_all():
        pass
    row = OutboxEvent.objects.filter(type=PASSWORD_RESET_REQUESTED, payload__user_id=str(user.id)).first()
    confirm = client.post(
        "/api/v1/auth/password/reset/confirm",
        {"token": sealed_token(row.payload), "new_password": NEW_PASSWORD},
        format="json",
    )
    tally.record(confirm.status_code == 204, confirm.status_code)
    assert confirm.status_code == 204
    assert "access_token" not in (confirm.content.decode() or "")
    without_code = client.post("/api/v1/auth/token", {"email": user.email, "password": NEW_PASSWORD}, format="json")
    tally.record(without_code.status_code == 401, without_code.status_code)
    assert without_code.json()["error"]["code"] == "mfa_required"
