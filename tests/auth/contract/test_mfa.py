"""TOTP enrolment, confirmation and removal, against both implementations (see conftest)."""

import urllib.parse
import uuid

import pyotp
import pytest
from django.conf import settings

from auth.interface import (
    MfaStateError,
    ReauthenticationFailed,
    ReauthenticationOtpFailed,
    TooManyAttempts,
    TotpEnrollment,
)
from tests.support.factories import PASSWORD

from .conftest import next_code, totp_on, wrong_code


def test_enrolment_returns_a_secret_its_uri_and_ten_recovery_codes_and_is_not_yet_on(auth, ada):
    enrollment = auth.enroll_totp(user_id=ada.id, password=PASSWORD)
    assert isinstance(enrollment, TotpEnrollment)
    assert len(enrollment.secret) >= 16
    uri = urllib.parse.urlparse(enrollment.otpauth_uri)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    query = urllib.parse.parse_qs(uri.query)
    assert query["secret"] == [enrollment.secret]
    assert query["issuer"] == [settings.GATEHOUSE_TOTP_ISSUER]
    assert "ada%40example.com" in uri.path or "ada@example.com" in urllib.parse.unquote(uri.path)
    assert isinstance(enrollment.recovery_codes, tuple)
    assert len(set(enrollment.recovery_codes)) == 10
    assert auth.mfa_enabled(user_id=ada.id) is False


def test_a_first_valid_code_turns_totp_on(auth, ada):
    enrollment = auth.enroll_totp(user_id=ada.id, password=PASSWORD)
    assert auth.confirm_totp(user_id=ada.id, otp=pyotp.TOTP(enrollment.secret).now()) is None
    assert auth.mfa_enabled(user_id=ada.id) is True


def test_a_wrong_code_does_not_turn_totp_on(auth, ada):
    totp = pyotp.TOTP(auth.enroll_totp(user_id=ada.id, password=PASSWORD).secret)
    with pytest.raises(ReauthenticationOtpFailed) as caught:
        auth.confirm_totp(user_id=ada.id, otp=wrong_code(totp))
    assert caught.value.code == "invalid_otp"
    assert caught.value.kind == "invalid_argument"
    assert auth.mfa_enabled(user_id=ada.id) is False


def test_a_recovery_code_does_not_confirm_enrolment(auth, ada):
    enrollment = auth.enroll_totp(user_id=ada.id, password=PASSWORD)
    with pytest.raises(ReauthenticationOtpFailed):
        auth.confirm_totp(user_id=ada.id, otp=enrollment.recovery_codes[0])
    assert auth.mfa_enabled(user_id=ada.id) is False


def test_a_restarted_enrolment_replaces_the_secret(auth, ada):
    old = pyotp.TOTP(auth.enroll_totp(user_id=ada.id, password=PASSWORD).secret)
    new = pyotp.TOTP(auth.enroll_totp(user_id=ada.id, password=PASSWORD).secret)
    assert old.secret != new.secret
    auth.confirm_totp(user_id=ada.id, otp=new.now())
    assert auth.mfa_enabled(user_id=ada.id) is True


def test_confirming_without_enrolment_is_a_state_error(auth, ada):
    with pytest.raises(MfaStateError):
        auth.confirm_totp(user_id=ada.id, otp="123456")


def test_enrolling_or_confirming_again_while_on_is_a_state_error(auth, ada):
    totp, _ = totp_on(auth, ada)
    with pytest.raises(MfaStateError):
        auth.enroll_totp(user_id=ada.id, password=PASSWORD)
    with pytest.raises(MfaStateError):
        auth.confirm_totp(user_id=ada.id, otp=next_code(totp))
    assert auth.mfa_enabled(user_id=ada.id) is True


def test_disable_with_the_password_turns_totp_off(auth, ada):
    totp_on(auth, ada)
    auth.disable_totp(user_id=ada.id, password=PASSWORD)
    assert auth.mfa_enabled(user_id=ada.id) is False


def test_disable_with_a_wrong_or_empty_password_leaves_totp_on(auth, ada):
    totp_on(auth, ada)
    with pytest.raises(ReauthenticationFailed) as caught:
        auth.disable_totp(user_id=ada.id, password="wrong")
    assert caught.value.code == "invalid_password"
    with pytest.raises(ReauthenticationFailed):
        auth.disable_totp(user_id=ada.id, password="")
    assert auth.mfa_enabled(user_id=ada.id) is True


def test_enrolment_needs_the_password(auth, ada):
    """Issue 15 item 3: a stolen access token alone cannot enrol the attacker's authenticator."""
    with pytest.raises(ReauthenticationFailed) as caught:
        auth.enroll_totp(user_id=ada.id, password="not-the-password")
    assert caught.value.code == "invalid_password"
    with pytest.raises(MfaStateError):  # nothing was enrolled
        auth.confirm_totp(user_id=ada.id, otp="123456")


def test_wrong_answers_to_the_prompts_lock_the_account_like_failed_sign_ins(auth, ada):
    """Issue 15 item 5: re-authentication prompts count toward the sign-in lockout; once locked,
    even the right password is refused (the gRPC server runs with the default limit)."""
    for _ in range(settings.GATEHOUSE_LOGIN_MAX_FAILURES):
        with pytest.raises(ReauthenticationFailed):
            auth.enroll_totp(user_id=ada.id, password="wrong")
    with pytest.raises(TooManyAttempts):
        auth.enroll_totp(user_id=ada.id, password=PASSWORD)
    with pytest.raises(TooManyAttempts):
        auth.change_password(user_id=ada.id, session_id=None, old_password=PASSWORD, new_password="x" * 20 + "Aa1!")


def test_disable_while_off_is_a_state_error(auth, ada):
    with pytest.raises(MfaStateError):
        auth.disable_totp(user_id=ada.id, password=PASSWORD)
    auth.enroll_totp(user_id=ada.id, password=PASSWORD)  # enrolled but not confirmed: still off
    with pytest.raises(MfaStateError):
        auth.disable_totp(user_id=ada.id, password=PASSWORD)


def test_after_disable_enrolment_can_start_again(auth, ada):
    totp_on(auth, ada)
    auth.disable_totp(user_id=ada.id, password=PASSWORD)
    totp, _ = totp_on(auth, ada)
    assert auth.mfa_enabled(user_id=ada.id) is True
    assert totp.secret


def test_mfa_enabled_is_false_for_an_unknown_user(auth):
    assert auth.mfa_enabled(user_id=uuid.uuid4()) is False
