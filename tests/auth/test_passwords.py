"""Password change (self) and password reset (anyone, by mail): what they revoke, and refusals
that change nothing."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from auth.core.services import email_verification_issue
from auth.interface import PASSWORD_CHANGED, PASSWORD_RESET_REQUESTED
from auth.models import OneTimeToken
from project.kernel.delegation import provided
from tests.support.factories import PASSWORD
from tests.support.http import bearer, error_code, login, tokens_of
from users.interface import user_service
from users.models import User

from .conftest import events, sealed_token, status_of_me

pytestmark = pytest.mark.django_db

CHANGE = "/api/v1/auth/password/change"
RESET = "/api/v1/auth/password/reset"
CONFIRM = "/api/v1/auth/password/reset/confirm"
NEW_PASSWORD = "another-Long-passphrase-77"


def password_hash() -> str:
    return User.objects.get(email="ada@example.com").password


# --- change -----------------------------------------------------------------------------------------


def change(api, access_token, old=PASSWORD, new=NEW_PASSWORD):
    return api.post(CHANGE, {"old_password": old, "new_password": new}, format="json", **bearer(access_token))


def test_a_change_revokes_the_other_sessions_and_keeps_the_current_one(api, ada):
    other, current = tokens_of(api), tokens_of(api)

    response = change(api, current["access_token"])

    assert response.status_code == 204
    assert status_of_me(api, other["access_token"]) == 401
    assert status_of_me(api, current["access_token"]) == 200
    assert (
        api.post("/api/v1/auth/token/refresh", {"refresh_token": current["refresh_token"]}, format="json").status_code
        == 200
    )
    assert login(api).status_code == 401
    assert login(api, password=NEW_PASSWORD).status_code == 200
    assert events(PASSWORD_CHANGED) == [{"user_id": str(ada.id)}]


def test_a_wrong_old_password_is_400_and_changes_nothing(api, ada):
    other, current = tokens_of(api), tokens_of(api)
    before = password_hash()

    response = change(api, current["access_token"], old="not-the-password-at-all")

    assert response.status_code == 400
    assert error_code(response) == "invalid_password"
    assert response.json()["error"]["details"] == {"old_password": ["The password is not correct."]}
    assert password_hash() == before
    assert status_of_me(api, other["access_token"]) == 200
    assert status_of_me(api, current["access_token"]) == 200
    assert events(PASSWORD_CHANGED) == []


@pytest.mark.parametrize("weak", ["short", "password123", "ada@example.com", "1234567890123"])
def test_a_weak_new_password_is_400_on_new_password_and_changes_nothing(api, ada, weak):
    other, current = tokens_of(api), tokens_of(api)
    before = password_hash()

    response = change(api, current["access_token"], new=weak)

    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert response.json()["error"]["details"]["new_password"]
    assert password_hash() == before
    assert status_of_me(api, other["access_token"]) == 200


def test_a_change_needs_a_token_and_both_fields(api, tokens):
    assert api.post(CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json").status_code == 401
    response = api.post(CHANGE, {}, format="json", **bearer(tokens["access_token"]))
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"old_password", "new_password"}


# --- reset ------------------------------------------------------------------------------------------


def request_reset(api, email="ada@example.com"):
    return api.post(RESET, {"email": email}, format="json")


@pytest.fixture
def reset_token(api, ada) -> str:
    assert request_reset(api).status_code == 202
    [payload] = events(PASSWORD_RESET_REQUESTED)
    assert payload["user_id"] == str(ada.id)
    return sealed_token(payload)


def confirm(api, token, password=NEW_PASSWORD):
    return api.post(CONFIRM, {"token": token, "new_password": password}, format="json")


def test_a_reset_request_is_202_with_the_same_body_for_known_and_unknown_emails(api, ada):
    known, unknown, odd = (
        request_reset(api),
        request_reset(api, "nobody@example.com"),
        request_reset(api, "not-an-email"),
    )
    assert known.status_code == unknown.status_code == odd.status_code == 202
    assert known.content == unknown.content == odd.content
    assert sorted(known.headers) == sorted(unknown.headers)
    # Only the real account gets a mail.
    assert [p["user_id"] for p in events(PASSWORD_RESET_REQUESTED)] == [str(ada.id)]


def test_an_inactive_account_gets_no_reset_mail(api, ada):
    user_service.deactivate_user(user_id=ada.id)
    assert request_reset(api).status_code == 202
    assert events(PASSWORD_RESET_REQUESTED) == []


def test_the_reset_token_sets_the_password_and_revokes_every_session(api, ada, reset_token):
    sessions = [tokens_of(api), tokens_of(api)]

    response = confirm(api, reset_token)

    assert response.status_code == 204
    assert [status_of_me(api, t["access_token"]) for t in sessions] == [401, 401]
    assert login(api).status_code == 401
    assert login(api, password=NEW_PASSWORD).status_code == 200
    assert events(PASSWORD_CHANGED)[-1] == {"user_id": str(ada.id), "via": "reset"}


def test_the_reset_token_works_once(api, reset_token):
    assert confirm(api, reset_token).status_code == 204
    again = confirm(api, reset_token, password="yet-another-Passphrase-99")
    assert again.status_code == 400
    assert error_code(again) == "invalid_token"
    assert login(api, password=NEW_PASSWORD).status_code == 200


@pytest.mark.parametrize("token", ["made-up", ""])
def test_a_bad_token_is_400_and_changes_nothing(api, ada, token):
    before = password_hash()
    response = confirm(api, token)
    assert response.status_code == 400
    assert error_code(response) in {"invalid_token", "validation_error"}
    assert password_hash() == before


def test_an_expired_token_is_400_and_changes_nothing(api, reset_token):
    before = password_hash()
    OneTimeToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = confirm(api, reset_token)
    assert response.status_code == 400
    assert error_code(response) == "invalid_token"
    assert password_hash() == before


def test_a_weak_password_is_400_and_the_token_still_works_afterwards(api, reset_token):
    before = password_hash()
    weak = confirm(api, reset_token, password="password")
    assert weak.status_code == 400
    assert error_code(weak) == "validation_error"
    assert weak.json()["error"]["details"]["new_password"]
    assert password_hash() == before

    assert confirm(api, reset_token).status_code == 204
    assert login(api, password=NEW_PASSWORD).status_code == 200


def test_a_verification_token_is_not_a_reset_token(api, ada, deliver_events):
    with transaction.atomic():
        email_verification_issue(user_id=ada.id, email=ada.email)
    [payload] = events("auth.email_verification_requested")
    before = password_hash()
    assert confirm(api, sealed_token(payload)).status_code == 400
    assert password_hash() == before


def test_the_token_for_an_unknown_email_can_never_be_used(api, db):
    """The request for an unknown email does the same work, token included; that token is born spent."""
    request_reset(api, "nobody@example.com")
    row = OneTimeToken.objects.get()
    assert row.used_at is not None


def test_two_confirmations_racing_on_one_token_set_one_password_and_the_loser_changes_nothing(api, reset_token):
    """The second confirmation arrives while the first is storing its password: exactly one of
    them wins, and the password is the winner's."""
    users = provided("users")
    real_set_password = users.set_password
    racing = {}

    def set_password_while_another_confirms(*, user_id, password):
        if not racing:
            racing["response"] = None
            racing["response"] = confirm(api, reset_token, password="the-Racing-passphrase-31")
        real_set_password(user_id=user_id, password=password)

    with mock.patch.object(users, "set_password", set_password_while_another_confirms):
        first = confirm(api, reset_token)

    assert sorted([first.status_code, racing["response"].status_code]) == [204, 400]
    winner = NEW_PASSWORD if first.status_code == 204 else "the-Racing-passphrase-31"
    assert login(api, password=winner).status_code == 200


def _reset_tokens(api, n: int) -> list[str]:
    for _ in range(n):
        assert request_reset(api).status_code == 202
    return [sealed_token(payload) for payload in events(PASSWORD_RESET_REQUESTED)]


def test_a_reset_spends_every_other_pending_reset_link(api, ada):
    """Issue 15, item 8: 51 links stayed live after a reset in one run."""
    first, *others = _reset_tokens(api, 5)
    assert confirm(api, first).status_code == 204
    for token in others:
        response = confirm(api, token, password="attacker-Chosen-passphrase-1")
        assert (response.status_code, error_code(response)) == (400, "invalid_token")
    assert login(api, password=NEW_PASSWORD).status_code == 200


def test_a_password_change_spends_every_pending_reset_link(api, ada):
    tokens = _reset_tokens(api, 3)
    current = tokens_of(api)
    assert change(api, current["access_token"]).status_code == 204
    for token in tokens:
        response = confirm(api, token, password="attacker-Chosen-passphrase-1")
        assert (response.status_code, error_code(response)) == (400, "invalid_token")
    assert login(api, password=NEW_PASSWORD).status_code == 200
