"""Email verification, against both implementations (see conftest)."""

import pytest

from auth.interface import EMAIL_VERIFICATION_REQUESTED, InvalidOneTimeToken
from tests.support.factories import UserFactory
from users.interface import user_service

from .conftest import events, one_time_token


@pytest.fixture
def unverified(transactional_db):
    return UserFactory(email="new@example.com", is_verified=False)


def test_a_verification_token_verifies_the_email_once(auth, unverified):
    auth.request_email_verification(user_id=unverified.id)
    token = one_time_token(EMAIL_VERIFICATION_REQUESTED, user_id=unverified.id)
    assert auth.verify_email(token=token) == unverified.id
    assert user_service.get_user(user_id=unverified.id).is_verified is True
    with pytest.raises(InvalidOneTimeToken):
        auth.verify_email(token=token)


@pytest.mark.parametrize("token", ["", "garbage", "x" * 300])
def test_a_bad_verification_token_is_refused(auth, unverified, token):
    with pytest.raises(InvalidOneTimeToken) as caught:
        auth.verify_email(token=token)
    assert caught.value == InvalidOneTimeToken()
    assert user_service.get_user(user_id=unverified.id).is_verified is False


def test_a_verified_user_gets_no_new_link(auth, ada):
    auth.request_email_verification(user_id=ada.id)
    assert events(EMAIL_VERIFICATION_REQUESTED, user_id=ada.id) == []


def test_a_token_for_the_current_address_does_not_confirm_a_pending_new_one(auth, unverified):
    auth.request_email_verification(user_id=unverified.id)
    token = one_time_token(EMAIL_VERIFICATION_REQUESTED, user_id=unverified.id)
    user_service.update_user(user_id=unverified.id, email="renamed@example.com")
    auth.verify_email(token=token)  # proves the current address, nothing more
    user = user_service.get_user(user_id=unverified.id)
    assert (user.email, user.pending_email, user.is_verified) == (unverified.email, "renamed@example.com", True)
