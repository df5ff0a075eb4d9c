"""Password change and reset, against both implementations (see conftest)."""

import pytest

from auth.interface import (
    EMAIL_VERIFICATION_REQUESTED,
    PASSWORD_CHANGED,
    PASSWORD_RESET_REQUESTED,
    ClientInfo,
    InvalidCredentials,
    InvalidOneTimeToken,
    InvalidToken,
    ReauthenticationFailed,
    WeakPassword,
)
from tests.support.factories import PASSWORD, UserFactory

from .conftest import CLIENT, NEW_PASSWORD, events, login, one_time_token


def _dead(auth, *pairs):
    for pair in pairs:
        with pytest.raises(InvalidToken):
            auth.verify_access_token(token=pair.access_token)
    return True


def test_change_password_replaces_it_and_revokes_the_other_sessions(auth, ada):
    current, other = login(auth), login(auth)
    auth.verify_access_token(token=other.access_token)
    result = auth.change_password(
        user_id=ada.id, session_id=current.session_id, old_password=PASSWORD, new_password=NEW_PASSWORD
    )
    assert result is None
    assert _dead(auth, other)
    assert auth.verify_access_token(token=current.access_token).session_id == current.session_id
    with pytest.raises(InvalidCredentials):
        login(auth)
    assert login(auth, password=NEW_PASSWORD).session_id
    assert len(events(PASSWORD_CHANGED, user_id=ada.id)) == 1


def test_change_password_without_a_session_revokes_every_session(auth, ada):
    pairs = login(auth), login(auth)
    auth.change_password(user_id=ada.id, session_id=None, old_password=PASSWORD, new_password=NEW_PASSWORD)
    assert _dead(auth, *pairs)


def test_change_password_with_a_wrong_old_password_changes_nothing(auth, ada):
    pair = login(auth)
    with pytest.raises(ReauthenticationFailed) as caught:
        auth.change_password(user_id=ada.id, session_id=None, old_password="wrong", new_password=NEW_PASSWORD)
    assert caught.value.code == "invalid_password"
    assert auth.verify_access_token(token=pair.access_token).session_id == pair.session_id
    assert login(auth).session_id
    assert events(PASSWORD_CHANGED, user_id=ada.id) == []


@pytest.mark.parametrize("weak", ["password", "short", "ada@example.com"])
def test_change_password_refuses_a_weak_one_and_changes_nothing(auth, ada, weak):
    pair = login(auth)
    with pytest.raises(WeakPassword) as caught:
        auth.change_password(user_id=ada.id, session_id=None, old_password=PASSWORD, new_password=weak)
    assert caught.value.details["new_password"]
    assert auth.verify_access_token(token=pair.access_token).session_id == pair.session_id
    assert login(auth).session_id
    assert events(PASSWORD_CHANGED, user_id=ada.id) == []


def test_a_reset_for_an_unknown_email_is_silent(auth, ada):
    assert auth.request_password_reset(email="nobody@example.com", client=CLIENT) is None
    assert auth.request_password_reset(email="not an email", client=CLIENT) is None
    assert events(PASSWORD_RESET_REQUESTED, user_id=ada.id) == []


def test_a_reset_for_an_inactive_account_is_silent(auth):
    user = UserFactory(email="ada@example.com", is_active=False)
    assert auth.request_password_reset(email=user.email, client=CLIENT) is None
    assert events(PASSWORD_RESET_REQUESTED, user_id=user.id) == []


def test_a_reset_request_records_the_event_with_where_it_came_from(auth, ada):
    auth.request_password_reset(email="ADA@example.com", client=ClientInfo(ip="198.51.100.4", user_agent="x"))
    [event] = events(PASSWORD_RESET_REQUESTED, user_id=ada.id)
    assert event.payload["ip"] == "198.51.100.4"
    assert "token" not in event.payload  # only sealed


def test_a_reset_token_sets_a_new_password_once_and_revokes_every_session(auth, ada):
    pairs = login(auth), login(auth)
    auth.request_password_reset(email=ada.email, client=CLIENT)
    token = one_time_token(PASSWORD_RESET_REQUESTED, user_id=ada.id)
    assert auth.confirm_password_reset(token=token, new_password=NEW_PASSWORD) is None
    assert _dead(auth, *pairs)
    with pytest.raises(InvalidCredentials):
        login(auth)
    assert login(auth, password=NEW_PASSWORD).session_id
    with pytest.raises(InvalidOneTimeToken):
        auth.confirm_password_reset(token=token, new_password="yet-another-Long-passphrase-9")
    assert login(auth, password=NEW_PASSWORD).session_id


@pytest.mark.parametrize("token", ["", "garbage", "x" * 300])
def test_a_bad_reset_token_is_refused(auth, ada, token):
    with pytest.raises(InvalidOneTimeToken) as caught:
        auth.confirm_password_reset(token=token, new_password=NEW_PASSWORD)
    assert caught.value == InvalidOneTimeToken()
    assert login(auth).session_id


def test_a_verification_token_is_not_a_reset_token(auth):
    user = UserFactory(email="new@example.com", is_verified=False)
    auth.request_email_verification(user_id=user.id)
    token = one_time_token(EMAIL_VERIFICATION_REQUESTED, user_id=user.id)
    with pytest.raises(InvalidOneTimeToken):
        auth.confirm_password_reset(token=token, new_password=NEW_PASSWORD)


def test_a_weak_password_leaves_the_reset_token_usable(auth, ada):
    auth.request_password_reset(email=ada.email, client=CLIENT)
    token = one_time_token(PASSWORD_RESET_REQUESTED, user_id=ada.id)
    with pytest.raises(WeakPassword) as caught:
        auth.confirm_password_reset(token=token, new_password="password")
    assert caught.value.details["new_password"]
    assert login(auth).session_id
    auth.confirm_password_reset(token=token, new_password=NEW_PASSWORD)
    assert login(auth, password=NEW_PASSWORD).session_id


def test_a_reset_leaves_other_users_sessions_alone(auth, ada):
    grace = UserFactory(email="grace@example.com")
    theirs = login(auth, email="grace@example.com")
    auth.request_password_reset(email=ada.email, client=CLIENT)
    auth.confirm_password_reset(
        token=one_time_token(PASSWORD_RESET_REQUESTED, user_id=ada.id), new_password=NEW_PASSWORD
    )
    assert auth.verify_access_token(token=theirs.access_token).user_id == grace.id
