"""GATEHOUSE_PHISHING_RESISTANT_MFA_FOR: holders of the named roles or permissions sign in with a
passkey only, on the API, the Django admin and the hosted sign-in page; their first passkey is
enrolled with the options the refused sign-in carries."""

import json
import time

import pyotp
import pytest
from django.test import Client

from auth.apps import phishing_resistant_mfa_policy
from auth.local import LocalAuthService
from auth.models import Passkey, Session
from tests.auth.authenticator import SoftAuthenticator
from tests.oidc.conftest import authorize_url, pkce, redirect_params
from tests.oidc.conftest import rp as rp
from tests.support.factories import PASSWORD
from tests.support.http import bearer, error_code, login
from users.models import User

from .conftest import ME
from .test_passkeys import REGISTER, login_options

pytestmark = [pytest.mark.django_db]

ROOT = {"email": "root@example.com", "password": PASSWORD}


@pytest.fixture(autouse=True)
def policy(settings):
    settings.GATEHOUSE_PHISHING_RESISTANT_MFA_FOR = ["admin"]


def enrol(api, refusal) -> SoftAuthenticator:
    """Register the first passkey with the options a refused sign-in carried, signed out."""
    assert refusal.status_code == 403 and error_code(refusal) == "passkey_required", refusal.content
    authenticator = SoftAuthenticator()
    credential = authenticator.create(refusal.json()["error"]["details"]["registration_options"])
    registered = api.post(REGISTER, {"credential": credential, "name": "Key"}, format="json")
    assert registered.status_code == 201, registered.content
    return authenticator


def test_an_admin_without_a_passkey_gets_403_passkey_required_and_no_session(api, admin):
    refusal = login(api, "root@example.com")
    assert refusal.status_code == 403 and error_code(refusal) == "passkey_required"
    assert "passkey" in refusal.json()["error"]["message"]
    assert "registration_options" in refusal.json()["error"]["details"]
    assert not Session.objects.filter(user_id=admin.id).exists()


def test_a_user_the_policy_does_not_name_signs_in_with_the_password(api, ada, admin):
    assert login(api).status_code == 200


def test_the_policy_names_permissions_too(api, ada, settings):
    from permissions.interface import permission_service

    settings.GATEHOUSE_PHISHING_RESISTANT_MFA_FOR = ["rbac.role.manage"]
    role = permission_service.create_role(actor_id=None, name="role-admin", permissions=["rbac.role.manage"])
    permission_service.grant_role(actor_id=None, role_id=role.id, user_id=ada.id)
    assert error_code(login(api)) == "passkey_required"


def test_an_admin_enrols_the_first_passkey_then_signs_in_with_it_only(api, admin):
    authenticator = enrol(api, login(api, "root@example.com"))
    assert Passkey.objects.filter(user_id=admin.id).count() == 1
    refusal = login(api, "root@example.com")  # the password alone no longer opens anything
    assert error_code(refusal) == "passkey_required" and refusal.json()["error"]["details"] == {}
    signed_in = api.post(
        "/api/v1/auth/token", {**ROOT, "passkey": authenticator.get(login_options(api, ROOT["email"]))}, format="json"
    )
    assert signed_in.status_code == 200, signed_in.content
    assert api.get(ME, **bearer(signed_in.json()["access_token"])).status_code == 200
    passwordless = api.post(
        "/api/v1/auth/passkeys/login", {"credential": authenticator.get(login_options(api))}, format="json"
    )
    assert passwordless.status_code == 200, passwordless.content


def test_enrolment_options_are_spent_once_and_are_no_sign_in_registration_for_anyone_else(api, admin, ada):
    refusal = login(api, "root@example.com")
    options = refusal.json()["error"]["details"]["registration_options"]
    credential = SoftAuthenticator().create(options)
    assert api.post(REGISTER, {"credential": credential}, format="json").status_code == 201
    again = api.post(REGISTER, {"credential": SoftAuthenticator().create(options)}, format="json")
    assert again.status_code == 400 and error_code(again) == "invalid_passkey"
    # Ordinary registration options (a signed-in user's) are not accepted without the bearer.
    ada_tokens = login(api).json()
    ordinary = api.post(f"{REGISTER}/options", **bearer(ada_tokens["access_token"])).json()
    anonymous = api.post(REGISTER, {"credential": SoftAuthenticator().create(ordinary)}, format="json")
    assert anonymous.status_code == 400
    assert Passkey.objects.filter(user_id=ada.id).count() == 0
    assert Passkey.objects.filter(user_id=admin.id).count() == 1


def test_with_totp_on_the_code_comes_before_the_enrolment_options(api, admin):
    local = LocalAuthService()
    secret = local.enroll_totp(user_id=admin.id, password=PASSWORD).secret
    local.confirm_totp(user_id=admin.id, otp=pyotp.TOTP(secret).now())
    assert error_code(login(api, "root@example.com")) == "mfa_required"
    assert error_code(login(api, "root@example.com", otp="000000")) == "invalid_otp"
    refusal = login(api, "root@example.com", otp=pyotp.TOTP(secret).at(time.time() + 30))  # the next step
    assert error_code(refusal) == "passkey_required" and "registration_options" in refusal.json()["error"]["details"]


def test_a_wrong_password_is_still_invalid_credentials(api, admin):
    refusal = login(api, "root@example.com", "not the password")
    assert refusal.status_code == 401 and error_code(refusal) == "invalid_credentials"


def test_the_admin_login_refuses_an_admin_without_a_passkey_saying_why(client, admin):
    response = client.post("/admin/login/?next=/admin/", {"username": ROOT["email"], "password": PASSWORD})
    assert response.status_code == 200 and "must sign in with a passkey" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_hosted_sign_in_page_refuses_an_admin_without_a_passkey_saying_why(admin, rp):
    browser = Client()
    url = authorize_url(rp.client.client_id, pkce()[1])
    browser.get(url)
    response = browser.post(url, {"email": ROOT["email"], "password": PASSWORD})
    assert response.status_code == 400 and "must sign in with a passkey" in response.content.decode()
    assert not Session.objects.filter(user_id=admin.id).exists()


def test_without_the_policy_an_admin_signs_in_with_the_password(api, admin, settings, rp):
    settings.GATEHOUSE_PHISHING_RESISTANT_MFA_FOR = []
    assert login(api, "root@example.com").status_code == 200
    browser = Client()
    url = authorize_url(rp.client.client_id, pkce()[1])
    browser.get(url)
    assert "code" in redirect_params(browser.post(url, {"email": ROOT["email"], "password": PASSWORD}))


@pytest.mark.parametrize(
    ("names", "found"),
    [
        ([], {("Warning", "gatehouse.W020")}),
        (["admin"], set()),
        (["admin", "rbac.role.manage"], set()),
        (["rbac.role.mange"], {("Error", "gatehouse.E020")}),
    ],
)
def test_the_deployment_check_warns_while_nobody_must_use_a_passkey_and_refuses_a_typo(settings, names, found):
    settings.GATEHOUSE_PHISHING_RESISTANT_MFA_FOR = names
    assert {(type(problem).__name__, problem.id) for problem in phishing_resistant_mfa_policy(None)} == found


def admin_login(client, **fields):
    return client.post("/admin/login/?next=/admin/", {"username": ROOT["email"], "password": PASSWORD, **fields})


def test_the_admin_login_takes_a_passkey_for_an_admin_who_must_use_one(api, client, admin):
    User.objects.filter(id=admin.id).update(is_staff=True)
    page = client.get("/admin/login/")
    assert b'name="passkey"' in page.content and b"data-passkey-button" in page.content
    assert b'name="otp"' in page.content and b'src="/static/oidc/passkey.js"' in page.content
    authenticator = enrol(api, login(api, ROOT["email"]))
    assertion = authenticator.get(login_options(api, ROOT["email"]))
    response = admin_login(client, passkey=json.dumps(assertion))
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("bad", ["{not json", "[]", json.dumps({"id": "x"})])
def test_a_passkey_that_does_not_verify_opens_no_admin_session(api, client, admin, bad):
    enrol(api, login(api, ROOT["email"]))
    response = admin_login(client, passkey=bad)
    assert response.status_code == 200 and "_auth_user_id" not in client.session
