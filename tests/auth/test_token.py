"""POST /api/v1/auth/token: the pair, the same refusal for unknown email and wrong password,
inactive accounts, and the brute-force lockout per account and per client IP."""

from datetime import timedelta
from unittest import mock

import jwt
import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from django.utils import timezone

from auth.models import LoginFailure, Session
from tests.support.factories import UserFactory
from tests.support.http import bearer, error_code, login
from users.hashers import GatehouseArgon2Hasher
from users.interface import user_service
from users.models import User

from .conftest import status_of_me

pytestmark = pytest.mark.django_db

REAL_HASHERS = [
    "users.hashers.GatehouseArgon2Hasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]


def test_the_pair_has_the_contract_shape_and_the_access_token_the_contract_claims(api, ada):
    response = login(api)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == django_settings.GATEHOUSE_ACCESS_TOKEN_TTL

    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256"
    assert header["kid"]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert set(claims) == {"iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp"}
    assert claims["sub"] == str(ada.id)
    assert claims["iss"] == django_settings.GATEHOUSE_ISSUER
    assert claims["aud"] == django_settings.GATEHOUSE_AUDIENCE
    assert claims["exp"] - claims["iat"] == 300
    # `sid` is the id the sessions endpoint shows.
    sessions = api.get("/api/v1/auth/sessions", **bearer(body["access_token"])).json()["results"]
    assert [s["id"] for s in sessions] == [claims["sid"]]
    # The refresh token is opaque and stored only as a hash.
    assert body["refresh_token"].count(".") == 0
    assert not Session.objects.filter(refresh_tokens__token_hash=body["refresh_token"]).exists()


def test_every_login_opens_its_own_session_with_a_fresh_token(api, ada):
    first, second = login(api).json(), login(api).json()
    assert first["access_token"] != second["access_token"]
    assert Session.objects.filter(user_id=ada.id).count() == 2


def test_email_is_matched_case_insensitively(api, ada):
    assert login(api, email="  ADA@Example.com").status_code == 200


def test_unknown_email_and_wrong_password_get_the_same_401(api, ada):
    wrong = login(api, password="not-the-password-at-all")
    unknown = login(api, email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert error_code(wrong) == "invalid_credentials"
    assert Session.objects.count() == 0


def test_a_user_without_a_usable_password_cannot_log_in(api, db):
    UserFactory(email="sso@example.com", password=None)
    response = login(api, email="sso@example.com", password="")
    assert response.status_code == 400  # blank password: a validation error, not a guess
    response = login(api, email="sso@example.com", password="anything-at-all")
    assert response.status_code == 401
    assert error_code(response) == "invalid_credentials"


def test_missing_fields_are_a_validation_error(api, db):
    response = api.post("/api/v1/auth/token", {"email": "ada@example.com"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"password"}


class HasherCalls:
    """Counts the Argon2 work a request does: `encode` for the dummy hash of an unknown email,
    `verify` for a real one."""

    def __init__(self):
        self.calls: list[str] = []

    def __enter__(self):
        real_encode, real_verify = GatehouseArgon2Hasher.encode, GatehouseArgon2Hasher.verify

        def encode(hasher, password, salt):
            self.calls.append("encode")
            return real_encode(hasher, password, salt)

        def verify(hasher, password, encoded):
            self.calls.append("verify")
            return real_verify(hasher, password, encoded)

        self._patches = [
            mock.patch.object(GatehouseArgon2Hasher, "encode", encode),
            mock.patch.object(GatehouseArgon2Hasher, "verify", verify),
        ]
        for patch in self._patches:
            patch.start()
        return self

    def __exit__(self, *exc):
        for patch in self._patches:
            patch.stop()


@override_settings(PASSWORD_HASHERS=REAL_HASHERS)
def test_unknown_email_and_wrong_password_cost_one_argon2_hash_each(api, db):
    """Similar timing is proved by equal work, not by a stopwatch: each path runs the real Argon2id
    hasher exactly once, with the same parameters (the stored hash was made by the current hasher,
    the dummy one is made by it)."""
    UserFactory(email="ada@example.com")
    assert User.objects.get().password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")

    with HasherCalls() as wrong:
        assert login(api, password="not-the-password-at-all").status_code == 401
    with HasherCalls() as unknown:
        assert login(api, email="nobody@example.com", password="not-the-password-at-all").status_code == 401
    with HasherCalls() as right:
        assert login(api).status_code == 200

    assert wrong.calls == ["verify"]
    assert unknown.calls == ["encode"]
    assert right.calls == ["verify"]


def test_an_inactive_account_with_the_right_password_gets_403_account_inactive(api, ada):
    user_service.deactivate_user(user_id=ada.id)
    response = login(api)
    assert response.status_code == 403
    assert error_code(response) == "account_inactive"
    assert Session.objects.count() == 0
    # The wrong password does not reveal that the account exists but is inactive.
    wrong = login(api, password="not-the-password-at-all")
    assert wrong.status_code == 401
    assert error_code(wrong) == "invalid_credentials"


def fail(api, times, email="ada@example.com", **extra):
    for _ in range(times):
        assert login(api, email=email, password="not-the-password-at-all", **extra).status_code == 401


def assert_locked(response):
    assert response.status_code == 429
    assert error_code(response) == "too_many_attempts"
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 15 * 60
    assert response.json()["error"]["details"]["retry_after"] == retry_after


def test_after_max_failures_even_the_right_password_is_refused_with_retry_after(api, ada, settings):
    fail(api, settings.GATEHOUSE_LOGIN_MAX_FAILURES)
    assert_locked(login(api))
    assert Session.objects.count() == 0


def test_the_lockout_counts_the_account_whatever_the_case_of_its_email(api, ada, settings):
    fail(api, settings.GATEHOUSE_LOGIN_MAX_FAILURES, email="ADA@example.COM")
    assert_locked(login(api))


def test_an_unknown_email_is_locked_out_like_a_known_one(api, ada, settings):
    fail(api, settings.GATEHOUSE_LOGIN_MAX_FAILURES, email="nobody@example.com")
    locked = login(api, email="nobody@example.com")
    assert_locked(locked)
    # Other accounts are not affected.
    assert login(api).status_code == 200


def test_the_lockout_ends_when_the_failures_leave_the_window(api, ada, settings):
    fail(api, settings.GATEHOUSE_LOGIN_MAX_FAILURES)
    assert_locked(login(api))
    LoginFailure.objects.update(created_at=timezone.now() - timedelta(minutes=15, seconds=1))
    assert login(api).status_code == 200


def test_a_successful_login_clears_the_failures_of_the_account(api, ada, settings):
    fail(api, settings.GATEHOUSE_LOGIN_MAX_FAILURES - 1)
    assert login(api).status_code == 200
    fail(api, settings.GATEHOUSE_LOGIN_MAX_FAILURES - 1)
    assert login(api).status_code == 200


def test_a_locked_out_login_does_not_extend_the_lockout(api, ada, settings):
    fail(api, settings.GATEHOUSE_LOGIN_MAX_FAILURES)
    for _ in range(3):
        assert_locked(login(api, password="not-the-password-at-all"))
    assert LoginFailure.objects.count() == settings.GATEHOUSE_LOGIN_MAX_FAILURES


def test_failures_from_one_ip_across_many_accounts_lock_out_that_ip(api, ada, settings):
    settings.GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP = 4
    for n in range(4):
        fail(api, 1, email=f"victim{n}@example.com", REMOTE_ADDR="203.0.113.7")
    assert_locked(login(api, REMOTE_ADDR="203.0.113.7"))
    # Another client IP still logs in to the same account.
    assert login(api, REMOTE_ADDR="198.51.100.9").status_code == 200


def test_an_access_token_issued_before_the_lockout_keeps_working(api, ada, settings):
    access = login(api).json()["access_token"]
    fail(api, settings.GATEHOUSE_LOGIN_MAX_FAILURES)
    assert status_of_me(api, access) == 200
