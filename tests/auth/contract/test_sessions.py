"""Logout and session management, against both implementations (see conftest)."""

import uuid

import pytest

from auth.interface import SESSION_REVOKED, InvalidToken, SessionNotFound
from tests.support.factories import UserFactory

from .conftest import CLIENT, events, login


def test_logout_stops_the_sessions_tokens_at_once(auth, ada):
    pair = login(auth)
    auth.verify_access_token(token=pair.access_token)
    assert auth.logout(session_id=pair.session_id) is None
    with pytest.raises(InvalidToken):
        auth.verify_access_token(token=pair.access_token)
    with pytest.raises(InvalidToken):
        auth.refresh(refresh_token=pair.refresh_token, client=CLIENT)
    assert auth.list_sessions(user_id=ada.id) == []
    [event] = events(SESSION_REVOKED, user_id=ada.id)
    assert event.payload["session_ids"] == [str(pair.session_id)]


def test_logout_leaves_the_users_other_sessions_alone(auth, ada):
    gone, kept = login(auth), login(auth)
    auth.logout(session_id=gone.session_id)
    assert auth.verify_access_token(token=kept.access_token).session_id == kept.session_id


def test_logout_of_an_unknown_or_already_revoked_session_does_nothing(auth, ada):
    pair = login(auth)
    auth.logout(session_id=pair.session_id)
    auth.logout(session_id=pair.session_id)
    auth.logout(session_id=uuid.uuid4())
    assert len(events(SESSION_REVOKED, user_id=ada.id)) == 1


def test_session_for_refresh_token_finds_the_session(auth, ada):
    pair = login(auth)
    assert auth.session_for_refresh_token(refresh_token=pair.refresh_token) == pair.session_id
    fresh = auth.refresh(refresh_token=pair.refresh_token, client=CLIENT)
    assert auth.session_for_refresh_token(refresh_token=fresh.refresh_token) == pair.session_id


@pytest.mark.parametrize("token", ["", "garbage"])
def test_session_for_an_unknown_refresh_token_is_invalid(auth, ada, token):
    with pytest.raises(InvalidToken):
        auth.session_for_refresh_token(refresh_token=token)


def test_session_for_the_refresh_token_of_a_revoked_session_is_invalid(auth, ada):
    pair = login(auth)
    auth.logout(session_id=pair.session_id)
    with pytest.raises(InvalidToken):
        auth.session_for_refresh_token(refresh_token=pair.refresh_token)


def test_list_sessions_shows_the_users_active_sessions_most_recently_used_first(auth, ada):
    older, revoked, newer = login(auth), login(auth), login(auth)
    UserFactory(email="grace@example.com")
    login(auth, email="grace@example.com")
    auth.logout(session_id=revoked.session_id)
    assert [s.id for s in auth.list_sessions(user_id=ada.id)] == [newer.session_id, older.session_id]
    auth.refresh(refresh_token=older.refresh_token, client=CLIENT)
    sessions = auth.list_sessions(user_id=ada.id)
    assert [s.id for s in sessions] == [older.session_id, newer.session_id]
    assert all(s.user_id == ada.id and s.revoked_at is None for s in sessions)


def test_list_sessions_of_a_user_without_any_is_empty(auth):
    assert auth.list_sessions(user_id=uuid.uuid4()) == []


def test_revoke_session_revokes_one_of_the_users_sessions(auth, ada):
    gone, kept = login(auth), login(auth)
    assert auth.revoke_session(user_id=ada.id, session_id=gone.session_id) is None
    with pytest.raises(InvalidToken):
        auth.verify_access_token(token=gone.access_token)
    assert [s.id for s in auth.list_sessions(user_id=ada.id)] == [kept.session_id]


def test_another_users_session_is_not_found_and_stays_alive(auth, ada):
    grace = UserFactory(email="grace@example.com")
    theirs = login(auth, email="grace@example.com")
    with pytest.raises(SessionNotFound) as caught:
        auth.revoke_session(user_id=ada.id, session_id=theirs.session_id)
    assert caught.value == SessionNotFound()
    assert auth.verify_access_token(token=theirs.access_token).user_id == grace.id


def test_an_unknown_or_revoked_session_is_not_found(auth, ada):
    pair = login(auth)
    auth.logout(session_id=pair.session_id)
    for session_id in (pair.session_id, uuid.uuid4()):
        with pytest.raises(SessionNotFound):
            auth.revoke_session(user_id=ada.id, session_id=session_id)


def test_revoke_all_sessions_keeps_the_one_named_and_counts_the_rest(auth, ada):
    current, a, b = login(auth), login(auth), login(auth)
    UserFactory(email="grace@example.com")
    theirs = login(auth, email="grace@example.com")
    assert auth.revoke_all_sessions(user_id=ada.id, except_session_id=current.session_id) == 2
    for pair in (a, b):
        with pytest.raises(InvalidToken):
            auth.verify_access_token(token=pair.access_token)
    assert auth.verify_access_token(token=current.access_token).session_id == current.session_id
    assert auth.verify_access_token(token=theirs.access_token).session_id == theirs.session_id
    assert auth.revoke_all_sessions(user_id=ada.id, except_session_id=current.session_id) == 0


def test_revoke_all_sessions_without_an_exception_revokes_every_one(auth, ada):
    pairs = [login(auth), login(auth)]
    assert auth.revoke_all_sessions(user_id=ada.id) == 2
    for pair in pairs:
        with pytest.raises(InvalidToken):
            auth.verify_access_token(token=pair.access_token)
    assert auth.list_sessions(user_id=ada.id) == []
