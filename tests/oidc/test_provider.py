"""The OpenID Provider of docs/oidc.md through its HTTP endpoints, with Django's test client."""

from __future__ import annotations

import base64
import re

import jwt
import pytest
from django.test import Client

from auth.interface.oidc import oidc_provider
from tests.oidc.conftest import (
    PASSWORD,
    RP,
    authorize_url,
    code_of,
    exchange,
    pkce,
    redirect_params,
    sign_in,
)
from tests.support.factories import AssignmentFactory, RoleFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("oidc_transport")]


def jwks_client_key(token: str):
    jwks = Client().get("/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks["keys"] if k["kid"] == kid)
    return jwt.PyJWK(key).key


def test_discovery_announces_every_endpoint_under_the_issuer(settings):
    doc = Client().get("/.well-known/openid-configuration").json()
    assert doc["issuer"] == settings.GATEHOUSE_ISSUER
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert doc[name].startswith(settings.GATEHOUSE_ISSUER.rstrip("/") + "/")
    assert doc["jwks_uri"].endswith("/.well-known/jwks.json")
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "password" not in doc["grant_types_supported"] and "implicit" not in doc["grant_types_supported"]
    assert doc["response_types_supported"] == ["code"]
    assert doc["authorization_response_iss_parameter_supported"] is True


def test_the_code_flow_signs_in_and_issues_a_verifiable_id_token(ada, rp, browser, settings):
    verifier, challenge = pkce()
    response = sign_in(browser, authorize_url(rp.client.client_id, challenge, nonce="n-0S6"))
    params = redirect_params(response)
    assert params["state"] == "st-1"
    assert params["iss"] == settings.GATEHOUSE_ISSUER  # RFC 9207
    token = exchange(None, params["code"], verifier, secret=rp.client_secret, client_id=rp.client.client_id)
    assert token.status_code == 200, token.content
    body = token.json()
    assert body["token_type"] == "Bearer" and "refresh_token" not in body  # no offline_access asked
    id_token = body["id_token"]
    claims = jwt.decode(
        id_token,
        jwks_client_key(id_token),
        algorithms=["RS256"],
        audience=rp.client.client_id,
        issuer=settings.GATEHOUSE_ISSUER,
    )
    assert claims["sub"] == str(ada.id)
    assert claims["nonce"] == "n-0S6"
    assert claims["email"] == "ada@example.com" and claims["email_verified"] is True
    assert claims["name"] == "Ada"
    assert {"auth_time", "sid", "iat", "exp", "at_hash"} <= set(claims)
    digest = __import__("hashlib").sha256(body["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    userinfo = Client().get("/oauth2/userinfo", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert userinfo.status_code == 200
    assert userinfo.json() == {"sub": str(ada.id), "email": "ada@example.com", "email_verified": True, "name": "Ada"}
    access = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert access["client_id"] == rp.client.client_id and access["aud"] == rp.client.client_id
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"


def test_a_clients_access_token_is_refused_by_gatehouses_own_api(ada, rp, browser):
    verifier, challenge = pkce()
    code = code_of(browser, rp.client.client_id, challenge)
    body = exchange(None, code, verifier, secret=rp.client_secret, client_id=rp.client.client_id).json()
    me = Client().get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert me.status_code == 401


def test_a_code_used_twice_is_refused_and_revokes_what_it_issued(ada, rp, browser):
    verifier, challenge = pkce()
    code = code_of(browser, rp.client.client_id, challenge)
    first = exchange(None, code, verifier, secret=rp.client_secret, client_id=rp.client.client_id)
    assert first.status_code == 200
    access = first.json()["access_token"]
    assert Client().get("/oauth2/userinfo", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 200
    again = exchange(None, code, verifier, secret=rp.client_secret, client_id=rp.client.client_id)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert Client().get("/oauth2/userinfo", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401


def test_a_wrong_pkce_verifier_is_refused(ada, rp, browser):
    _, challenge = pkce()
    code = code_of(browser, rp.client.client_id, challenge)
    wrong, _ = pkce()
    response = exchange(None, code, wrong, secret=rp.client_secret, client_id=rp.client.client_id)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_plain_pkce_is_refused(ada, rp, browser):
    url = authorize_url(rp.client.client_id, None, code_challenge="x" * 43, code_challenge_method="plain")
    params = redirect_params(browser.get(url))
    assert params["error"] == "invalid_request" and params["state"] == "st-1"


def test_a_public_client_without_pkce_is_refused(ada, third_party, browser):
    params = redirect_params(browser.get(authorize_url(third_party.client.client_id, None)))
    assert params["error"] == "invalid_request"


def test_an_unregistered_redirect_uri_is_never_redirected_to(ada, rp, browser):
    _, challenge = pkce()
    for uri in (RP + "/", RP + "?x=1", "https://evil.example.com/callback", RP.upper()):
        url = authorize_url(rp.client.client_id, challenge).replace(
            "redirect_uri=https%3A%2F%2Frp.example.com%2Fcallback",
            "redirect_uri=" + __import__("urllib.parse").parse.quote(uri, safe=""),
        )
        response = browser.get(url)
        assert response.status_code == 400, uri
        assert "Location" not in response


def test_the_code_must_be_redeemed_with_the_redirect_uri_it_was_issued_for(ada, rp, browser):
    verifier, challenge = pkce()
    code = code_of(browser, rp.client.client_id, challenge)
    basic = base64.b64encode(f"{rp.client.client_id}:{rp.client_secret}".encode()).decode()
    response = Client().post(
        "/oauth2/token",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": RP + "/other", "code_verifier": verifier},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_wrong_client_secret_is_refused(ada, rp, browser):
    verifier, challenge = pkce()
    code = code_of(browser, rp.client.client_id, challenge)
    response = exchange(None, code, verifier, secret="not-the-secret", client_id=rp.client.client_id)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_the_password_grant_and_implicit_flow_do_not_exist(ada, rp, browser):
    basic = base64.b64encode(f"{rp.client.client_id}:{rp.client_secret}".encode()).decode()
    response = Client().post(
        "/oauth2/token",
        {"grant_type": "password", "username": "ada@example.com", "password": PASSWORD},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
    _, challenge = pkce()
    params = redirect_params(browser.get(authorize_url(rp.client.client_id, challenge, response_type="token")))
    assert params["error"] == "unsupported_response_type"


def test_prompt_none_without_a_session_answers_login_required(ada, rp, browser):
    _, challenge = pkce()
    params = redirect_params(browser.get(authorize_url(rp.client.client_id, challenge, prompt="none")))
    assert params["error"] == "login_required" and params["state"] == "st-1"


def test_a_second_client_signs_in_through_the_sso_session_without_a_password(ada, rp, browser, db):
    other = oidc_provider.create_client(name="Second", redirect_uris=[RP], first_party=True)
    _, challenge = pkce()
    code_of(browser, rp.client.client_id, challenge)
    params = redirect_params(browser.get(authorize_url(other.client.client_id, challenge, prompt="none")))
    assert "code" in params


def test_prompt_login_and_max_age_ask_for_the_password_again(ada, rp, browser):
    _, challenge = pkce()
    code_of(browser, rp.client.client_id, challenge)
    page = browser.get(authorize_url(rp.client.client_id, challenge, prompt="login"))
    assert page.status_code == 200 and b'name="password"' in page.content
    page = browser.get(authorize_url(rp.client.client_id, challenge, max_age="0"))
    assert page.status_code == 200 and b'name="password"' in page.content
    params = redirect_params(browser.get(authorize_url(rp.client.client_id, challenge, max_age="3600")))
    assert "code" in params


def test_a_third_party_client_asks_for_consent_and_deny_answers_access_denied(ada, third_party, browser):
    _, challenge = pkce()
    url = authorize_url(third_party.client.client_id, challenge)
    page = sign_in(browser, url)
    assert page.status_code == 200 and b'name="decision"' in page.content and b"Third Party App" in page.content
    params = redirect_params(browser.post(url, {"decision": "deny"}))
    assert params["error"] == "access_denied"
    params = redirect_params(browser.post(url, {"decision": "allow"}))
    assert "code" in params
    # Allowed once: not asked again for the same scopes.
    assert "code" in redirect_params(browser.get(url))


def test_a_wrong_password_on_the_sign_in_page_says_so_without_redirecting(ada, rp, browser):
    _, challenge = pkce()
    url = authorize_url(rp.client.client_id, challenge)
    response = sign_in(browser, url, password="wrong-password-123")
    assert response.status_code == 400
    assert b"not correct" in response.content and "Location" not in response


def test_refresh_tokens_need_offline_access_rotate_and_detect_reuse(ada, rp, browser):
    verifier, challenge = pkce()
    code = code_of(browser, rp.client.client_id, challenge, scope="openid offline_access")
    body = exchange(None, code, verifier, secret=rp.client_secret, client_id=rp.client.client_id).json()
    first_refresh = body["refresh_token"]
    basic = base64.b64encode(f"{rp.client.client_id}:{rp.client_secret}".encode()).decode()

    def refresh(token):
        return Client().post(
            "/oauth2/token",
            {"grant_type": "refresh_token", "refresh_token": token},
            HTTP_AUTHORIZATION=f"Basic {basic}",
        )

    rotated = refresh(first_refresh)
    assert rotated.status_code == 200, rotated.content
    second = rotated.json()
    assert second["refresh_token"] != first_refresh
    # Gatehouse's own refresh endpoint does not take a client's refresh token.
    api = Client().post(
        "/api/v1/auth/token/refresh", {"refresh_token": second["refresh_token"]}, content_type="application/json"
    )
    assert api.status_code == 401


def test_client_credentials_issue_a_token_for_the_client(rp):
    basic = base64.b64encode(f"{rp.client.client_id}:{rp.client_secret}".encode()).decode()
    response = Client().post("/oauth2/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=f"Basic {basic}")
    assert response.status_code == 200, response.content
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["sub"] == rp.client.client_id and claims["client_id"] == rp.client.client_id


def test_revoking_the_sso_session_ends_the_grants_issued_under_it(ada, rp, browser):
    from auth.interface import auth_service

    verifier, challenge = pkce()
    code = code_of(browser, rp.client.client_id, challenge)
    access = exchange(None, code, verifier, secret=rp.client_secret, client_id=rp.client.client_id).json()[
        "access_token"
    ]
    sessions = auth_service.list_sessions(user_id=ada.id)
    assert sessions  # the SSO session is listed with the others
    for session in sessions:
        auth_service.revoke_session(user_id=ada.id, session_id=session.id)
    assert Client().get("/oauth2/userinfo", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401


def test_a_user_sees_which_applications_hold_access_and_takes_one_back(ada, rp, browser):
    from tests.support.http import tokens_of

    verifier, challenge = pkce()
    code = code_of(browser, rp.client.client_id, challenge)
    access = exchange(None, code, verifier, secret=rp.client_secret, client_id=rp.client.client_id).json()[
        "access_token"
    ]
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_of(api)['access_token']}")
    listed = api.get("/api/v1/auth/sessions").json()["results"]
    kinds = {s["kind"] for s in listed}
    assert kinds == {"api", "browser", "oidc"}
    grant = next(s for s in listed if s["kind"] == "oidc")
    assert grant["client_id"] == rp.client.client_id and grant["client_name"] == "Relying Party"
    assert api.delete(f"/api/v1/auth/sessions/{grant['id']}").status_code == 204
    assert Client().get("/oauth2/userinfo", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401
    from project.events.models import OutboxEvent

    assert OutboxEvent.objects.filter(type="auth.grant_revoked").count() == 1
    assert OutboxEvent.objects.filter(type="auth.client_authorized").count() == 1


def test_the_hosted_pages_send_a_strict_csp_and_refuse_framing(ada, rp, browser):
    _, challenge = pkce()
    page = browser.get(authorize_url(rp.client.client_id, challenge))
    csp = page["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    # The sign-in page's one script (passkeys) comes from our own origin; nothing inline.
    assert "script-src 'self';" in csp and "unsafe" not in csp
    assert "form-action 'self' https://rp.example.com" in csp
    assert page["X-Frame-Options"] == "DENY" and "no-store" in page["Cache-Control"]
    assert b"csrfmiddlewaretoken" in page.content
    scripts = re.findall(rb"<script[^>]*>(.*?)</script>", page.content, re.S)
    assert scripts == [b""] and b'src="/static/oidc/passkey.js"' in page.content and b"//cdn" not in page.content


def test_the_sign_in_form_refuses_a_post_without_the_csrf_token(ada, rp):
    _, challenge = pkce()
    strict = Client(enforce_csrf_checks=True)
    url = authorize_url(rp.client.client_id, challenge)
    assert strict.get(url).status_code == 200
    assert strict.post(url, {"email": "ada@example.com", "password": PASSWORD}).status_code == 403


def test_sub_is_stable_and_auth_time_moves_only_with_a_new_sign_in(ada, rp, settings):
    import time

    def id_claims(browser, **extra):
        verifier, challenge = pkce()
        from tests.oidc.conftest import authorize_url as url_of

        url = url_of(rp.client.client_id, challenge, **extra)
        page = browser.get(url)
        response = (
            browser.post(url, {"email": "ada@example.com", "password": PASSWORD}) if page.status_code == 200 else page
        )
        code = redirect_params(response)["code"]
        body = exchange(None, code, verifier, secret=rp.client_secret, client_id=rp.client.client_id).json()
        return jwt.decode(body["id_token"], options={"verify_signature": False})

    browser = Client()
    first = id_claims(browser)
    time.sleep(1.1)
    silent = id_claims(browser)  # SSO: no new sign-in
    assert silent["sub"] == first["sub"] == str(ada.id)
    assert silent["auth_time"] == first["auth_time"]
    forced = id_claims(browser, max_age="1")  # older than a second: sign in again
    assert forced["auth_time"] > first["auth_time"] and forced["sub"] == first["sub"]


def test_a_permissions_claim_only_for_a_client_that_asks_for_its_scope(ada, browser, db):

    AssignmentFactory(
        role=RoleFactory(name="acme-viewer", permissions=["users.user.view"], description=""),
        user_id=ada.id,
        scope="org:acme",
    )
    with_claim = oidc_provider.create_client(
        name="Acme app", redirect_uris=[RP], first_party=True, permissions_scope="org:acme"
    )
    verifier, challenge = pkce()
    code = code_of(browser, with_claim.client.client_id, challenge)
    body = exchange(None, code, verifier, secret=with_claim.client_secret, client_id=with_claim.client.client_id).json()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["permissions"] == ["users.user.view"]
    plain = oidc_provider.create_client(name="Plain", redirect_uris=[RP], first_party=True)
    verifier, challenge = pkce()
    page = browser.get(authorize_url(plain.client.client_id, challenge))
    code = redirect_params(page)["code"]
    body = exchange(None, code, verifier, secret=plain.client_secret, client_id=plain.client.client_id).json()
    assert "permissions" not in jwt.decode(body["access_token"], options={"verify_signature": False})
