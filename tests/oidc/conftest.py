from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client

from auth.interface.oidc import oidc_provider
from tests.auth.conftest import ada  # noqa: F401 - fixtures
from tests.support.factories import PASSWORD

RP = "https://rp.example.com/callback"


@pytest.fixture
def rp(db):
    """A confidential, first-party client (no consent page)."""
    return oidc_provider.create_client(
        name="Relying Party",
        redirect_uris=[RP],
        first_party=True,
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
    )


@pytest.fixture
def third_party(db):
    return oidc_provider.create_client(name="Third Party App", redirect_uris=[RP], public=True)


@pytest.fixture
def browser():
    return Client()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_url(client_id: str, challenge: str | None, *, scope="openid email profile", **extra) -> str:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": RP, "scope": scope, "state": "st-1"}
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    params |= extra
    return "/oauth2/authorize?" + urlencode(params)


def redirect_params(response) -> dict:
    assert response.status_code == 302, (response.status_code, response.content[:500])
    location = response["Location"]
    assert location.startswith(RP), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def sign_in(browser, url, email="ada@example.com", password=PASSWORD):
    page = browser.get(url)
    assert page.status_code == 200, page.content[:500]
    assert b'name="password"' in page.content
    return browser.post(url, {"email": email, "password": password})


def code_of(browser, client_id, challenge, **extra) -> str:
    response = sign_in(browser, authorize_url(client_id, challenge, **extra))
    return redirect_params(response)["code"]


def exchange(client, code: str, verifier: str | None, *, secret: str | None = None, client_id: str | None = None):
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": RP}
    if verifier:
        body["code_verifier"] = verifier
    if secret is None:
        body["client_id"] = client_id
    headers = {}
    if secret is not None:
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        headers["HTTP_AUTHORIZATION"] = f"Basic {basic}"
    return Client().post("/oauth2/token", body, **headers)


def csrf_of(page) -> str:
    return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()


@pytest.fixture(scope="session")
def auth_grpc_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """`manage.py grpcserve auth` (the auth service and its OpenID Provider) on the test database."""
    from tests.rpc.servers import start_grpcserve

    with django_db_blocker.unblock():
        # Every test empties the database, signing keys included: the server must not keep a key
        # from a test before (its per-process cache would, for a minute).
        server = start_grpcserve(
            tmp_path_factory.mktemp("oidc-split"),
            "auth",
            name="auth-oidc",
            CELERY_BROKER_URL="",
            GATEHOUSE_SIGNING_KEY_CACHE_SECONDS="0",
        )
    yield server
    server.process.stop()


@pytest.fixture(params=["local", "grpc"])
def oidc_transport(request, transactional_db):
    """The provider in this process, and behind a real auth gRPC server (the split shape): the web
    layer under test is the same, only the implementation behind `oidc_provider` differs."""
    from auth.interface.oidc import SERVICE_NAME, OidcProvider
    from auth.local import LocalOidcProvider
    from auth.rpc.oidc import GrpcOidcProvider
    from project.kernel.delegation import provide

    if request.param == "local":
        yield request.param
        return
    provide(
        SERVICE_NAME,
        GrpcOidcProvider(target=request.getfixturevalue("auth_grpc_server").target),
        interface=OidcProvider,
    )
    try:
        yield request.param
    finally:
        provide(SERVICE_NAME, LocalOidcProvider(), interface=OidcProvider)


def hosted_sign_in(authorization_url: str, email: str, password: str) -> str:
    """What a browser does on the hosted page: fill in the form, follow to the redirect URI."""
    import requests

    session = requests.Session()
    page = session.get(authorization_url, allow_redirects=False)
    assert page.status_code == 200, page.text[:500]
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    # The CSRF cookie is `Secure` (DEBUG is off); over this test's plain http a browser on
    # 127.0.0.1 still sends it (a trustworthy origin), `requests` does not: send it as one would.
    cookie = page.cookies.get("csrftoken")
    answer = session.post(
        authorization_url,
        data={"csrfmiddlewaretoken": csrf, "email": email, "password": password},
        headers={"Referer": authorization_url, "Cookie": f"csrftoken={cookie}"},
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:500]
    return answer.headers["Location"]
