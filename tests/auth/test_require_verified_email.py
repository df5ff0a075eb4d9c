"""Issue 16 item 7: GATEHOUSE_REQUIRE_VERIFIED_EMAIL decides whether a user who has not followed
the verification link may sign in (the API's token grant, the hosted OpenID sign-in). The refusal,
403 `email_not_verified`, comes only after a correct password: without it the answer is the same
`invalid_credentials` as for an unknown address, so nothing is enumerated.

The suite runs with the setting off (tests/settings.py); these tests turn it on, as deployed.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.oidc.conftest import authorize_url, pkce, redirect_params, rp, sign_in  # noqa: F401 - rp: fixture
from tests.support.browser import chromium
from tests.support.factories import PASSWORD, UserFactory
from tests.support.http import error_code, login
from users.interface import user_service

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def required(settings):
    settings.GATEHOUSE_REQUIRE_VERIFIED_EMAIL = True
    settings.GATEHOUSE_LOGIN_MAX_FAILURES = 3


@pytest.fixture
def grace(db):
    return UserFactory(email="grace@example.com", is_verified=False)


def test_deployed_settings_require_a_verified_email_and_link_mails_to_this_server():
    """project.settings with neither variable set (the suite's settings turn the rule off)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SECRET_KEY": "x" * 50,
        "GATEHOUSE_ISSUER": "https://id.example",
    }
    code = "import django; django.setup(); from django.conf import settings as s; "
    code += "print(s.GATEHOUSE_REQUIRE_VERIFIED_EMAIL, s.GATEHOUSE_FRONTEND_URL)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "https://id.example"]


def test_an_unverified_user_with_the_right_password_is_told_to_verify(api, grace):
    response = login(api, grace.email)
    assert response.status_code == 403
    assert error_code(response) == "email_not_verified"
    assert "Verify your email address" in response.json()["error"]["message"]


def test_a_wrong_password_for_an_unverified_user_answers_like_an_unknown_address(api, grace):
    wrong = login(api, grace.email, "not-the-password-at-all")
    unknown = login(api, "nobody@example.com", "not-the-password-at-all")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert error_code(wrong) == "invalid_credentials"


def test_the_refusal_is_no_failed_sign_in_it_never_locks_the_account(api, grace):
    for _ in range(5):  # more than GATEHOUSE_LOGIN_MAX_FAILURES
        assert error_code(login(api, grace.email)) == "email_not_verified"
    user_service.update_user(user_id=grace.id, is_verified=True)
    assert login(api, grace.email).status_code == 200


def test_a_verified_user_signs_in(api, ada):
    assert login(api).status_code == 200


def test_with_the_setting_off_an_unverified_user_signs_in(api, grace, settings):
    settings.GATEHOUSE_REQUIRE_VERIFIED_EMAIL = False
    assert login(api, grace.email).status_code == 200


def test_the_hosted_openid_sign_in_refuses_an_unverified_user_after_the_password(client, rp, grace):  # noqa: F811
    _, challenge = pkce()
    url = authorize_url(rp.client.client_id, challenge)
    refused = sign_in(client, url, email=grace.email)
    assert refused.status_code == 400  # the page's answer to every refused sign-in
    assert "Verify your email address" in refused.content.decode()
    assert "gatehouse_sso" not in refused.cookies
    wrong = sign_in(client, url, email=grace.email, password="not-the-password-at-all")
    assert wrong.status_code == 400
    assert "The email or password is not correct." in wrong.content.decode()
    assert "Verify your email" not in wrong.content.decode()
    user_service.update_user(user_id=grace.id, is_verified=True)
    assert "code" in redirect_params(sign_in(client, url, email=grace.email))


@pytest.fixture
def browser():
    yield from chromium("--window-size=1024,900")


@pytest.mark.django_db(transaction=True)
def test_register_open_the_mailed_link_in_a_browser_verify_and_sign_in(
    live_server, in_process_tasks, settings, browser
):
    """The README's quick start, with a real Chromium clicking through the verify page."""
    import json
    import urllib.error
    import urllib.request

    settings.GATEHOUSE_FRONTEND_URL = live_server.url

    def post(path, body):
        request = urllib.request.Request(
            f"{live_server.url}{path}", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    credentials = {"email": "newcomer@example.com", "password": PASSWORD}
    assert post("/api/v1/auth/register", credentials)[0] == 201
    status, body = post("/api/v1/auth/token", credentials)
    assert (status, body["error"]["code"]) == (403, "email_not_verified")

    [message] = [m for m in mail.outbox if m.to == ["newcomer@example.com"] and "Confirm" in m.subject]
    [link] = re.findall(r"https?://\S+", message.body)
    assert link.startswith(f"{live_server.url}/verify-email?token=")

    browser.get(link)
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert heading == "Verify your email address"
    assert not user_service.get_user_by_email(email="newcomer@example.com").is_verified  # opening spent nothing
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(browser, 10).until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), "verified"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Your email address is verified"
    assert user_service.get_user_by_email(email="newcomer@example.com").is_verified

    status, body = post("/api/v1/auth/token", credentials)
    assert status == 200 and body["token_type"] == "Bearer"

    browser.get(link)  # the link again: spent
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    alert = WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, "[role=alert]")))
    assert "invalid, expired or already used" in alert.text
