"""TOTP: enrol, confirm, log in with it (each code once), recovery codes (each once), disable."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from unittest import mock
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from auth.core import mfa
from auth.models import LoginFailure, RecoveryCode, Session, TotpDevice
from tests.support.factories import PASSWORD
from tests.support.http import bearer, error_code, login

pytestmark = pytest.mark.django_db

TOTP = "/api/v1/auth/mfa/totp"
CONFIRM = "/api/v1/auth/mfa/totp/confirm"


@pytest.fixture
def clock():
    """The time the TOTP checks see, in the middle of a 30-second step so that "the step before"
    and "the step after" are unambiguous however long the test takes."""
    start = datetime.now(UTC).replace(microsecond=0)
    start -= timedelta(seconds=start.timestamp() % 30 - 15)
    clock = SimpleNamespace(now=start)
    with mock.patch.object(mfa, "timezone", SimpleNamespace(now=lambda: clock.now)):
        yield clock


def code(secret: str, clock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now + timedelta(seconds=30 * steps))


def mfa_enabled(api, access_token) -> bool:
    return api.get("/api/v1/users/me", **bearer(access_token)).json()["mfa_enabled"]


@pytest.fixture
def enrolled(api, tokens):
    response = api.post(TOTP, {"password": PASSWORD}, format="json", **bearer(tokens["access_token"]))
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def mfa_on(api, tokens, enrolled, clock):
    """TOTP confirmed with the code of the step before now: this step's and the next are unused."""
    response = api.post(
        CONFIRM, {"otp": code(enrolled["secret"], clock, -1)}, format="json", **bearer(tokens["access_token"])
    )
    assert response.status_code == 204, response.content
    return enrolled


def test_enrolment_gives_a_secret_an_otpauth_uri_with_the_issuer_and_ten_recovery_codes(
    api, tokens, enrolled, settings
):
    uri = urlparse(enrolled["otpauth_uri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert uri.path == f"/{settings.GATEHOUSE_TOTP_ISSUER}:ada%40example.com"
    query = parse_qs(uri.query)
    assert query["secret"] == [enrolled["secret"]]
    assert query["issuer"] == [settings.GATEHOUSE_TOTP_ISSUER]
    assert len(enrolled["recovery_codes"]) == len(set(enrolled["recovery_codes"])) == 10
    # Stored encrypted and hashed only.
    device = TotpDevice.objects.get()
    assert enrolled["secret"].encode() not in bytes(device.secret_encrypted)
    assert not RecoveryCode.objects.filter(code_hash__in=enrolled["recovery_codes"]).exists()


def test_an_unconfirmed_enrolment_changes_nothing_about_logging_in(api, enrolled, tokens):
    assert login(api).status_code == 200
    assert mfa_enabled(api, tokens["access_token"]) is False


def test_confirming_with_a_wrong_code_is_400_invalid_otp_and_leaves_mfa_off(api, tokens, enrolled, clock):
    # The bearer is fine; the code in the body is bad input. A 401 makes client libraries drop the session.
    wrong = f"{(int(code(enrolled['secret'], clock)) + 1) % 1_000_000:06d}"
    response = api.post(CONFIRM, {"otp": wrong}, format="json", **bearer(tokens["access_token"]))
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"otp": ["The one-time code is not valid."]}
    assert error_code(response) == "invalid_otp"
    assert mfa_enabled(api, tokens["access_token"]) is False


def test_confirming_with_a_current_code_turns_mfa_on(api, tokens, enrolled, clock):
    response = api.post(
        CONFIRM, {"otp": code(enrolled["secret"], clock)}, format="json", **bearer(tokens["access_token"])
    )
    assert response.status_code == 204
    assert mfa_enabled(api, tokens["access_token"]) is True


def test_confirming_before_enrolling_is_a_state_error(api, tokens):
    response = api.post(CONFIRM, {"otp": "123456"}, format="json", **bearer(tokens["access_token"]))
    assert response.status_code == 400
    assert error_code(response) == "mfa_state"


def test_enrolling_again_while_mfa_is_on_is_a_state_error_and_keeps_the_secret(api, tokens, mfa_on, clock):
    response = api.post(TOTP, {"password": PASSWORD}, format="json", **bearer(tokens["access_token"]))
    assert response.status_code == 400
    assert error_code(response) == "mfa_state"
    assert login(api, otp=code(mfa_on["secret"], clock)).status_code == 200


def test_the_mfa_endpoints_need_a_token(api, db):
    assert api.post(TOTP).status_code == 401
    assert api.post(CONFIRM, {"otp": "123456"}, format="json").status_code == 401
    assert api.delete(TOTP).status_code == 401


def test_login_without_a_code_is_401_mfa_required(api, mfa_on):
    sessions = Session.objects.count()
    response = login(api)
    assert response.status_code == 401
    assert error_code(response) == "mfa_required"
    assert Session.objects.count() == sessions


def test_a_wrong_password_says_invalid_credentials_not_mfa_required(api, mfa_on):
    response = login(api, password="not-the-password-at-all")
    assert response.status_code == 401
    assert error_code(response) == "invalid_credentials"


def test_login_with_a_wrong_code_is_401_invalid_otp_and_counts_as_a_failure(api, mfa_on, clock):
    wrong = f"{(int(code(mfa_on['secret'], clock)) + 1) % 1_000_000:06d}"
    response = login(api, otp=wrong)
    assert response.status_code == 401
    assert error_code(response) == "invalid_otp"
    assert LoginFailure.objects.count() == 1


def test_repeated_wrong_codes_lock_the_account_out(api, mfa_on, clock, settings):
    for n in range(settings.GATEHOUSE_LOGIN_MAX_FAILURES):
        assert login(api, otp=f"{n:06d}").status_code == 401
    response = login(api, otp=code(mfa_on["secret"], clock))
    assert response.status_code == 429


def test_login_with_a_valid_code_is_200(api, mfa_on, clock):
    response = login(api, otp=code(mfa_on["secret"], clock))
    assert response.status_code == 200
    assert mfa_enabled(api, response.json()["access_token"]) is True


def test_a_code_is_accepted_once_and_no_older_code_after_it(api, mfa_on, clock):
    current = code(mfa_on["secret"], clock)
    assert login(api, otp=current).status_code == 200
    replayed = login(api, otp=current)
    assert replayed.status_code == 401
    assert error_code(replayed) == "invalid_otp"
    # The code of the next step (clock drift) still works, and then the current one is older.
    assert login(api, otp=code(mfa_on["secret"], clock, 1)).status_code == 200
    assert login(api, otp=current).status_code == 401


def test_a_code_outside_the_drift_window_is_refused(api, mfa_on, clock):
    assert login(api, otp=code(mfa_on["secret"], clock, 2)).status_code == 401
    assert login(api, otp=code(mfa_on["secret"], clock, -3)).status_code == 401


def test_a_recovery_code_logs_in_once(api, mfa_on):
    recovery = mfa_on["recovery_codes"][0]
    assert login(api, otp=recovery).status_code == 200
    again = login(api, otp=recovery)
    assert again.status_code == 401
    assert error_code(again) == "invalid_otp"
    # The others still work, however they are typed.
    assert login(api, otp=f"  {mfa_on['recovery_codes'][1].upper().replace('-', ' ')} ").status_code == 200
    assert RecoveryCode.objects.filter(used_at__isnull=False).count() == 2


def test_a_recovery_code_does_not_confirm_an_enrolment(api, tokens, enrolled):
    response = api.post(
        CONFIRM, {"otp": enrolled["recovery_codes"][0]}, format="json", **bearer(tokens["access_token"])
    )
    assert response.status_code == 400
    assert mfa_enabled(api, tokens["access_token"]) is False


def disable(api, tokens, **body):
    return api.delete(TOTP, body, format="json", **bearer(tokens["access_token"]))


def test_disabling_needs_the_password_a_code_is_not_enough(api, tokens, mfa_on, clock):
    neither = disable(api, tokens)
    assert neither.status_code == 400
    assert error_code(neither) == "validation_error"
    wrong_password = disable(api, tokens, password="not-the-password-at-all")
    assert wrong_password.status_code == 400
    assert error_code(wrong_password) == "invalid_password"
    only_a_code = disable(api, tokens, otp=code(mfa_on["secret"], clock))
    assert only_a_code.status_code == 400
    assert error_code(only_a_code) == "validation_error"
    assert mfa_enabled(api, tokens["access_token"]) is True
    assert login(api).status_code == 401


def test_disabling_with_the_password_turns_mfa_off(api, tokens, mfa_on):
    assert disable(api, tokens, password=PASSWORD).status_code == 204
    assert mfa_enabled(api, tokens["access_token"]) is False
    assert login(api).status_code == 200
    assert not RecoveryCode.objects.exists()


def test_disabling_when_mfa_is_off_is_a_state_error(api, tokens):
    response = disable(api, tokens, password=PASSWORD)
    assert response.status_code == 400
    assert error_code(response) == "mfa_state"


def _in_other_digits(ascii_code: str, zero: str) -> str:
    return "".join(chr(ord(zero) + int(d)) for d in ascii_code)


@pytest.mark.parametrize(
    "zero", ["\uff10", "\u0660", "\u06f0", "\u0966"], ids=["fullwidth", "arabic-indic", "persian", "devanagari"]
)
def test_a_code_in_non_ascii_digits_is_refused_and_counted_not_a_500(api, tokens, mfa_on, clock, zero):
    lookalike = _in_other_digits(code(mfa_on["secret"], clock), zero)
    assert lookalike.isdigit() and not lookalike.isascii()

    signin = login(api, otp=lookalike)
    assert (signin.status_code, error_code(signin)) == (401, "invalid_otp")
    assert LoginFailure.objects.count() == 1
    assert mfa_enabled(api, tokens["access_token"]) is True


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(otp=st.text(min_size=1, max_size=32).filter(lambda s: s.strip()))
def test_any_text_as_a_confirmation_code_is_a_400_never_a_500(api, tokens, enrolled, otp):
    LoginFailure.objects.all().delete()  # each wrong code counts toward the lockout: not under test here
    response = api.post(CONFIRM, {"otp": otp}, format="json", **bearer(tokens["access_token"]))
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in {"invalid_otp", "validation_error"}


# Issue 15 item 3: a stolen access token must not lock its owner out.


def test_enrolling_without_the_password_is_refused_and_counted(api, tokens):
    for body in ({}, {"password": "not-the-password-at-all"}):
        response = api.post(TOTP, body, format="json", **bearer(tokens["access_token"]))
        assert response.status_code == 400
    assert error_code(response) == "invalid_password"
    assert not TotpDevice.objects.exists()
    assert LoginFailure.objects.count() == 1  # the wrong password; the empty body proved nothing


def test_turning_mfa_on_ends_the_other_sessions_and_tells_the_user(api, tokens, enrolled, clock):
    from project.events.models import OutboxEvent

    other = login(api).json()  # another device, signed in before the change
    response = api.post(
        CONFIRM, {"otp": code(enrolled["secret"], clock)}, format="json", **bearer(tokens["access_token"])
    )
    assert response.status_code == 204
    assert api.get("/api/v1/users/me", **bearer(other["access_token"])).status_code == 401
    assert api.get("/api/v1/users/me", **bearer(tokens["access_token"])).status_code == 200
    assert [e.payload["change"] for e in OutboxEvent.objects.filter(type="auth.mfa_changed")] == ["enabled"]


def test_turning_mfa_off_ends_the_other_sessions_and_tells_the_user(api, tokens, mfa_on, clock):
    from project.events.models import OutboxEvent

    other = login(api, otp=code(mfa_on["secret"], clock)).json()
    assert disable(api, tokens, password=PASSWORD).status_code == 204
    assert api.get("/api/v1/users/me", **bearer(other["access_token"])).status_code == 401
    assert api.get("/api/v1/users/me", **bearer(tokens["access_token"])).status_code == 200
    changes = [e.payload["change"] for e in OutboxEvent.objects.filter(type="auth.mfa_changed").order_by("occurred_at")]
    assert changes == ["enabled", "disabled"]


def test_wrong_passwords_at_the_mfa_prompts_lock_the_account(api, tokens, settings):
    """Issue 15 item 5: 30 wrong answers no longer each get an answer, then the right one work."""
    settings.GATEHOUSE_LOGIN_MAX_FAILURES = 5
    statuses = [
        api.post(TOTP, {"password": f"wrong-{i}-password"}, format="json", **bearer(tokens["access_token"])).status_code
        for i in range(8)
    ]
    assert statuses == [400] * 5 + [429] * 3
    right = api.post(TOTP, {"password": PASSWORD}, format="json", **bearer(tokens["access_token"]))
    assert right.status_code == 429 and error_code(right) == "too_many_attempts"
    assert login(api).status_code == 429  # the same lockout as sign-in


# The recovery path for a lost (or hijacked) second factor: rate-limited, delayed, cancellable.
RECOVERY = "/api/v1/auth/mfa/recovery"


def test_recovery_removes_the_factor_only_after_the_delay_with_a_mail_at_each_step(api, tokens, mfa_on, settings):
    from django.utils import timezone

    from auth.models import MfaRecovery
    from project.events.models import OutboxEvent

    settings.GATEHOUSE_MFA_RECOVERY_DELAY = 3600
    wrong = api.post(RECOVERY, {"email": "ada@example.com", "password": "not-the-password-at-all"}, format="json")
    assert wrong.status_code == 401 and error_code(wrong) == "invalid_credentials"
    asked = api.post(RECOVERY, {"email": "ada@example.com", "password": PASSWORD}, format="json")
    assert asked.status_code == 202, asked.content
    again = api.post(RECOVERY, {"email": "ada@example.com", "password": PASSWORD}, format="json")
    assert again.json()["effective_at"] == asked.json()["effective_at"]  # asking again moves nothing
    # Before the delay: the password alone still does not sign in.
    assert error_code(login(api)) == "mfa_required"
    MfaRecovery.objects.update(effective_at=timezone.now() - timedelta(seconds=1))
    signed_in = login(api)
    assert signed_in.status_code == 200, signed_in.content
    assert mfa_enabled(api, signed_in.json()["access_token"]) is False
    assert api.get("/api/v1/users/me", **bearer(tokens["access_token"])).status_code == 401  # every session ended
    changes = [e.payload["change"] for e in OutboxEvent.objects.filter(type="auth.mfa_changed").order_by("occurred_at")]
    assert changes == ["enabled", "recovery_requested", "recovered"]


def test_a_sign_in_with_the_factor_cancels_the_recovery(api, tokens, mfa_on, clock):
    from django.utils import timezone

    from auth.models import MfaRecovery
    from project.events.models import OutboxEvent

    assert api.post(RECOVERY, {"email": "ada@example.com", "password": PASSWORD}, format="json").status_code == 202
    assert login(api, otp=code(mfa_on["secret"], clock)).status_code == 200
    assert not MfaRecovery.objects.exists()
    MfaRecovery.objects.filter().update(effective_at=timezone.now())  # nothing left to mature
    assert error_code(login(api)) == "mfa_required"
    changes = [e.payload["change"] for e in OutboxEvent.objects.filter(type="auth.mfa_changed").order_by("occurred_at")]
    assert changes[-1] == "recovery_cancelled"


def test_recovery_for_an_account_without_mfa_is_a_state_error(api, tokens):
    response = api.post(RECOVERY, {"email": "ada@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 400 and error_code(response) == "mfa_state"
