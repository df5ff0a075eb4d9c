"""AuthService.login, against both implementations (see conftest)."""

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from django.conf import settings

from auth.interface import (
    AccountInactive,
    ClientInfo,
    EmailNotVerified,
    InvalidCredentials,
    InvalidOtp,
    MfaRequired,
    TooManyAttempts,
)
from tests.support.factories import PASSWORD, UserFactory

from .conftest import CLIENT, login, next_code, totp_on, wrong_code


def test_login_issues_a_bearer_token_pair_for_a_new_session(auth, ada):
    pair = login(auth)
    assert pair.token_type == "Bearer"
    assert pair.expires_in == settings.GATEHOUSE_ACCESS_TOKEN_TTL
    assert pair.access_token.count(".") == 2
    assert len(pair.refresh_token) >= 32
    assert isinstance(pair.session_id, uuid.UUID)
    claims = jwt.decode(pair.access_token, options={"verify_signature": False})
    assert (claims["sub"], claims["sid"]) == (str(ada.id), str(pair.session_id))
    assert [s.id for s in auth.list_sessions(user_id=ada.id)] == [pair.session_id]


def test_the_new_session_records_where_the_login_came_from(auth, ada):
    pair = login(auth)
    [session] = auth.list_sessions(user_id=ada.id)
    assert session.id == pair.session_id
    assert session.user_id == ada.id
    assert (session.ip, session.user_agent) == (CLIENT.ip, CLIENT.user_agent)
    assert session.revoked_at is None
    now = datetime.now(UTC)
    assert abs(session.created_at - now) < timedelta(minutes=1)
    assert session.expires_at - now > timedelta(seconds=settings.GATEHOUSE_REFRESH_TOKEN_TTL - 60)


def test_the_email_matches_in_any_case(auth, ada):
    assert login(auth, email="ADA@Example.com").session_id


def test_an_unknown_email_and_a_wrong_password_raise_the_same_error(auth, ada):
    with pytest.raises(InvalidCredentials) as unknown:
        login(auth, email="nobody@example.com")
    with pytest.raises(InvalidCredentials) as wrong:
        login(auth, password=PASSWORD + "x")
    assert unknown.value == wrong.value == InvalidCredentials()
    assert auth.list_sessions(user_id=ada.id) == []


def test_an_inactive_account_cannot_log_in(auth):
    user = UserFactory(email="ada@example.com", is_active=False)
    with pytest.raises(AccountInactive):
        login(auth)
    assert auth.list_sessions(user_id=user.id) == []


def test_an_inactive_account_with_a_wrong_password_gets_invalid_credentials(auth):
    UserFactory(email="ada@example.com", is_active=False)
    with pytest.raises(InvalidCredentials):
        login(auth, password="wrong")


def test_an_unverified_user_is_told_to_verify_only_after_the_right_password(auth):
    user = UserFactory(email="ada@example.com", is_verified=False)
    with pytest.raises(InvalidCredentials):
        login(auth, password="wrong")
    with pytest.raises(EmailNotVerified) as caught:
        login(auth)
    assert caught.value.code == "email_not_verified"
    assert auth.list_sessions(user_id=user.id) == []


def test_after_max_failures_the_account_is_locked_even_for_the_right_password(auth, ada):
    for _ in range(settings.GATEHOUSE_LOGIN_MAX_FAILURES):
        with pytest.raises(InvalidCredentials):
            login(auth, password="wrong")
    with pytest.raises(TooManyAttempts) as caught:
        login(auth, client=ClientInfo(ip="198.51.100.1"))
    retry_after = caught.value.details["retry_after"]
    assert isinstance(retry_after, int)
    assert 0 < retry_after <= 15 * 60
    assert auth.list_sessions(user_id=ada.id) == []


def test_the_account_lock_counts_failures_for_unknown_emails_too(auth):
    for _ in range(settings.GATEHOUSE_LOGIN_MAX_FAILURES):
        with pytest.raises(InvalidCredentials):
            login(auth, email="nobody@example.com")
    with pytest.raises(TooManyAttempts):
        login(auth, email="nobody@example.com")


def test_fewer_failures_than_the_limit_do_not_lock_and_a_success_clears_them(auth, ada):
    for _ in range(2):
        for _ in range(settings.GATEHOUSE_LOGIN_MAX_FAILURES - 1):
            with pytest.raises(InvalidCredentials):
                login(auth, password="wrong")
        assert login(auth).session_id


def test_failures_from_one_ip_lock_that_ip_for_every_account(auth, ada):
    # Across accounts, each below its own limit: only the per-IP count can lock. Over gRPC this
    # also shows that the caller's ClientInfo reaches the server.
    limit = settings.GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP
    assert limit > settings.GATEHOUSE_LOGIN_MAX_FAILURES
    for n in range(limit):
        with pytest.raises(InvalidCredentials):
            login(auth, email=f"guess{n}@example.com")
    with pytest.raises(TooManyAttempts) as caught:
        login(auth)
    assert caught.value.details["retry_after"] > 0
    assert login(auth, client=ClientInfo(ip="198.51.100.1")).session_id


def test_with_totp_on_a_login_without_a_code_needs_one(auth, ada):
    totp_on(auth, ada)
    with pytest.raises(MfaRequired):
        login(auth)
    with pytest.raises(MfaRequired):
        login(auth, otp="")
    assert auth.list_sessions(user_id=ada.id) == []


def test_with_totp_on_a_wrong_code_is_refused_and_a_current_one_accepted(auth, ada):
    totp, _ = totp_on(auth, ada)
    with pytest.raises(InvalidOtp):
        login(auth, otp=wrong_code(totp))
    pair = login(auth, otp=next_code(totp))
    assert auth.verify_access_token(token=pair.access_token).user_id == ada.id


def test_with_totp_on_a_wrong_password_is_refused_before_the_code_is_asked_for(auth, ada):
    totp_on(auth, ada)
    with pytest.raises(InvalidCredentials):
        login(auth, password="wrong")


def test_a_recovery_code_logs_in_once(auth, ada):
    _, recovery_codes = totp_on(auth, ada)
    assert login(auth, otp=recovery_codes[0]).session_id
    with pytest.raises(InvalidOtp):
        login(auth, otp=recovery_codes[0])
    assert login(auth, otp=recovery_codes[1].upper()).session_id
