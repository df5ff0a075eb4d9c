"""POST /api/v1/auth/verify-email with the token the verification flow mails: single-use, expiring."""

from datetime import timedelta

import pytest
from django.utils import timezone

from auth.interface import EMAIL_VERIFICATION_REQUESTED
from auth.models import OneTimeToken
from tests.support.factories import PASSWORD
from tests.support.http import bearer, error_code
from users.interface import user_service

from .conftest import events, sealed_token

pytestmark = pytest.mark.django_db

VERIFY = "/api/v1/auth/verify-email"


def verified(user_id) -> bool:
    return user_service.get_user(user_id=user_id).is_verified


def test_the_mailed_token_verifies_the_email(api, registered):
    user_id, token = registered
    response = api.post(VERIFY, {"token": token}, format="json")
    assert response.status_code == 200
    assert response.json() == {"verified": True}
    assert verified(user_id)


def test_the_token_works_once(api, registered):
    _, token = registered
    assert api.post(VERIFY, {"token": token}, format="json").status_code == 200
    again = api.post(VERIFY, {"token": token}, format="json")
    assert again.status_code == 400
    assert error_code(again) == "invalid_token"


def test_an_expired_token_is_refused_and_verifies_nothing(api, registered):
    user_id, token = registered
    OneTimeToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api.post(VERIFY, {"token": token}, format="json")
    assert response.status_code == 400
    assert error_code(response) == "invalid_token"
    assert not verified(user_id)


@pytest.mark.parametrize("token", ["made-up-token", "", "x" * 257])
def test_an_unknown_or_malformed_token_is_a_400(api, registered, token):
    user_id, _ = registered
    response = api.post(VERIFY, {"token": token}, format="json")
    assert response.status_code == 400
    assert error_code(response) in {"invalid_token", "validation_error"}
    assert not verified(user_id)


def test_a_token_issued_for_the_current_address_does_not_confirm_a_pending_new_one(api, registered):
    user_id, token = registered
    user_service.update_user(user_id=user_id, email="grace.hopper@example.com")
    response = api.post(VERIFY, {"token": token}, format="json")
    assert response.status_code == 200
    user = user_service.get_user(user_id=user_id)
    assert (user.email, user.pending_email) == ("grace@example.com", "grace.hopper@example.com")


def test_a_password_reset_token_does_not_verify_an_email(api, registered, deliver_events):
    user_id, _ = registered
    api.post("/api/v1/auth/password/reset", {"email": "grace@example.com"}, format="json")
    [reset] = events("auth.password_reset_requested")
    response = api.post(VERIFY, {"token": sealed_token(reset)}, format="json")
    assert response.status_code == 400
    assert not verified(user_id)


def test_the_verification_token_is_not_a_bearer_token(api, registered):
    _, token = registered
    response = api.get("/api/v1/users/me", **bearer(token))
    assert response.status_code == 401
    assert error_code(response) == "authentication_failed"
    # And it was not spent by the attempt.
    assert api.post(VERIFY, {"token": token}, format="json").status_code == 200


def test_a_verified_user_gets_no_new_verification_mail_at_registration(api, deliver_events):
    user_service.create_user(email="ada@example.com", password=PASSWORD, is_verified=True)
    deliver_events()
    assert events(EMAIL_VERIFICATION_REQUESTED) == []
