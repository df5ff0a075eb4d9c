"""Passkeys in a real browser: headless Chromium with a virtual authenticator (the DevTools WebAuthn
domain, through Selenium) registers a passkey from a page Gatehouse serves, signs in with it
without a password, and fails when Gatehouse expects another origin. The browser makes the JSON
(`PublicKeyCredential.parseCreationOptionsFromJSON`, `toJSON()`), so this checks that py_webauthn
and a real client agree, which the software authenticator of test_passkeys.py cannot."""

from urllib.parse import parse_qs, urlencode, urlsplit

import pyotp
import pytest
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.virtual_authenticator import Protocol, Transport, VirtualAuthenticatorOptions
from selenium.webdriver.support.ui import WebDriverWait

from auth.interface.oidc import oidc_provider
from auth.local import LocalAuthService
from auth.models import Passkey, Session
from tests.support.browser import chromium
from tests.support.factories import PASSWORD, UserFactory
from users.interface import user_service

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


# --- the hosted sign-in page of OpenID Connect (auth/static/oidc/passkey.js) ----------------------


@pytest.fixture
def authorization_url(live_server):
    """An authorization request of a first-party client whose redirect URI is on the live server,
    so that the browser lands on a page it can load."""
    from tests.oidc.conftest import pkce

    callback = f"{live_server.url}/healthz"
    client = oidc_provider.create_client(name="App", redirect_uris=[callback], first_party=True)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client.client.client_id,
            "redirect_uri": callback,
            "scope": "openid",
            "state": "st-1",
            "code_challenge": pkce()[1],
            "code_challenge_method": "S256",
        }
    )
    return f"{live_server.url}/oauth2/authorize?{query}"


def landed_with_a_code(browser, live_server) -> bool:
    try:
        WebDriverWait(browser, 15).until(lambda d: d.current_url.startswith(f"{live_server.url}/healthz"))
    except TimeoutException:
        raise AssertionError(f"{browser.current_url}\n{browser.page_source[:3000]}") from None
    return "code" in parse_qs(urlsplit(browser.current_url).query)


def test_the_hosted_page_signs_in_with_a_passkey_from_autofill_without_a_password(
    browser, signed_in, authorization_url, live_server
):
    assert run(browser, "register", signed_in)["status"] == 201
    browser.get(authorization_url)
    # The page asks with mediation "conditional" (the email field's autofill); Chromium's virtual
    # authenticator answers such a request at once with the one passkey it holds, as a user picking
    # it from the autofill would. The script posts the assertion and the client gets its code.
    assert landed_with_a_code(browser, live_server)
    assert Session.objects.filter(kind="browser").count() == 1


def test_the_hosted_page_takes_a_passkey_as_the_second_factor(browser, signed_in, authorization_url, live_server):
    assert run(browser, "register", signed_in)["status"] == 201
    user = user_service.get_user_by_email(email="ada@example.com")
    local = LocalAuthService()
    local.confirm_totp(
        user_id=user.id, otp=pyotp.TOTP(local.enroll_totp(user_id=user.id, password=PASSWORD).secret).now()
    )
    # Held back while the first step shows, so that its autofill request finds nothing to answer.
    [credential] = browser.get_credentials()
    browser.remove_all_credentials()
    browser.get(authorization_url)
    browser.find_element(By.ID, "email").send_keys("ada@example.com")
    browser.find_element(By.ID, "password").send_keys(PASSWORD, Keys.ENTER)
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "otp"))
    browser.add_credential(credential)
    browser.find_element(By.CSS_SELECTOR, "[data-passkey-button]").click()
    assert landed_with_a_code(browser, live_server)


def test_the_hosted_page_refuses_a_passkey_from_an_origin_gatehouse_does_not_expect(
    browser, signed_in, authorization_url, settings
):
    assert run(browser, "register", signed_in)["status"] == 201
    settings.GATEHOUSE_WEBAUTHN_ORIGINS = ["http://localhost:1"]
    browser.get(authorization_url)
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "form-error"))
    browser.remove_all_credentials()  # else the refused page's autofill request is answered again
    error = WebDriverWait(browser, 15, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: d.find_element(By.ID, "form-error").text
    )
    assert error == "The passkey was not accepted."
    assert not Session.objects.filter(kind="browser").exists()
