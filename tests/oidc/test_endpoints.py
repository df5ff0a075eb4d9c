"""Revocation (RFC 7009), introspection (RFC 7662) and RP-initiated logout."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest
from django.test import Client

from auth.interface.oidc import oidc_provider
from tests.oidc.conftest import RP, code_of, exchange, pkce

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("oidc_transport")]

LOGOUT_TO = "https://rp.example.com/signed-out"


def basic(client) -> dict:
    raw = base64.b64encode(f"{client.client.client_id}:{client.client_secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {raw}"}


def granted(browser, client, scope="openid email offline_access") -> dict:
    verifier, challenge = pkce()
    code = code_of(browser, client.client.client_id, challenge, scope=scope)
    response = exchange(None, code, verifier, secret=client.client_secret, client_id=client.client.client_id)
    assert response.status_code == 200, response.content
    return response.json()


def userinfo_status(access: str) -> int:
    return Client().get("/oauth2/userinfo", HTTP_AUTHORIZATION=f"Bearer {access}").status_code


def introspect(client, token: str) -> dict:
    response = Client().post("/oauth2/introspect", {"token": token}, **basic(client))
    assert response.status_code == 200, response.content
    return response.json()


def test_introspection_describes_a_live_token_and_says_inactive_after_revocation(ada, rp, browser):
    tokens = granted(browser, rp)
    about = introspect(rp, tokens["access_token"])
    assert about["active"] is True and about["sub"] == str(ada.id) and about["client_id"] == rp.client.client_id
    assert "offline_access" in about["scope"].split()
    assert introspect(rp, tokens["refresh_token"])["active"] is True
    response = Client().post("/oauth2/revoke", {"token": tokens["refresh_token"]}, **basic(rp))
    assert response.status_code == 200
    assert introspect(rp, tokens["access_token"]) == {"active": False}
    assert introspect(rp, tokens["refresh_token"]) == {"active": False}
    assert userinfo_status(tokens["access_token"]) == 401


def test_introspection_needs_client_authentication_and_shows_only_the_clients_own_tokens(ada, rp, browser, db):
    tokens = granted(browser, rp)
    assert Client().post("/oauth2/introspect", {"token": tokens["access_token"]}).status_code == 401
    other = oidc_provider.create_client(name="Other", redirect_uris=[RP], first_party=True)
    assert introspect(other, tokens["access_token"]) == {"active": False}
    assert introspect(rp, "not-a-token") == {"active": False}


def test_a_client_cannot_revoke_another_clients_token(ada, rp, browser, db):
    tokens = granted(browser, rp)
    other = oidc_provider.create_client(name="Other", redirect_uris=[RP], first_party=True)
    response = Client().post("/oauth2/revoke", {"token": tokens["access_token"]}, **basic(other))
    assert response.status_code == 200  # RFC 7009 §2.2: the same answer
    assert userinfo_status(tokens["access_token"]) == 200


def test_revoking_the_access_token_ends_the_grant(ada, rp, browser):
    tokens = granted(browser, rp)
    assert Client().post("/oauth2/revoke", {"token": tokens["access_token"]}, **basic(rp)).status_code == 200
    refreshed = Client().post(
        "/oauth2/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, **basic(rp)
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


@pytest.fixture
def rp_with_logout(db):
    return oidc_provider.create_client(
        name="Relying Party", redirect_uris=[RP], first_party=True, post_logout_redirect_uris=[LOGOUT_TO]
    )


def test_logout_with_an_id_token_hint_signs_out_and_returns_to_the_client(ada, rp_with_logout, browser):
    tokens = granted(browser, rp_with_logout)
    query = urlencode({"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGOUT_TO, "state": "s-9"})
    response = browser.get("/oauth2/logout?" + query)
    assert response.status_code == 302 and response["Location"] == LOGOUT_TO + "?state=s-9"
    assert userinfo_status(tokens["access_token"]) == 401
    _, challenge = pkce()
    from tests.oidc.conftest import authorize_url

    page = browser.get(authorize_url(rp_with_logout.client.client_id, challenge))
    assert page.status_code == 200 and b'name="password"' in page.content  # the SSO session is gone


def test_logout_without_a_hint_asks_for_confirmation_first(ada, rp_with_logout, browser):
    tokens = granted(browser, rp_with_logout)
    url = "/oauth2/logout?" + urlencode({"client_id": rp_with_logout.client.client_id})
    page = browser.get(url)
    assert page.status_code == 200 and b'name="confirm"' in page.content
    assert userinfo_status(tokens["access_token"]) == 200  # nothing happened on GET
    done = browser.post(url, {"confirm": "yes"})
    assert done.status_code == 200 and b"signed out" in done.content
    assert userinfo_status(tokens["access_token"]) == 401


def test_logout_never_redirects_to_an_unregistered_address(ada, rp_with_logout, browser):
    tokens = granted(browser, rp_with_logout)
    query = urlencode({"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example.com/"})
    response = browser.get("/oauth2/logout?" + query)
    assert response.status_code == 200 and "Location" not in response
