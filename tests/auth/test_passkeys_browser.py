"""Passkeys in a real browser: headless Chromium with a virtual authenticator (the DevTools WebAuthn
domain, through Selenium) registers a passkey from a page Gatehouse serves, signs in with it
without a password, and fails when Gatehouse expects another origin. The browser makes the JSON
(`PublicKeyCredential.parseCreationOptionsFromJSON`, `toJSON()`), so this checks that py_webauthn
and a real client agree, which the software authenticator of test_passkeys.py cannot."""

import pytest
from selenium.webdriver.common.virtual_authenticator import Protocol, Transport, VirtualAuthenticatorOptions

from auth.models import Passkey, Session
from tests.support.browser import chromium
from tests.support.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

# Runs in the page: the ceremonies as a web frontend would write them, with fetch and
# navigator.credentials. `done` is Selenium's callback; failures come back as {error}.
CEREMONY = """
const [ceremony, token, done] = arguments;
const post = (path, body, bearer) => fetch(path, {
  method: "POST",
  headers: {"Content-Type": "application/json", ...(bearer ? {Authorization: "Bearer " + bearer} : {})},
  body: JSON.stringify(body || {}),
}).then(async (r) => ({status: r.status, body: await r.json()}));
(async () => {
  if (ceremony === "register") {
    const options = await post("/api/v1/auth/passkeys/register/options", {}, token);
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options.body);
    const credential = await navigator.credentials.create({publicKey});
    return post("/api/v1/auth/passkeys/register", {credential: credential.toJSON(), name: "Chromium"}, token);
  }
  const options = await post("/api/v1/auth/passkeys/login/options", {});
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.body);
  const credential = await navigator.credentials.get({publicKey});
  return post("/api/v1/auth/passkeys/login", {credential: credential.toJSON()});
})().then(done, (e) => done({error: String(e)}));
"""


@pytest.fixture
def browser(live_server, settings):
    settings.GATEHOUSE_WEBAUTHN_RP_ID = "localhost"
    settings.GATEHOUSE_WEBAUTHN_ORIGINS = [live_server.url]
    for driver in chromium():
        driver.set_script_timeout(20)
        driver.add_virtual_authenticator(
            VirtualAuthenticatorOptions(
                protocol=Protocol.CTAP2,
                transport=Transport.INTERNAL,
                has_resident_key=True,
                has_user_verification=True,
                is_user_verified=True,
            )
        )
        driver.get(f"{live_server.url}/api/docs/")  # a page of Gatehouse that may run script (the hosted pages may not)
        yield driver


@pytest.fixture
def signed_in(live_server):
    UserFactory(email="ada@example.com")
    from rest_framework.test import RequestsClient

    client = RequestsClient()
    response = client.post(
        f"{live_server.url}/api/v1/auth/token", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def run(browser, ceremony: str, token: str = "") -> dict:
    result = browser.execute_async_script(CEREMONY, ceremony, token)
    assert "error" not in result, result
    return result


def test_a_passkey_made_in_chromium_registers_and_signs_in_without_a_password(browser, signed_in):
    registered = run(browser, "register", signed_in)
    assert registered["status"] == 201, registered
    assert registered["body"]["name"] == "Chromium"
    [credential] = browser.get_credentials()
    assert credential.is_resident_credential
    sessions = Session.objects.count()
    signed = run(browser, "login")
    assert signed["status"] == 200, signed
    assert set(signed["body"]) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert Session.objects.count() == sessions + 1
    assert Passkey.objects.get().last_used_at is not None


def test_a_sign_in_from_an_origin_gatehouse_does_not_expect_is_refused(browser, signed_in, settings):
    assert run(browser, "register", signed_in)["status"] == 201
    settings.GATEHOUSE_WEBAUTHN_ORIGINS = ["http://localhost:1"]  # e.g. the public origin behind a proxy
    sessions = Session.objects.count()
    refused = run(browser, "login")
    assert refused["status"] == 401 and refused["body"]["error"]["code"] == "invalid_credentials"
    assert Session.objects.count() == sessions
