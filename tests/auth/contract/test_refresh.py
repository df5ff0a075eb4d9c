"""Refresh-token rotation and re-use detection, against both implementations (see conftest).

The server process and this one share GATEHOUSE_REFRESH_REUSE_GRACE (conftest.SHARED_SETTINGS).
"""

import time

import pytest
from django.conf import settings

from auth.interface import REFRESH_TOKEN_REUSED, ClientInfo, InvalidToken
from users.interface import user_service

from .conftest import CLIENT, events, login


def test_refresh_returns_a_new_pair_of_the_same_session(auth, ada):
    first = login(auth)
    second = auth.refresh(refresh_token=first.refresh_token, client=CLIENT)
    assert second.session_id == first.session_id
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert (second.token_type, second.expires_in) == ("Bearer", settings.GATEHOUSE_ACCESS_TOKEN_TTL)
    assert auth.verify_access_token(token=second.access_token).session_id == first.session_id
    assert auth.refresh(refresh_token=second.refresh_token, client=CLIENT).session_id == first.session_id


def test_refresh_records_where_the_session_is_used_from(auth, ada):
    first = login(auth)
    auth.refresh(refresh_token=first.refresh_token, client=ClientInfo(ip="198.51.100.9", user_agent="phone/2"))
    [session] = auth.list_sessions(user_id=ada.id)
    assert (session.ip, session.user_agent) == ("198.51.100.9", "phone/2")
    assert session.last_used_at > session.created_at


def test_a_client_that_lost_the_response_may_retry_within_the_grace_window(auth, ada):
    first = login(auth)
    lost = auth.refresh(refresh_token=first.refresh_token, client=CLIENT)
    retried = auth.refresh(refresh_token=first.refresh_token, client=CLIENT)
    assert retried.session_id == first.session_id
    assert retried.refresh_token not in (first.refresh_token, lost.refresh_token)
    # The retry spent the pair the client never saw: exactly one usable refresh token remains.
    auth.refresh(refresh_token=retried.refresh_token, client=CLIENT)
    assert auth.verify_access_token(token=retried.access_token).session_id == first.session_id


def test_reuse_after_the_grace_window_revokes_the_whole_session(auth, ada):
    first = login(auth)
    second = auth.refresh(refresh_token=first.refresh_token, client=CLIENT)
    auth.verify_access_token(token=second.access_token)
    time.sleep(settings.GATEHOUSE_REFRESH_REUSE_GRACE + 0.5)
    with pytest.raises(InvalidToken):
        auth.refresh(refresh_token=first.refresh_token, client=CLIENT)
    # The thief's pair and the owner's pair alike: the session is over.
    for token in (first.access_token, second.access_token):
        with pytest.raises(InvalidToken):
            auth.verify_access_token(token=token)
    with pytest.raises(InvalidToken):
        auth.refresh(refresh_token=second.refresh_token, client=CLIENT)
    assert auth.list_sessions(user_id=ada.id) == []
    [event] = events(REFRESH_TOKEN_REUSED, user_id=ada.id)
    assert event.payload["session_id"] == str(first.session_id)
    assert event.payload["ip"] == CLIENT.ip


def test_a_second_retry_within_the_grace_window_is_reuse(auth, ada):
    """One grace answer per rotated token (issue 15, item 9), on both transports."""
    first = login(auth)
    auth.refresh(refresh_token=first.refresh_token, client=CLIENT)
    retried = auth.refresh(refresh_token=first.refresh_token, client=CLIENT)
    assert retried.session_id == first.session_id
    with pytest.raises(InvalidToken):
        auth.refresh(refresh_token=first.refresh_token, client=CLIENT)
    with pytest.raises(InvalidToken):
        auth.verify_access_token(token=retried.access_token)
    assert len(events(REFRESH_TOKEN_REUSED, user_id=ada.id)) == 1


def test_reuse_in_one_session_leaves_the_other_sessions_alone(auth, ada):
    stolen, other = login(auth), login(auth)
    auth.refresh(refresh_token=stolen.refresh_token, client=CLIENT)
    time.sleep(settings.GATEHOUSE_REFRESH_REUSE_GRACE + 0.5)
    with pytest.raises(InvalidToken):
        auth.refresh(refresh_token=stolen.refresh_token, client=CLIENT)
    assert auth.verify_access_token(token=other.access_token).session_id == other.session_id
    assert [s.id for s in auth.list_sessions(user_id=ada.id)] == [other.session_id]


@pytest.mark.parametrize("token", ["", "garbage", "x" * 300])
def test_an_unknown_refresh_token_is_invalid(auth, ada, token):
    with pytest.raises(InvalidToken) as caught:
        auth.refresh(refresh_token=token, client=CLIENT)
    assert caught.value == InvalidToken()


def test_the_refresh_token_of_a_logged_out_session_is_invalid(auth, ada):
    pair = login(auth)
    auth.logout(session_id=pair.session_id)
    with pytest.raises(InvalidToken):
        auth.refresh(refresh_token=pair.refresh_token, client=CLIENT)


def test_the_refresh_token_of_a_deactivated_user_is_invalid(auth, ada):
    pair = login(auth)
    user_service.deactivate_user(user_id=ada.id)
    with pytest.raises(InvalidToken):
        auth.refresh(refresh_token=pair.refresh_token, client=CLIENT)
