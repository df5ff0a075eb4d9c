"""A password login reads whether the account has a second factor in its writes' statement
(issue 24): `write_together(unless=…)` writes the session unless the account has confirmed TOTP,
and the factor then decides as before. Whatever the account's state, the outcome is the one the
separate read gave: the same answer, the same rows."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auth.core import mfa, services, throttle
from auth.interface import ClientInfo
from auth.models import LoginFailure, MfaRecovery, Session, TotpDevice
from project.crypto import encrypt
from project.kernel.errors import DomainError
from project.writes import _unless_guard_delete, _unless_guard_insert, write_together
from tests.support.factories import PASSWORD, UserFactory
from users.interface import user_service

pytestmark = pytest.mark.django_db

CLIENT = ClientInfo(ip="203.0.113.7", user_agent="test")
SECRET = pyotp.random_base32()


def account(*, device: str, active: bool, verified: bool, recovery_due: bool):
    user = UserFactory(is_verified=verified)
    if not active:
        user_service.deactivate_user(user_id=user.id)
    if device != "none":
        TotpDevice.objects.create(
            user_id=user.id,
            secret_encrypted=encrypt(SECRET.encode(), purpose=mfa._SECRET_PURPOSE),
            confirmed_at=timezone.now() if device == "confirmed" else None,
        )
    if recovery_due:
        MfaRecovery.objects.create(user_id=user.id, effective_at=timezone.now() - timedelta(seconds=1))
    return user


def outcome(user, otp: str | None) -> tuple:
    """What a login of `user` answered and left behind."""
    try:
        services.login(email=user.email, password=PASSWORD, otp=otp, client=CLIENT)
        answer = "signed in"
    except DomainError as exc:
        answer = exc.code
    return (
        answer,
        Session.objects.filter(user_id=user.id).count(),
        LoginFailure.objects.filter(account_key=throttle.account_key(user.email)).count(),
        TotpDevice.objects.filter(user_id=user.id).values_list("confirmed_at", flat=True).first() is not None,
        MfaRecovery.objects.filter(user_id=user.id).exists(),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    device=st.sampled_from(["none", "unconfirmed", "confirmed"]),
    otp=st.sampled_from(["none", "right", "wrong"]),
    active=st.booleans(),
    verified=st.booleans(),
    require_verified=st.booleans(),
    recovery_due=st.booleans(),
)
def test_the_second_factor_read_with_the_writes_answers_as_the_separate_read(
    monkeypatch, device, otp, active, verified, require_verified, recovery_due
):
    separate_read = services._authenticate

    def read_separately(**kwargs):
        return separate_read(**{**kwargs, "second_factor_with_writes": False})

    state = {"device": device, "active": active, "verified": verified, "recovery_due": recovery_due}
    code = {"none": None, "right": pyotp.TOTP(SECRET).now(), "wrong": "000000"}[otp]
    if code == "000000" and pyotp.TOTP(SECRET).verify(code, valid_window=mfa.VALID_WINDOW):
        code = "999999"  # a wrong code that is wrong now
    with override_settings(GATEHOUSE_REQUIRE_VERIFIED_EMAIL=require_verified):
        with_writes = outcome(account(**state), code)
        with monkeypatch.context() as patch:
            patch.setattr(services, "_authenticate", read_separately)
            separately = outcome(account(**state), code)
    assert with_writes == separately


def test_an_account_without_a_second_factor_signs_in_with_four_statements(ada):
    services.login(email=ada.email, password=PASSWORD, otp=None, client=CLIENT)  # the signing key is made
    with CaptureQueriesContext(connection) as captured:
        pair = services.login(email=ada.email, password=PASSWORD, otp=None, client=CLIENT)
    statements = [query["sql"] for query in captured.captured_queries]
    assert not any(sql.startswith('SELECT "gatehouse_auth_totpdevice"') for sql in statements[:3]), statements
    if connection.vendor == "postgresql":
        assert len(statements) == 4, statements
        assert statements[-1].startswith('WITH guard AS (SELECT "gatehouse_auth_totpdevice"'), statements[-1]
    assert Session.objects.filter(id=pair.session_id).exists()


def test_an_account_with_totp_and_no_code_writes_no_session_and_leaves_no_failure(ada):
    TotpDevice.objects.create(
        user_id=ada.id,
        secret_encrypted=encrypt(SECRET.encode(), purpose=mfa._SECRET_PURPOSE),
        confirmed_at=timezone.now(),
    )
    with pytest.raises(DomainError) as refused:
        services.login(email=ada.email, password=PASSWORD, otp=None, client=CLIENT)
    assert refused.value.code == "mfa_required"
    assert not Session.objects.exists()
    assert not LoginFailure.objects.exists()


def test_a_guarded_write_writes_nothing_when_its_read_finds_a_row_and_everything_when_not(ada):
    def writes():
        return {
            "inserts": [services.session_new(user_id=ada.id, ip=CLIENT.ip, user_agent="test")],
            "deletes": [LoginFailure.objects.filter(account_key="k" * 64)],
        }

    LoginFailure.objects.create(account_key="k" * 64)
    assert write_together(**writes(), unless=mfa.confirmed_device(user_id=ada.id)) is True
    assert Session.objects.count() == 1 and not LoginFailure.objects.exists()

    LoginFailure.objects.create(account_key="k" * 64)
    TotpDevice.objects.create(user_id=ada.id, secret_encrypted=b"-", confirmed_at=timezone.now())
    assert write_together(**writes(), unless=mfa.confirmed_device(user_id=ada.id)) is False
    assert Session.objects.count() == 1 and LoginFailure.objects.count() == 1


def test_a_guard_is_added_only_to_statements_whose_shape_it_knows():
    assert _unless_guard_insert('INSERT INTO "t" ("a", "b") VALUES (%s, %s)') == (
        'INSERT INTO "t" ("a", "b") SELECT %s, %s WHERE NOT EXISTS (SELECT 1 FROM guard)'
    )
    assert _unless_guard_delete('DELETE FROM "t" WHERE "t"."a" = %s OR "t"."b" = %s') == (
        'DELETE FROM "t" WHERE ("t"."a" = %s OR "t"."b" = %s) AND NOT EXISTS (SELECT 1 FROM guard)'
    )
    with pytest.raises(ValueError):
        _unless_guard_insert('INSERT INTO "t" ("a") VALUES (DEFAULT)')
    with pytest.raises(ValueError):
        _unless_guard_insert('INSERT INTO "t" ("a") VALUES (%s), (%s)')
    with pytest.raises(ValueError):
        _unless_guard_delete('DELETE FROM "t"')
