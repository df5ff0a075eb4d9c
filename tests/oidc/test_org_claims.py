"""OIDC org claims (docs/oidc.md, "Organizations"), opt-in: scope `orgs` lists the user's orgs,
scope `org:<id>` names one (absent unless a member), refreshes follow membership, and without
them the tokens are what they always were. In process and behind the auth gRPC server."""

from __future__ import annotations

import uuid

import jwt
import pytest
from django.test import Client

from auth.core.oidc import ORGS_CLAIM_MAX
from tests.oidc.conftest import authorize_url, exchange, pkce, redirect_params, sign_in
from tests.support.factories import UserFactory
from users.interface.orgs import org_service

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("oidc_transport")]


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def tokens(browser, rp, scope: str) -> dict:
    verifier, challenge = pkce()
    params = redirect_params(sign_in(browser, authorize_url(rp.client.client_id, challenge, scope=scope)))
    response = exchange(None, params["code"], verifier, secret=rp.client_secret, client_id=rp.client.client_id)
    assert response.status_code == 200, response.content
    return response.json()


def refresh(rp, refresh_token: str) -> dict:
    response = Client().post(
        "/oauth2/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": rp.client.client_id,
            "client_secret": rp.client_secret,
        },
    )
    assert response.status_code == 200, response.content
    return response.json()


def userinfo(access_token: str) -> dict:
    response = Client().get("/oauth2/userinfo", HTTP_AUTHORIZATION=f"Bearer {access_token}")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def orgs(ada):
    """Ada owns Acme and is a member of Globex; Initech exists without her."""
    boss = UserFactory()
    acme = org_service.create_org(actor_id=ada.id, name="Acme", slug="acme")
    globex = org_service.create_org(actor_id=boss.id, name="Globex", slug="globex")
    org_service.add_member(actor_id=boss.id, org_id=globex.id, user_id=ada.id, role="member")
    initech = org_service.create_org(actor_id=boss.id, name="Initech", slug="initech")
    return {"acme": acme, "globex": globex, "initech": initech, "boss": boss}


def test_discovery_announces_the_orgs_scope_and_claims():
    doc = Client().get("/.well-known/openid-configuration").json()
    assert "orgs" in doc["scopes_supported"]
    assert {"orgs", "org_id", "org_role"} <= set(doc["claims_supported"])


def test_scope_orgs_lists_the_users_orgs_in_the_id_token_and_userinfo(ada, orgs, rp, browser):
    body = tokens(browser, rp, "openid orgs")

    expected = [
        {"id": str(orgs["globex"].id), "slug": "globex", "role": "member"},  # most recently joined first
        {"id": str(orgs["acme"].id), "slug": "acme", "role": "owner"},
    ]
    assert claims_of(body["id_token"])["orgs"] == expected
    assert userinfo(body["access_token"])["orgs"] == expected
    assert "org_id" not in claims_of(body["id_token"])


def test_without_the_scope_the_tokens_are_unchanged(ada, orgs, rp, browser):
    body = tokens(browser, rp, "openid email profile offline_access")

    id_claims = claims_of(body["id_token"])
    assert not {"orgs", "org_id", "org_role", "org_slug"} & set(id_claims)
    assert set(id_claims) == {
        "iss", "sub", "aud", "iat", "exp", "auth_time", "sid", "at_hash", "email", "email_verified", "name",
    }  # fmt: skip
    assert set(userinfo(body["access_token"])) == {"sub", "email", "email_verified", "name"}
    refreshed = refresh(rp, body["refresh_token"])
    assert "id_token" not in refreshed  # as before: a refresh without org claims answers no ID token


def test_scope_org_id_carries_that_org_and_the_role_for_a_member(ada, orgs, rp, browser):
    org = orgs["globex"]
    body = tokens(browser, rp, f"openid org:{org.id}")

    id_claims = claims_of(body["id_token"])
    assert (id_claims["org_id"], id_claims["org_slug"], id_claims["org_role"]) == (str(org.id), "globex", "member")
    assert "orgs" not in id_claims
    assert claims_of(body["access_token"])["scope"] == f"openid org:{org.id}"
    assert userinfo(body["access_token"])["org_id"] == str(org.id)


@pytest.mark.parametrize("which", ["initech", "missing"])
def test_scope_org_id_of_an_org_the_user_is_not_in_leaves_the_claim_out(ada, orgs, rp, browser, which):
    org_id = orgs["initech"].id if which == "initech" else uuid.uuid4()
    body = tokens(browser, rp, f"openid orgs org:{org_id}")

    id_claims = claims_of(body["id_token"])
    assert not {"org_id", "org_role", "org_slug"} & set(id_claims)
    assert str(orgs["initech"].id) not in {o["id"] for o in id_claims["orgs"]}
    assert "org_id" not in userinfo(body["access_token"])


@pytest.mark.parametrize("extra", ["org:{a} org:{b}", "org:not-a-uuid", "org:{A}"])
def test_two_org_scopes_or_a_malformed_one_is_invalid_scope(ada, orgs, rp, browser, extra):
    acme, globex = orgs["acme"].id, orgs["globex"].id
    scope = "openid " + extra.format(a=acme, b=globex, A=str(acme).upper())
    _, challenge = pkce()

    response = browser.get(authorize_url(rp.client.client_id, challenge, scope=scope))

    assert redirect_params(response)["error"] == "invalid_scope"


def test_a_refresh_after_removal_drops_the_org_from_the_next_id_token(ada, orgs, rp, browser):
    globex = orgs["globex"]
    body = tokens(browser, rp, f"openid orgs org:{globex.id} offline_access")
    assert claims_of(body["id_token"])["org_id"] == str(globex.id)

    org_service.remove_member(actor_id=orgs["boss"].id, org_id=globex.id, user_id=ada.id)
    refreshed = refresh(rp, body["refresh_token"])

    id_claims = claims_of(refreshed["id_token"])
    assert id_claims["sub"] == str(ada.id) and id_claims["aud"] == rp.client.client_id
    assert "org_id" not in id_claims and "org_role" not in id_claims
    assert [o["slug"] for o in id_claims["orgs"]] == ["acme"]
    assert "org_id" not in userinfo(refreshed["access_token"])
    assert claims_of(refreshed["id_token"])["sid"] == claims_of(body["id_token"])["sid"]


def test_the_orgs_claim_is_capped(ada, rp, browser, settings):
    for n in range(ORGS_CLAIM_MAX + 2):
        org_service.create_org(actor_id=ada.id, name=f"Org {n}", slug=f"org-{n}")

    listed = claims_of(tokens(browser, rp, "openid orgs")["id_token"])["orgs"]

    assert len(listed) == ORGS_CLAIM_MAX
    assert listed[0]["slug"] == f"org-{ORGS_CLAIM_MAX + 1}"  # the newest first


def test_consent_names_the_org_scopes_and_one_orgs_consent_does_not_cover_another(ada, orgs, third_party, browser):
    _, challenge = pkce()
    acme_url = authorize_url(third_party.client.client_id, challenge, scope=f"openid orgs org:{orgs['acme'].id}")
    page = sign_in(browser, acme_url)
    assert b'name="decision"' in page.content
    assert b"See your organizations and your role in each" in page.content
    assert b"See whether you belong to this organization" in page.content
    assert "code" in redirect_params(browser.post(acme_url, {"decision": "allow"}))
    assert "code" in redirect_params(browser.get(acme_url))  # allowed once: not asked again

    globex_url = authorize_url(third_party.client.client_id, challenge, scope=f"openid org:{orgs['globex'].id}")
    again = browser.get(globex_url)

    assert again.status_code == 200 and b'name="decision"' in again.content  # asked again for the other org
