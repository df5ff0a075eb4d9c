"""Clients nobody here wrote, against a Gatehouse server process (docs/oidc.md, issue 17):
Authlib's OAuth 2 client, pyoidc (`oic`), and mozilla-django-oidc in a relying-party Django site
driven by a real headless Chromium through the hosted sign-in page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from auth.interface.oidc import oidc_provider
from tests.oidc.conftest import hosted_sign_in
from tests.support.browser import chromium as headless_chromium
from tests.support.factories import UserFactory
from tests.support.live import live_gatehouse
from tests.support.processes import LISTEN_TIMEOUT, Process, free_port, manage, port_open, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery staple 42"
RP = "http://127.0.0.1:9/callback"  # never reached: the test reads the redirect


@pytest.fixture(params=["monolith", "split"])
def gatehouse(request, transactional_db, tmp_path):
    """A live Gatehouse under gunicorn: the provider in the web process (monolith), or behind the
    auth service's real gRPC server (split: the web process has AUTH_GRPC_TARGET)."""
    with live_gatehouse(tmp_path, split=("auth",) if request.param == "split" else ()) as base:
        yield base


@pytest.fixture
def ada(transactional_db):
    return UserFactory(email="ada@example.com", password=PASSWORD, display_name="Ada")


def test_authlib_client_code_flow_with_pkce_refresh_introspection_revocation_and_client_credentials(gatehouse, ada):
    created = oidc_provider.create_client(
        name="Authlib app",
        redirect_uris=[RP],
        first_party=True,
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
    )
    meta = requests.get(f"{gatehouse}/.well-known/openid-configuration").json()
    client = OAuth2Session(
        created.client.client_id,
        created.client_secret,
        scope="openid email offline_access",
        redirect_uri=RP,
        code_challenge_method="S256",
    )
    verifier = "v" * 64
    url, state = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce="n1")
    location = hosted_sign_in(url, "ada@example.com", PASSWORD)
    assert parse_qs(urlsplit(location).query)["state"] == [state]
    assert parse_qs(urlsplit(location).query)["iss"] == [gatehouse]
    token = client.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
    assert {"access_token", "refresh_token", "id_token"} <= set(token)

    about = client.introspect_token(meta["introspection_endpoint"], token=token["access_token"]).json()
    assert about["active"] is True and about["sub"] == str(ada.id)

    refreshed = client.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    userinfo = client.get(meta["userinfo_endpoint"]).json()
    assert userinfo["email"] == "ada@example.com"

    assert client.revoke_token(meta["revocation_endpoint"], token=refreshed["refresh_token"]).status_code == 200
    assert client.get(meta["userinfo_endpoint"]).status_code == 401

    machine = OAuth2Session(created.client.client_id, created.client_secret)
    cc = machine.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    assert cc["token_type"] == "Bearer" and "refresh_token" not in cc


def test_pyoidc_discovers_validates_the_id_token_and_reads_userinfo(gatehouse, ada):
    from oic.oic import Client
    from oic.oic.message import AuthorizationResponse, RegistrationResponse
    from oic.utils.authn.client import CLIENT_AUTHN_METHOD

    created = oidc_provider.create_client(name="pyoidc app", redirect_uris=[RP], first_party=True)
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    client.provider_config(gatehouse)  # checks that the issuer in the document is the one asked
    client.store_registration_info(
        RegistrationResponse(client_id=created.client.client_id, client_secret=created.client_secret)
    )
    challenge_args, verifier = client.add_code_challenge()
    state, nonce = "s-" + "a" * 20, "n-" + "b" * 20
    request = client.construct_AuthorizationRequest(
        request_args={
            "response_type": "code",
            "scope": ["openid", "email", "profile"],
            "state": state,
            "nonce": nonce,
            "redirect_uri": RP,
            **challenge_args,
        }
    )
    location = hosted_sign_in(request.request(client.authorization_endpoint), "ada@example.com", PASSWORD)
    response = client.parse_response(AuthorizationResponse, info=urlsplit(location).query, sformat="urlencoded")
    assert response["state"] == state
    token = client.do_access_token_request(
        state=state,
        request_args={"code": response["code"], "redirect_uri": RP, "code_verifier": verifier},
        authn_method="client_secret_basic",
    )
    id_token = token["id_token"]  # verified by pyoidc: signature (JWKS), iss, aud, exp
    assert id_token["sub"] == str(ada.id) and id_token["nonce"] == nonce and id_token["iss"] == gatehouse
    info = client.do_user_info_request(state=state)
    assert info["sub"] == str(ada.id) and info["email"] == "ada@example.com" and info["name"] == "Ada"


@pytest.fixture
def relying_party(gatehouse, tmp_path, transactional_db):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    created = oidc_provider.create_client(
        name="Django site", redirect_uris=[f"{base}/oidc/callback/"], grant_types=["authorization_code"]
    )
    env = subprocess_env(
        DJANGO_SETTINGS_MODULE="tests.oidc.rp.settings",
        RP_DATABASE=str(tmp_path / "rp.sqlite3"),
        RP_ISSUER=gatehouse,
        RP_CLIENT_ID=created.client.client_id,
        RP_CLIENT_SECRET=created.client_secret,
    )
    Process("rp-migrate", manage("migrate", "--noinput"), env=env, log_dir=tmp_path).popen.wait(timeout=120)
    process = Process(
        "rp", manage("runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"), env=env, log_dir=tmp_path
    )
    try:
        process.wait_until(lambda: port_open(port), timeout=LISTEN_TIMEOUT, what="listening")
        yield base
    finally:
        process.stop()


@pytest.fixture
def chromium():
    yield from headless_chromium()


def test_a_django_site_with_mozilla_django_oidc_signs_in_through_the_hosted_pages_in_chromium(
    relying_party, chromium, ada
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(chromium, 15)
    chromium.get(f"{relying_party}/oidc/authenticate/")
    try:
        wait.until(ec.presence_of_element_located((By.ID, "email")))
    except Exception:
        raise AssertionError(f"{chromium.current_url}\n{chromium.page_source[:3000]}") from None
    # Keyboard only: the fields are labelled, focus starts in the first one and moves in order.
    assert chromium.find_element(By.CSS_SELECTOR, "label[for=email]").text == "Email"
    assert chromium.find_element(By.CSS_SELECTOR, "label[for=password]").text == "Password"
    assert chromium.switch_to.active_element.get_attribute("id") == "email"
    chromium.switch_to.active_element.send_keys("ada@example.com", Keys.TAB)
    assert chromium.switch_to.active_element.get_attribute("id") == "password"
    chromium.switch_to.active_element.send_keys(PASSWORD, Keys.ENTER)
    # A third-party client: the consent page, its "Allow" button focused.
    try:
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "button[name=decision][value=allow]")))
    except Exception:
        raise AssertionError(f"{chromium.current_url}\n{chromium.page_source[:3000]}") from None
    assert "Django site" in chromium.page_source
    assert chromium.switch_to.active_element.get_attribute("value") == "allow"
    chromium.switch_to.active_element.send_keys(Keys.ENTER)
    who = wait.until(ec.presence_of_element_located((By.ID, "who")))
    assert who.text == "signed in as ada@example.com"


def test_authlib_client_gets_org_claims_that_follow_membership_across_refreshes(gatehouse, ada):
    """docs/oidc.md, Organizations: a real client library asks for `orgs` and one `org:<id>`,
    verifies the ID tokens with the JWKS, and sees a removed membership vanish on refresh."""
    from authlib.jose import JsonWebKey
    from authlib.jose import jwt as jose_jwt

    from users.interface.orgs import org_service

    boss = UserFactory()
    acme = org_service.create_org(actor_id=ada.id, name="Acme", slug="acme")
    globex = org_service.create_org(actor_id=boss.id, name="Globex", slug="globex")
    org_service.add_member(actor_id=boss.id, org_id=globex.id, user_id=ada.id, role="admin")
    created = oidc_provider.create_client(
        name="Org app", redirect_uris=[RP], first_party=True, grant_types=["authorization_code", "refresh_token"]
    )
    meta = requests.get(f"{gatehouse}/.well-known/openid-configuration").json()
    assert "orgs" in meta["scopes_supported"] and "org_id" in meta["claims_supported"]
    keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"]).json())

    def verified(id_token: str) -> dict:
        claims = jose_jwt.decode(
            id_token, keys, claims_options={"iss": {"essential": True, "value": gatehouse}, "aud": {"essential": True}}
        )
        claims.validate()
        assert claims["aud"] == created.client.client_id
        return dict(claims)

    client = OAuth2Session(
        created.client.client_id,
        created.client_secret,
        scope=f"openid orgs org:{globex.id} offline_access",
        redirect_uri=RP,
        code_challenge_method="S256",
    )
    verifier = "w" * 64
    url, _ = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce="n2")
    location = hosted_sign_in(url, "ada@example.com", PASSWORD)
    token = client.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
    first = verified(token["id_token"])
    assert (first["org_id"], first["org_role"]) == (str(globex.id), "admin")
    assert {o["slug"]: o["role"] for o in first["orgs"]} == {"acme": "owner", "globex": "admin"}
    assert client.get(meta["userinfo_endpoint"]).json()["org_id"] == str(globex.id)

    org_service.remove_member(actor_id=boss.id, org_id=globex.id, user_id=ada.id)
    refreshed = client.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])

    after = verified(refreshed["id_token"])
    assert "org_id" not in after and "org_role" not in after
    assert [o["id"] for o in after["orgs"]] == [str(acme.id)]
    assert "org_id" not in client.get(meta["userinfo_endpoint"]).json()
