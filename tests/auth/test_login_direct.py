"""POST /api/v1/auth/token answers a plain sign-in without DRF's dispatch (gateway.direct, issue 24),
and answers every request exactly as DRF's view answers it: the same status, body and headers, for
any body, content type, Accept header, query string and bearer header, and for every outcome of the
service, errors included. A login has side effects, so each of the two answers starts from the same
failed attempts; a sign-in's tokens are fresh each time, so those are compared by what they are."""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

import jwt
import pyotp
import pytest
from django.db import OperationalError
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from auth.api import views
from auth.core import throttle
from auth.interface import auth_service
from auth.models import LoginFailure
from permissions.interface import ADMIN_ROLE
from project.kernel.delegation import provided
from project.kernel.errors import ServiceUnavailable
from tests.auth.test_login_input import bodies
from tests.permissions.test_check_input import content_types
from tests.support.factories import PASSWORD, UserFactory
from tests.support.http import client_for, exchange, presenting
from users.interface import user_service

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token"
WRONG = "not-the-password-at-all"


@pytest.fixture
def clock():
    """The lockout's clock, stopped: a Retry-After is the same in both answers."""
    now = timezone.now()
    with mock.patch.object(throttle, "timezone", SimpleNamespace(now=lambda: now)):
        yield now


def _failures(count: int, now, email: str = "ada@example.com"):
    """What sets the failed attempts a request starts from: `count` of `email`'s, from the test
    client's address, five minutes old (a lockout then has ten minutes to go)."""

    def start() -> None:
        LoginFailure.objects.all().delete()
        for _ in range(count):
            throttle.login_failure_record(email=email, ip="127.0.0.1")
        LoginFailure.objects.update(created_at=now - timedelta(minutes=5))

    return start


def _answer(client, path: str, body: bytes, content_type: str, **headers) -> tuple[int, bytes, dict]:
    return exchange(client, "POST", path, body, content_type, **headers)


def _through_drf(client, *args, **headers):
    """The answer with the direct path switched off: DRF's view for every request."""
    with mock.patch.object(views, "plain_json_request", lambda request, method: False):
        return _answer(client, *args, **headers)


def _answered_by(client, *args, **headers) -> tuple[tuple[int, bytes, dict], str]:
    """The answer, and who gave it: "direct", or "drf" when DRF's view was dispatched."""
    dispatched = []
    dispatch = views.TokenApi.dispatch

    def counted(view, request, *a, **k):
        dispatched.append(request.path)
        return dispatch(view, request, *a, **k)

    with mock.patch.object(views.TokenApi, "dispatch", counted):
        answer = _answer(client, *args, **headers)
    return answer, "drf" if dispatched else "direct"


def _both(client, start, *args, **headers):
    """The answer, who gave it, and DRF's answer to the same request, each from the state `start()`
    sets; both in a comparable form (`_comparable`)."""
    start()
    answer, by = _answered_by(client, *args, **headers)
    start()
    return _comparable(answer), by, _comparable(_through_drf(client, *args, **headers))


def _comparable(answer: tuple[int, bytes, dict]):
    """The answer, with a sign-in's fresh tokens replaced by what they must be: an access token that
    verifies, its header and its claims but the ones unique to it, and a refresh token of the same
    session; the Content-Length that follows their length is checked, not compared. A refusal's
    registration options (403 passkey_required) carry a fresh challenge: it is left out the same way."""
    status, content, headers = answer
    if not headers.get("Content-Type", "").startswith("application/json") or not content:
        return answer
    assert int(headers["Content-Length"]) == len(content)
    headers = {name: value for name, value in headers.items() if name != "Content-Length"}
    body = json.loads(content)
    if status == 200:
        principal = auth_service.verify_access_token(token=body["access_token"])
        assert auth_service.session_for_refresh_token(refresh_token=body["refresh_token"]) == principal.session_id
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert (claims["sub"], claims["sid"]) == (str(principal.user_id), str(principal.session_id))
        body |= {
            "access_token": (
                jwt.get_unverified_header(body["access_token"]),
                sorted(claims),
                claims["sub"],
                claims["iss"],
                claims["aud"],
                claims["exp"] - claims["iat"],
            ),
            "refresh_token": (len(body["refresh_token"]), body["refresh_token"].isascii()),
        }
    options = body.get("error", {}).get("details", {}).get("registration_options")
    if options is not None:
        assert options.pop("challenge")
    return status, body, headers


def _encode(body) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


# Bodies a client plainly sends: the right password or a wrong one, a known email or not, a code.
plain_bodies = st.fixed_dictionaries(
    {
        "email": st.sampled_from(["ada@example.com", " ADA@Example.com", "nobody@example.com"]),
        "password": st.sampled_from([PASSWORD, WRONG, " " + PASSWORD]),
    },
    optional={"otp": st.sampled_from(["", "123456", " 123 456 "])},
)
# As the HTTP request carries them: JSON of those and of odd ones, and what is not JSON.
raw_bodies = st.one_of(
    st.one_of(plain_bodies, bodies).map(_encode),
    plain_bodies.map(lambda body: json.dumps(body).encode("utf-16")),
    st.sampled_from(
        [
            b"",
            b"{",
            b'{"email": "ada@example.com", "password": NaN}',
            b'\xef\xbb\xbf{"email": "ada@example.com", "password": "' + PASSWORD.encode() + b'"}',
            b'{"email": "ada@example.com", "password": "\xff"}',
            b'{"email": "ada@example.com", "password": "p\xc3\xa4sswort-long-enough"}',
            b"[" * 5000 + b"]" * 5000,
            b"null",
            b"email=ada%40example.com&password=x",
        ]
    ),
    st.binary(max_size=40),
)
accepts = st.sampled_from(
    [None, "", "*/*", "application/json", "application/json; indent=2", "text/html", "application/*", "text/plain"]
)
queries = st.sampled_from(["", "?format=json", "?format=api", "?x=1"])
tokens = st.sampled_from(["own", "none", "bad", "Basic"])


@pytest.fixture
def signed_in(ada):
    return client_for(ada)


@hypothesis_settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(  # the plain body and the plain form drawn often: about a sixth of the requests are answered directly
    body=st.one_of(plain_bodies.map(_encode), raw_bodies),
    form=st.one_of(st.just(("application/json", None, "")), st.tuples(content_types, accepts, queries)),
    token=tokens,
    failures=st.sampled_from([0, 4, 5]),
)
def test_every_request_is_answered_as_drf_answers_it(signed_in, clock, settings, body, form, token, failures):
    content_type, accept, query = form
    settings.GATEHOUSE_LOGIN_MAX_FAILURES = 5
    client = presenting(token, signed_in)
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    answer, _, drf = _both(client, _failures(failures, clock), TOKEN + query, body, content_type, **headers)
    assert answer == drf


def _ada(settings, ada) -> str:
    return ada.email


def _nobody(settings, ada) -> str:
    return "nobody@example.com"


def _with_totp(settings, ada) -> str:
    secret = auth_service.enroll_totp(user_id=ada.id, password=PASSWORD).secret
    auth_service.confirm_totp(user_id=ada.id, otp=pyotp.TOTP(secret).now())
    return ada.email


def _inactive(settings, ada) -> str:
    user_service.deactivate_user(user_id=ada.id)
    return ada.email


def _unverified(settings, ada) -> str:
    settings.GATEHOUSE_REQUIRE_VERIFIED_EMAIL = True
    return UserFactory(email="grace@example.com", is_verified=False).email


def _must_use_a_passkey(settings, ada) -> str:
    settings.GATEHOUSE_PHISHING_RESISTANT_MFA_FOR = [ADMIN_ROLE]
    return UserFactory(email="root@example.com", roles=[ADMIN_ROLE]).email


def _from_a_busy_address(settings, ada) -> str:
    settings.GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP = 5
    return ada.email


OUTCOMES = [
    # The account (its set-up, which gives its email), the password, the code, the failures before
    # (how many, and whose: None for the account's own), then the status and the error code.
    pytest.param(_ada, PASSWORD, None, (0, None), 200, None, id="success"),
    pytest.param(_ada, PASSWORD, None, (4, None), 200, None, id="success after failures"),
    pytest.param(_ada, PASSWORD, "", (0, None), 200, None, id="success with a blank code"),
    pytest.param(_ada, WRONG, None, (0, None), 401, "invalid_credentials", id="wrong password"),
    pytest.param(_nobody, PASSWORD, None, (0, None), 401, "invalid_credentials", id="unknown email"),
    pytest.param(_ada, PASSWORD, None, (5, None), 429, "too_many_attempts", id="locked out"),
    pytest.param(_nobody, WRONG, None, (5, None), 429, "too_many_attempts", id="locked out, unknown email"),
    pytest.param(
        _from_a_busy_address, PASSWORD, None, (5, "x@example.com"), 429, "too_many_attempts", id="address locked out"
    ),
    pytest.param(_with_totp, PASSWORD, None, (0, None), 401, "mfa_required", id="code required"),
    pytest.param(_with_totp, PASSWORD, "000000x", (0, None), 401, "invalid_otp", id="invalid code"),
    pytest.param(_inactive, PASSWORD, None, (0, None), 403, "account_inactive", id="inactive account"),
    pytest.param(_unverified, PASSWORD, None, (0, None), 403, "email_not_verified", id="unverified email"),
    pytest.param(_must_use_a_passkey, PASSWORD, None, (0, None), 403, "passkey_required", id="passkey required"),
]


@pytest.mark.parametrize(("account", "password", "otp", "failures", "status", "code"), OUTCOMES)
def test_every_outcome_of_the_service_is_answered_without_drf_as_drf_answers_it(
    ada, clock, settings, account, password, otp, failures, status, code
):
    settings.GATEHOUSE_LOGIN_MAX_FAILURES = 5
    email = account(settings, ada)
    count, failing = failures
    body = {"email": email, "password": password} | ({} if otp is None else {"otp": otp})
    answer, by, drf = _both(
        APIClient(), _failures(count, clock, failing or email), TOKEN, _encode(body), "application/json"
    )
    assert by == "direct"
    assert answer == drf
    answered_status, answered_body, headers = answer
    assert answered_status == status and headers["Allow"] == "POST, OPTIONS"
    assert answered_body.get("error", {}).get("code") == code
    if status == 429:
        assert headers["Retry-After"] == "600" and answered_body["error"]["details"]["retry_after"] == 600


@pytest.mark.parametrize(
    "failure",
    [ServiceUnavailable("The users service is unavailable."), OperationalError("the database is down")],
    ids=["service unavailable", "database down"],
)
def test_a_failing_dependency_is_answered_as_drf_answers_it(ada, clock, failure):
    body = _encode({"email": ada.email, "password": PASSWORD})
    with mock.patch.object(provided("users"), "verify_password", side_effect=failure):
        answer, by, drf = _both(APIClient(), _failures(0, clock), TOKEN, body, "application/json")
    assert by == "direct" and answer == drf
    status, content, headers = answer
    assert status == 503 and headers["Retry-After"] and content["error"]["code"]


ADA = {"email": "ada@example.com", "password": PASSWORD}


@pytest.mark.parametrize(
    ("body", "content_type", "query", "accept", "status"),
    [
        pytest.param({**ADA, "passkey": {"id": "x"}}, "application/json", "", None, 200, id="passkey"),
        pytest.param({**ADA, "extra": 1}, "application/json", "", None, 200, id="extra key"),
        pytest.param({**ADA, "password": "pässwort-long-enough"}, "application/json", "", None, 401, id="non-ASCII"),
        pytest.param({"email": "ada@example.com"}, "application/json", "", None, 400, id="no password"),
        pytest.param(ADA, "application/json", "?format=json", None, 200, id="?format=json"),
        pytest.param(ADA, "application/json; charset=utf-8", "", None, 200, id="charset"),
        pytest.param(ADA, "text/plain", "", None, 415, id="text/plain"),
        pytest.param(ADA, "application/json", "", "application/json; indent=2", 200, id="Accept with indent"),
        pytest.param(ADA, "application/json", "", "text/html", 406, id="Accept text/html"),
    ],
)
def test_the_rest_is_left_to_drf(ada, clock, body, content_type, query, accept, status):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    answer, by, drf = _both(APIClient(), _failures(0, clock), TOKEN + query, _encode(body), content_type, **headers)
    assert (by, answer[0]) == ("drf", status) and answer == drf
