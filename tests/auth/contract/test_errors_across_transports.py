"""The same failing call raises equal errors — same class, code, message and details — whether
the implementation is in process or across gRPC."""

import uuid

import pytest
from django.conf import settings

from auth.interface import TooManyAttempts
from tests.support.factories import PASSWORD, UserFactory
from users.interface import UserNotFound

from .conftest import CLIENT, login, totp_on, wrong_code

MISSING = uuid.UUID("00000000-0000-4000-8000-000000000000")


@pytest.fixture
def people(both):
    """ada (plain), mfa (TOTP on), off (inactive), unverified, set up through the local implementation."""
    local, _ = both
    ada, mfa = UserFactory(email="ada@example.com"), UserFactory(email="mfa@example.com")
    UserFactory(email="off@example.com", is_active=False)
    UserFactory(email="unverified@example.com", is_verified=False)
    totp, _ = totp_on(local, mfa)
    return {"ada": ada, "mfa": mfa, "totp": totp}


FAILING_CALLS = {
    "unknown email": lambda auth, p: login(auth, email="nobody@example.com"),
    "wrong password": lambda auth, p: login(auth, password="wrong"),
    "inactive account": lambda auth, p: login(auth, email="off@example.com"),
    "unverified account": lambda auth, p: login(auth, email="unverified@example.com"),
    "mfa required": lambda auth, p: login(auth, email="mfa@example.com"),
    "wrong otp at login": lambda auth, p: login(auth, email="mfa@example.com", otp=wrong_code(p["totp"])),
    "garbage access token": lambda auth, p: auth.verify_access_token(token="garbage"),
    "garbage refresh token": lambda auth, p: auth.refresh(refresh_token="garbage", client=CLIENT),
    "session of a garbage refresh token": lambda auth, p: auth.session_for_refresh_token(refresh_token="garbage"),
    "revoke an unknown session": lambda auth, p: auth.revoke_session(user_id=p["ada"].id, session_id=MISSING),
    "change password, wrong old one": lambda auth, p: auth.change_password(
        user_id=p["ada"].id, session_id=None, old_password="wrong", new_password="another-Long-passphrase-7"
    ),
    "change password, weak new one": lambda auth, p: auth.change_password(
        user_id=p["ada"].id, session_id=None, old_password=PASSWORD, new_password="password"
    ),
    "change password of an unknown user": lambda auth, p: auth.change_password(
        user_id=MISSING, session_id=None, old_password=PASSWORD, new_password="another-Long-passphrase-7"
    ),
    "bad reset token": lambda auth, p: auth.confirm_password_reset(token="garbage", new_password=PASSWORD),
    "bad verification token": lambda auth, p: auth.verify_email(token="garbage"),
    "verification for an unknown user": lambda auth, p: auth.request_email_verification(user_id=MISSING),
    "enrol an unknown user": lambda auth, p: auth.enroll_totp(user_id=MISSING, password=PASSWORD),
    "enrol while on": lambda auth, p: auth.enroll_totp(user_id=p["mfa"].id, password=PASSWORD),
    "confirm without enrolment": lambda auth, p: auth.confirm_totp(user_id=p["ada"].id, otp="123456"),
    "confirm while on": lambda auth, p: auth.confirm_totp(user_id=p["mfa"].id, otp="123456"),
    "disable while off": lambda auth, p: auth.disable_totp(user_id=p["ada"].id, password=PASSWORD),
    "disable with a wrong password": lambda auth, p: auth.disable_totp(user_id=p["mfa"].id, password="wrong"),
    "disable with no password": lambda auth, p: auth.disable_totp(user_id=p["mfa"].id, password=""),
    "enrol with a wrong password": lambda auth, p: auth.enroll_totp(user_id=p["ada"].id, password="wrong"),
}


def _raised(call, auth, people) -> Exception:
    with pytest.raises(Exception) as caught:
        call(auth, people)
    return caught.value


@pytest.mark.parametrize("call", FAILING_CALLS.values(), ids=FAILING_CALLS.keys())
def test_a_failing_call_raises_equal_errors_in_process_and_over_grpc(both, people, call):
    local, remote = both
    local_error, remote_error = _raised(call, local, people), _raised(call, remote, people)
    assert type(remote_error) is type(local_error)
    assert remote_error == local_error
    assert (remote_error.code, remote_error.message, remote_error.details) == (
        local_error.code,
        local_error.message,
        local_error.details,
    )


def test_an_error_of_another_service_crosses_as_itself(both):
    _, remote = both
    with pytest.raises(UserNotFound):
        remote.enroll_totp(user_id=MISSING, password=PASSWORD)


def test_the_lockout_is_the_same_error_over_both_with_its_retry_after(both, people):
    local, remote = both
    for _ in range(settings.GATEHOUSE_LOGIN_MAX_FAILURES):
        _raised(lambda auth, p: login(auth, password="wrong"), local, people)
    errors = [_raised(lambda auth, p: login(auth), impl, people) for impl in (local, remote)]
    for error in errors:
        assert type(error) is TooManyAttempts
        assert error.code == "too_many_attempts"
        assert isinstance(error.details["retry_after"], int)
    # The window slides: a second may pass between the two calls, and nothing else differs.
    assert abs(errors[0].details["retry_after"] - errors[1].details["retry_after"]) <= 1
    assert errors[0].message == errors[1].message
