"""POST /api/v1/auth/register: 201, and every way it refuses, with nothing created."""

import pytest

from auth.interface import EMAIL_VERIFICATION_REQUESTED
from project.events.models import OutboxEvent
from tests.support.factories import PASSWORD
from tests.support.http import error_code
from users.interface import USER_REGISTERED
from users.models import User

from .conftest import events

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"


def register(api, **body):
    return api.post(REGISTER, body, format="json")


def nothing_created():
    return User.objects.count() == 0 and OutboxEvent.objects.count() == 0


def test_a_registration_answers_201_with_the_profile_and_records_the_event(api):
    response = register(api, email="grace@example.com", password=PASSWORD)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["display_name"] == ""
    assert body["is_active"] is True
    [payload] = events(USER_REGISTERED)
    assert payload["user_id"] == body["id"]


def test_a_registration_leads_to_a_verification_mail_event(api, deliver_events):
    user_id = register(api, email="grace@example.com", password=PASSWORD).json()["id"]
    deliver_events()
    [payload] = events(EMAIL_VERIFICATION_REQUESTED)
    assert payload["user_id"] == user_id
    assert "token" not in payload  # sealed, never in the clear on the outbox or the broker


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "ada@example..com", ""])
def test_a_bad_email_is_a_validation_error_on_the_email_field(api, email):
    response = register(api, email=email, password=PASSWORD)
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert "email" in response.json()["error"]["details"]
    assert nothing_created()


@pytest.mark.parametrize(
    "password",
    [
        "short1!",  # too short
        "password1234",  # common
        "12345678901234",  # numeric (and common)
        "grace@example.com",  # the email itself
    ],
)
def test_a_weak_or_common_password_is_a_validation_error_on_the_password_field(api, password):
    response = register(api, email="grace@example.com", password=password)
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert response.json()["error"]["details"]["password"]
    assert nothing_created()


def test_missing_fields_are_named_in_the_details(api):
    response = register(api)
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert set(response.json()["error"]["details"]) == {"email", "password"}
    assert nothing_created()


def test_a_taken_email_is_a_conflict_whatever_its_case(api):
    assert register(api, email="grace@example.com", password=PASSWORD).status_code == 201
    response = register(api, email="  GRACE@Example.COM ", password=PASSWORD + "x")
    assert response.status_code == 409
    assert error_code(response) == "email_taken"
    assert User.objects.count() == 1
    assert len(events(USER_REGISTERED)) == 1


def test_a_form_encoded_body_is_415_in_the_envelope(api):
    response = api.post(REGISTER, {"email": "grace@example.com", "password": PASSWORD})  # multipart
    assert response.status_code == 415
    assert error_code(response) == "unsupported_media_type"
    assert nothing_created()


def test_malformed_json_is_400_in_the_envelope(api):
    response = api.generic("POST", REGISTER, '{"email": "grace@example.com", ', content_type="application/json")
    assert response.status_code == 400
    assert error_code(response) == "malformed_request"
    assert nothing_created()


@pytest.mark.parametrize("body", ['["a list"]', '"a string"', "null", "42"])
def test_json_that_is_not_an_object_is_400_in_the_envelope(api, body):
    response = api.generic("POST", REGISTER, body, content_type="application/json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert nothing_created()


def test_fields_of_the_wrong_type_are_validation_errors_not_500(api):
    response = register(api, email=["grace@example.com"], password={"x": 1}, display_name=7)
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert nothing_created()


def test_a_registration_cannot_make_itself_verified_active_or_superuser(api):
    response = register(
        api, email="grace@example.com", password=PASSWORD, is_verified=True, is_superuser=True, is_staff=True
    )
    assert response.status_code == 201
    user = User.objects.get()
    assert (user.is_verified, user.is_superuser, user.is_staff) == (False, False, False)


def test_a_committed_registration_is_answered_201_even_if_the_auth_service_fails_after_it(api, monkeypatch):
    """Nothing after the commit can turn a registration that happened into an error (and its retry
    into a 409): a new account's profile needs no call to the auth service."""
    from project.kernel.delegation import provided
    from project.kernel.errors import ServiceUnavailable

    def down(**kwargs):
        raise ServiceUnavailable()

    monkeypatch.setattr(provided("auth"), "mfa_enabled", down)  # unit test: the auth service fails
    response = register(api, email="grace@example.com", password=PASSWORD)
    assert response.status_code == 201
    assert response.json()["mfa_enabled"] is False
    assert User.objects.filter(email="grace@example.com").exists()
