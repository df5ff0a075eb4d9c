"""Passkeys on the hosted sign-in page (docs/oidc.md), with a software authenticator posting what
auth/static/oidc/passkey.js posts: a passwordless sign-in, the second factor, the policy's step."""

import json
import time

import pyotp
import pytest

from auth.local import LocalAuthService
from auth.models import Session
from tests.auth.authenticator import SoftAuthenticator
from tests.auth.conftest import PASSWORD, tokens_of
from tests.auth.conftest import api as api  # fixture
from tests.auth.test_passkeys import login_options, register
from tests.support.rbac import grant_role

from .conftest import authorize_url, pkce, redirect_params

# Over both transports where the provider's answer is under test (see conftest.oidc_transport).
pytestmark = pytest.mark.django_db(transaction=True)
both_transports = pytest.mark.usefixtures("oidc_transport")


@pytest.fixture
def authenticator(api, ada) -> SoftAuthenticator:
    authenticator, response = register(api, tokens_of(api)["access_token"])
    assert response.status_code == 201, response.content
    return authenticator


@pytest.fixture
def url(rp) -> str:
    return authorize_url(rp.client.client_id, pkce()[1])


def assertion(api, authenticator, email=None, **tamper) -> str:
    return json.dumps(authenticator.get(login_options(api, email), **tamper))


@both_transports
def test_a_passkey_signs_in_on_the_hosted_page_without_a_password(api, browser, url, authenticator, ada):
    page = browser.get(url)
    assert b'autocomplete="username webauthn"' in page.content and b'name="passkey"' in page.content
    response = browser.post(url, {"passkey": assertion(api, authenticator)})
    assert "code" in redirect_params(response)
    assert Session.objects.filter(user_id=ada.id, kind="browser").exists()


@both_transports
@pytest.mark.parametrize("tamper", [{"origin": "https://evil.example"}, {"uv": False}])
def test_a_passkey_that_does_not_verify_signs_in_nobody_on_the_hosted_page(
    api, browser, url, authenticator, ada, tamper
):
    browser.get(url)
    response = browser.post(url, {"passkey": assertion(api, authenticator, **tamper)})
    assert response.status_code == 400 and b"not accepted" in response.content
    assert not Session.objects.filter(user_id=ada.id, kind="browser").exists()


def test_not_json_as_a_passkey_is_a_refusal_not_a_500(browser, url, ada):
    browser.get(url)
    assert browser.post(url, {"passkey": "{not json"}).status_code == 400


@both_transports
def test_a_passkey_is_the_second_factor_on_the_hosted_page(api, browser, url, authenticator, ada):
    local = LocalAuthService()
    local.confirm_totp(
        user_id=ada.id, otp=pyotp.TOTP(local.enroll_totp(user_id=ada.id, password=PASSWORD).secret).now()
    )
    browser.get(url)
    step = browser.post(url, {"email": ada.email, "password": PASSWORD})
    assert step.status_code == 200 and b'name="otp"' in step.content and b"data-passkey-button" in step.content
    ticket = step.content.decode().split('name="mfa_ticket" value="')[1].split('"')[0]
    response = browser.post(url, {"mfa_ticket": ticket, "passkey": assertion(api, authenticator, ada.email)})
    assert "code" in redirect_params(response)


def test_an_account_that_must_use_a_passkey_gets_the_passkey_step_after_its_password(
    api, browser, url, authenticator, ada, settings
):
    settings.GATEHOUSE_PHISHING_RESISTANT_MFA_FOR = ["admin"]
    grant_role(ada.id)
    browser.get(url)
    step = browser.post(url, {"email": ada.email, "password": PASSWORD})
    assert step.status_code == 400 and b"must sign in with a passkey" in step.content
    assert b'name="otp"' not in step.content and b"data-passkey-button" in step.content
    ticket = step.content.decode().split('name="mfa_ticket" value="')[1].split('"')[0]
    response = browser.post(url, {"mfa_ticket": ticket, "passkey": assertion(api, authenticator, ada.email)})
    assert "code" in redirect_params(response)
    # The ticket is no password: without the passkey (a code, here), it opens nothing.
    browser.cookies.clear()
    browser.get(url)
    again = browser.post(url, {"mfa_ticket": ticket, "otp": "123456"})
    assert again.status_code == 400


def test_an_account_that_must_use_a_passkey_and_has_none_is_told_so_after_its_code(browser, url, ada, settings):
    settings.GATEHOUSE_PHISHING_RESISTANT_MFA_FOR = ["admin"]
    grant_role(ada.id)
    local = LocalAuthService()
    totp = pyotp.TOTP(local.enroll_totp(user_id=ada.id, password=PASSWORD).secret)
    local.confirm_totp(user_id=ada.id, otp=totp.now())
    browser.get(url)
    step = browser.post(url, {"email": ada.email, "password": PASSWORD})
    ticket = step.content.decode().split('name="mfa_ticket" value="')[1].split('"')[0]
    refused = browser.post(url, {"mfa_ticket": ticket, "otp": totp.at(time.time() + 30)})
    assert refused.status_code == 400 and b"has none yet" in refused.content
    assert b"data-passkey-button" not in refused.content and b'name="otp"' not in refused.content
    assert not Session.objects.filter(user_id=ada.id, kind="browser").exists()
