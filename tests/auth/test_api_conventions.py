"""The conventions of docs/api.md on every auth endpoint: bad input is a 4xx in the error envelope, never a 500 or HTML."""

import pyotp
import pytest

from tests.support.factories import PASSWORD
from tests.support.http import bearer, error_code
from users.models import User

from .conftest import ME

pytestmark = pytest.mark.django_db

ANONYMOUS_POSTS = [
    "/api/v1/auth/register",
    "/api/v1/auth/verify-email",
    "/api/v1/auth/token",
    "/api/v1/auth/token/refresh",
    "/api/v1/auth/logout",
    "/api/v1/auth/password/reset",
    "/api/v1/auth/password/reset/confirm",
]
AUTHENTICATED_POSTS = ["/api/v1/auth/password/change", "/api/v1/auth/mfa/totp/confirm"]


@pytest.mark.parametrize("path", ANONYMOUS_POSTS + AUTHENTICATED_POSTS)
def test_a_form_encoded_body_is_415(api, tokens, path):
    response = api.post(path, {"email": "ada@example.com"}, **bearer(tokens["access_token"]))
    assert response.status_code == 415
    assert error_code(response) == "unsupported_media_type"


@pytest.mark.parametrize("path", ANONYMOUS_POSTS + AUTHENTICATED_POSTS)
@pytest.mark.parametrize("body", ["{not json", "\xff\xfe", '{"email": "a" "b"}'])
def test_malformed_json_is_400(api, tokens, path, body):
    response = api.generic("POST", path, body, content_type="application/json", **bearer(tokens["access_token"]))
    assert response.status_code == 400
    assert error_code(response) == "malformed_request"


@pytest.mark.parametrize("path", ANONYMOUS_POSTS + AUTHENTICATED_POSTS)
@pytest.mark.parametrize("body", ["[]", '"text"', "123", "null"])
def test_json_that_is_not_an_object_is_400(api, tokens, path, body):
    response = api.generic("POST", path, body, content_type="application/json", **bearer(tokens["access_token"]))
    assert response.status_code in {400, 401}  # logout's fields are optional: no token at all is a 401
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("path", ANONYMOUS_POSTS)
def test_fields_of_the_wrong_types_are_400(api, db, path):
    body = {
        "email": ["ada@example.com"],
        "password": {"a": 1},
        "token": ["x"],
        "refresh_token": {"x": 1},
        "new_password": ["x"],
    }
    response = api.post(path, body, format="json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert User.objects.count() == 0


@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/auth/register", "/api/v1/auth/token/refresh"])
def test_a_wrong_method_is_405_in_the_envelope(api, db, path):
    response = api.get(path)
    assert response.status_code == 405
    assert error_code(response) == "method_not_allowed"


@pytest.mark.parametrize("path", [*AUTHENTICATED_POSTS, "/api/v1/auth/sessions", "/api/v1/auth/mfa/totp"])
def test_self_endpoints_need_a_bearer_token(api, db, path):
    response = api.post(path, {}, format="json")
    assert response.status_code in {401, 405}
    if response.status_code == 401:
        assert error_code(response) == "not_authenticated"
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_every_response_carries_a_request_id(api, db):
    response = api.post("/api/v1/auth/token", {}, format="json", HTTP_X_REQUEST_ID="trace-abc-123456")
    assert response["X-Request-ID"] == "trace-abc-123456"


# A wrong secret in the BODY of an authenticated request is bad input: 400. 401 means the request's
# own credential (the bearer) is missing, invalid or expired, and client libraries sign out on it.
WRONG_BODY_SECRETS = [
    ("post", "/api/v1/auth/password/change", {"old_password": "not-the-password-at-all", "new_password": "x" * 20}),
    ("post", "/api/v1/auth/mfa/totp/confirm", {"otp": "000000"}),
    ("post", "/api/v1/auth/mfa/totp/confirm", {"otp": "\uff11\uff12\uff13\uff14\uff15\uff16"}),
    ("delete", "/api/v1/auth/mfa/totp", {"password": "not-the-password-at-all"}),
    ("delete", "/api/v1/auth/mfa/totp", {"otp": "000000"}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRONG_BODY_SECRETS, ids=lambda v: str(v)[:40])
def test_a_wrong_secret_in_the_body_never_answers_401_while_the_bearer_is_valid(api, tokens, method, path, body):
    if "mfa/totp" in path:
        enrolled = api.post(
            "/api/v1/auth/mfa/totp", {"password": PASSWORD}, format="json", **bearer(tokens["access_token"])
        )
        assert enrolled.status_code == 201
        if method == "delete":
            secret = enrolled.json()["secret"]
            confirmed = api.post(
                "/api/v1/auth/mfa/totp/confirm",
                {"otp": pyotp.TOTP(secret).now()},
                format="json",
                **bearer(tokens["access_token"]),
            )
            assert confirmed.status_code == 204
    response = getattr(api, method)(path, body, format="json", **bearer(tokens["access_token"]))
    assert response.status_code in {400, 404}, response.content
    assert api.get(ME, **bearer(tokens["access_token"])).status_code == 200
