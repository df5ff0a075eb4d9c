"""Passkeys over HTTP (/api/v1/auth/passkeys…), with a software authenticator: the ceremonies, and
every way a response can be wrong answering the same 401 (or 400 at registration), changing nothing."""

import base64
import json
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from auth.apps import webauthn_configuration
from auth.models import Passkey, Session, WebauthnChallenge
from tests.auth.authenticator import SoftAuthenticator
from tests.support.factories import PASSWORD, UserFactory
from tests.support.http import bearer, error_code, tokens_of
from users.interface import user_service

from .conftest import ME, events

pytestmark = pytest.mark.django_db

PASSKEYS = "/api/v1/auth/passkeys"
REGISTER_OPTIONS = f"{PASSKEYS}/register/options"
REGISTER = f"{PASSKEYS}/register"
LOGIN_OPTIONS = f"{PASSKEYS}/login/options"
LOGIN = f"{PASSKEYS}/login"


def register(api, access_token, authenticator=None, **tamper) -> tuple[SoftAuthenticator, dict]:
    authenticator = authenticator or SoftAuthenticator()
    options = api.post(REGISTER_OPTIONS, **bearer(access_token))
    assert options.status_code == 200, options.content
    credential = authenticator.create(options.json(), **tamper)
    response = api.post(REGISTER, {"credential": credential, "name": "Laptop"}, format="json", **bearer(access_token))
    return authenticator, response


@pytest.fixture
def passkey(api, tokens):
    authenticator, response = register(api, tokens["access_token"])
    assert response.status_code == 201, response.content
    return authenticator


def login_options(api, email=None):
    response = api.post(LOGIN_OPTIONS, {"email": email} if email else {}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def sign_in(api, credential):
    return api.post(LOGIN, {"credential": credential}, format="json")


def refused(response) -> bool:
    return response.status_code == 401 and error_code(response) == "invalid_credentials"


def sessions() -> int:
    return Session.objects.count()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- registration and management ---------------------------------------------------------------


def test_a_passkey_is_registered_listed_renamed_and_removed(api, tokens):
    auth = bearer(tokens["access_token"])
    _, created = register(api, tokens["access_token"])
    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) >= {"id", "name", "created_at", "last_used_at"}
    assert (body["name"], body["last_used_at"]) == ("Laptop", None)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", body["created_at"])
    listed = api.get(PASSKEYS, **auth).json()
    assert listed == {"results": [body], "next": None}
    assert api.patch(f"{PASSKEYS}/{body['id']}", {}, format="json", **auth).json() == body  # nothing to change
    renamed = api.patch(f"{PASSKEYS}/{body['id']}", {"name": "Work laptop"}, format="json", **auth)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Work laptop"
    assert api.delete(f"{PASSKEYS}/{body['id']}", **auth).status_code == 204
    assert api.get(PASSKEYS, **auth).json()["results"] == []


@pytest.mark.django_db(transaction=True)
def test_adding_and_removing_a_passkey_mails_the_user(in_process_tasks, deliver_events, api, tokens, passkey):
    [row] = Passkey.objects.all()
    api.delete(f"{PASSKEYS}/{row.id}", **bearer(tokens["access_token"]))
    assert [e["name"] for e in events("auth.passkey_added")] == [e["name"] for e in events("auth.passkey_removed")]
    deliver_events()  # in-process already in embedded mode; a stack run has them on the broker
    subjects = sorted(m.subject for m in mail.outbox if m.to == ["ada@example.com"])
    assert subjects == ["A passkey was added to your account", "A passkey was removed from your account"]
    assert all('"Laptop"' in m.body for m in mail.outbox if "passkey" in m.subject)


def test_passkey_endpoints_need_a_signed_in_user(api, ada, tokens):
    for response in (api.get(PASSKEYS), api.post(REGISTER_OPTIONS)):
        assert response.status_code == 401 and error_code(response) == "not_authenticated"
    # Signed out, only a first passkey answering a refused sign-in's options registers
    # (tests/auth/test_passkey_policy.py); a signed-in user's options need their bearer.
    options = api.post(REGISTER_OPTIONS, **bearer(tokens["access_token"])).json()
    response = api.post(REGISTER, {"credential": SoftAuthenticator().create(options)}, format="json")
    assert response.status_code == 400 and error_code(response) == "invalid_passkey"
    assert not Passkey.objects.exists()


def test_another_users_passkey_is_404_and_stays(api, tokens, passkey):
    UserFactory(email="bob@example.com")
    bob = bearer(tokens_of(api, "bob@example.com")["access_token"])
    [row] = Passkey.objects.all()
    for response in (
        api.patch(f"{PASSKEYS}/{row.id}", {"name": "mine"}, format="json", **bob),
        api.patch(f"{PASSKEYS}/{row.id}", {}, format="json", **bob),
        api.delete(f"{PASSKEYS}/{row.id}", **bob),
    ):
        assert response.status_code == 404 and error_code(response) == "passkey_not_found"
    assert Passkey.objects.get().name == "Laptop"


def test_the_last_passkey_of_an_account_without_a_password_cannot_be_removed(api, ada, passkey):
    [row] = Passkey.objects.all()
    access = sign_in(api, passkey.get(login_options(api))).json()["access_token"]
    _drop_password(ada.id)
    response = api.delete(f"{PASSKEYS}/{row.id}", **bearer(access))
    assert response.status_code == 409 and error_code(response) == "last_sign_in_method"
    assert Passkey.objects.filter(id=row.id).exists()
    assert events("auth.passkey_removed") == []


def _drop_password(user_id):
    from users.models import User

    user = User.objects.get(id=user_id)
    user.set_unusable_password()
    user.save(update_fields=["password"])


@pytest.mark.parametrize(
    "tamper",
    [{"uv": False}, {"origin": "https://evil.example"}, {"rp_id": "evil.example"}],
    ids=["no-user-verification", "wrong-origin", "wrong-rp-id"],
)
def test_a_registration_that_does_not_verify_is_400_and_stores_nothing(api, tokens, tamper):
    _, response = register(api, tokens["access_token"], **tamper)
    assert response.status_code == 400 and error_code(response) == "invalid_passkey"
    assert not Passkey.objects.exists() and events("auth.passkey_added") == []


def test_a_registration_body_that_is_not_a_credential_is_400(api, tokens):
    auth = bearer(tokens["access_token"])
    for body in ({}, {"credential": "x"}, {"credential": {"id": 1}}, {"credential": {}, "name": "n" * 101}):
        response = api.post(REGISTER, body, format="json", **auth)
        assert response.status_code == 400, (body, response.content)
    assert not Passkey.objects.exists()


# --- sign-in --------------------------------------------------------------------------------------


@pytest.mark.parametrize("email", [None, "ada@example.com"], ids=["discoverable", "with-email"])
def test_a_passkey_signs_in_with_the_same_token_pair_as_a_password(api, passkey, email):
    response = sign_in(api, passkey.get(login_options(api, email)))
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert api.get(ME, **bearer(body["access_token"])).json()["email"] == "ada@example.com"
    refreshed = api.post("/api/v1/auth/token/refresh", {"refresh_token": body["refresh_token"]}, format="json")
    assert refreshed.status_code == 200
    assert Passkey.objects.get().last_used_at is not None


def test_a_replayed_challenge_is_refused(api, passkey):
    options = login_options(api)
    assert sign_in(api, passkey.get(options)).status_code == 200
    before = sessions()
    assert refused(sign_in(api, passkey.get(options)))
    assert sessions() == before


def test_an_expired_challenge_is_refused(api, passkey):
    options = login_options(api)
    WebauthnChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    before = sessions()
    assert refused(sign_in(api, passkey.get(options)))
    assert sessions() == before


def test_another_users_credential_is_refused_for_an_email(api, passkey):
    UserFactory(email="bob@example.com")
    before = sessions()
    assert refused(sign_in(api, passkey.get(login_options(api, "bob@example.com"))))
    assert refused(sign_in(api, passkey.get(login_options(api, "nobody@example.com"))))
    assert sessions() == before


def test_a_user_handle_of_another_account_is_refused(api, passkey):
    passkey.user_handle = b"\x01" * 16
    assert refused(sign_in(api, passkey.get(login_options(api))))


def test_a_counter_going_backwards_refuses_and_flags_the_passkey(api, passkey):
    assert sign_in(api, passkey.get(login_options(api), counter=5)).status_code == 200
    before = sessions()
    assert refused(sign_in(api, passkey.get(login_options(api), counter=3)))
    assert Passkey.objects.get().flagged_at is not None
    # Flagged, it signs in no more, even with a higher counter.
    assert refused(sign_in(api, passkey.get(login_options(api), counter=9)))
    assert sessions() == before
    assert Passkey.objects.get().sign_count == 5


def test_a_forged_assertion_with_a_low_counter_flags_nothing(api, passkey):
    assert sign_in(api, passkey.get(login_options(api), counter=5)).status_code == 200
    forged = SoftAuthenticator(credential_id=passkey.credential_id, user_handle=passkey.user_handle)
    assert refused(sign_in(api, forged.get(login_options(api), counter=1)))
    assert Passkey.objects.get().flagged_at is None


@pytest.mark.parametrize(
    "tamper",
    [{"uv": False}, {"origin": "https://evil.example"}, {"rp_id": "evil.example"}],
    ids=["no-user-verification", "wrong-origin", "wrong-rp-id-hash"],
)
def test_an_assertion_that_does_not_verify_is_refused(api, passkey, tamper):
    before = sessions()
    assert refused(sign_in(api, passkey.get(login_options(api), **tamper)))
    assert sessions() == before
    assert Passkey.objects.get().last_used_at is None


def test_a_tampered_client_data_is_refused(api, passkey):
    credential = passkey.get(login_options(api))
    client_data = json.loads(unb64(credential["response"]["clientDataJSON"]))
    client_data["crossOrigin"] = True  # same challenge, same origin: only the signature can tell
    credential["response"]["clientDataJSON"] = b64(json.dumps(client_data).encode())
    assert refused(sign_in(api, credential))


def test_every_failure_answers_the_same_body(api, passkey):
    unknown = SoftAuthenticator()
    bodies = {
        sign_in(api, unknown.get(login_options(api))).content,
        sign_in(api, passkey.get(login_options(api), uv=False)).content,
        sign_in(api, passkey.get(login_options(api), origin="https://evil.example")).content,
        sign_in(api, {"id": "x"}).content,
    }
    assert len(bodies) == 1, bodies


def test_an_unknown_passkey_costs_what_a_known_one_with_a_bad_signature_costs(api, passkey):
    """The same statements and a signature check either way: nothing tells whether a credential id
    belongs to an account."""
    options = [login_options(api), login_options(api)]
    known = passkey.get(options[0])
    known["response"]["signature"] = SoftAuthenticator().get(options[0])["response"]["signature"]
    unknown = SoftAuthenticator(user_handle=passkey.user_handle).get(options[1])
    counts = []
    for credential in (known, unknown):
        with CaptureQueriesContext(connection) as queries:
            assert refused(sign_in(api, credential))
        counts.append([q["sql"].split()[0] for q in queries.captured_queries])
    assert counts[0] == counts[1]


def test_options_for_a_known_and_an_unknown_email_cost_the_same(api, passkey):
    counts = []
    for email in ("ada@example.com", "nobody@example.com"):
        with CaptureQueriesContext(connection) as queries:
            options = login_options(api, email)
        counts.append([q["sql"].split()[0] for q in queries.captured_queries])
        assert options["allowCredentials"] == []
    assert counts[0] == counts[1]


def test_an_inactive_account_does_not_sign_in_with_its_passkey(api, ada, passkey):
    user_service.deactivate_user(user_id=ada.id)
    before = sessions()
    response = sign_in(api, passkey.get(login_options(api)))
    assert response.status_code == 403 and error_code(response) == "account_inactive"
    assert sessions() == before


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    credential=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
        max_leaves=12,
    )
    | st.fixed_dictionaries(
        {"id": st.text(max_size=8), "rawId": st.text(max_size=8), "type": st.just("public-key")},
        optional={
            "response": st.dictionaries(
                st.sampled_from(["clientDataJSON", "authenticatorData", "signature", "userHandle"]),
                st.text(max_size=30),
            )
        },
    )
)
def test_any_json_as_a_credential_is_refused_cleanly(api, tokens, credential):
    before = sessions()
    response = sign_in(api, credential)
    assert response.status_code in (400, 401), response.content
    assert error_code(response) in ("validation_error", "invalid_credentials")
    assert sessions() == before
    registered = api.post(REGISTER, {"credential": credential}, format="json", **bearer(tokens["access_token"]))
    assert registered.status_code == 400, registered.content
    assert not Passkey.objects.exists()


def test_a_passkey_answers_mfa_required_at_the_token_endpoint(api, ada, passkey):
    import pyotp

    from auth.local import LocalAuthService

    local = LocalAuthService()
    local.confirm_totp(
        user_id=ada.id, otp=pyotp.TOTP(local.enroll_totp(user_id=ada.id, password=PASSWORD).secret).now()
    )
    body = {"email": "ada@example.com", "password": PASSWORD}
    required = api.post("/api/v1/auth/token", body, format="json")
    assert required.status_code == 401 and error_code(required) == "mfa_required"
    credential = passkey.get(login_options(api, "ada@example.com"))
    signed_in = api.post("/api/v1/auth/token", {**body, "passkey": credential}, format="json")
    assert signed_in.status_code == 200, signed_in.content
    assert api.get(ME, **bearer(signed_in.json()["access_token"])).status_code == 200
    replayed = api.post("/api/v1/auth/token", {**body, "passkey": credential}, format="json")
    assert refused(replayed)


# --- the admin ------------------------------------------------------------------------------------


def staff_with(*permissions):
    from permissions.interface import permission_service

    staff = UserFactory(email="staff@example.com", is_staff=True)
    role = permission_service.create_role(actor_id=None, name="passkey-staff", permissions=list(permissions))
    permission_service.grant_role(actor_id=None, role_id=role.id, user_id=staff.id)
    from users.models import User

    return User.objects.get(id=staff.id)


ADMIN_PASSKEYS = "/admin/gatehouse_auth/passkey/"


def test_staff_who_may_view_see_users_passkeys_by_email_and_cannot_remove_them(client, api, passkey):
    client.force_login(staff_with("auth.passkey.view"))
    listing = client.get(ADMIN_PASSKEYS)
    assert listing.status_code == 200
    assert b"Laptop" in listing.content and b"ada@example.com" in listing.content
    assert b'value="remove"' not in listing.content
    [row] = Passkey.objects.all()
    assert client.post(f"{ADMIN_PASSKEYS}{row.id}/delete/", {"post": "yes"}).status_code == 403
    assert Passkey.objects.filter(id=row.id).exists()


@pytest.mark.django_db(transaction=True)
def test_staff_who_may_manage_remove_a_passkey_through_the_service(client, api, ada, tokens, passkey):
    client.force_login(staff_with("auth.passkey.view", "auth.passkey.manage"))
    [row] = Passkey.objects.all()
    response = client.post(ADMIN_PASSKEYS, {"action": "remove", "_selected_action": [str(row.id)]})
    assert response.status_code == 302
    assert not Passkey.objects.exists()
    assert [e["passkey_id"] for e in events("auth.passkey_removed")] == [str(row.id)]


@pytest.mark.django_db(transaction=True)
def test_the_admin_keeps_the_last_passkey_of_an_account_without_a_password(client, api, ada, tokens, passkey):
    _drop_password(ada.id)
    client.force_login(staff_with("auth.passkey.view", "auth.passkey.manage"))
    [row] = Passkey.objects.all()
    response = client.post(ADMIN_PASSKEYS, {"action": "remove", "_selected_action": [str(row.id)]}, follow=True)
    assert "only way to sign in" in response.content.decode()
    response = client.post(f"{ADMIN_PASSKEYS}{row.id}/delete/", {"post": "yes"}, follow=True)
    assert "only way to sign in" in response.content.decode()
    assert Passkey.objects.filter(id=row.id).exists() and events("auth.passkey_removed") == []


# --- relying-party configuration ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rp_id", "origins", "complaint"),
    [
        ("example.com", ["https://login.example.com"], None),
        ("login.example.com", ["https://login.example.com", "https://login.example.com:8443"], None),
        ("localhost", ["http://localhost:8000"], None),
        ("example.com", ["https://example.com.evil.org"], "neither the host"),
        ("login.example.com", ["https://example.com"], "neither the host"),
        ("example.com", ["http://login.example.com"], "not https"),
        ("example.com", ["https://login.example.com/sign-in"], "not an origin"),
        ("example.com", [], "EMPTY"),
        ("", ["https://example.com"], "EMPTY"),
    ],
)
def test_a_relying_party_configuration_browsers_would_refuse_fails_the_system_check(
    settings, rp_id, origins, complaint
):
    settings.GATEHOUSE_WEBAUTHN_RP_ID, settings.GATEHOUSE_WEBAUTHN_ORIGINS = rp_id, origins
    found = webauthn_configuration(None)
    if complaint is None:
        assert found == []
    else:
        assert found and any(complaint.lower() in error.msg.lower() for error in found), found
        assert {(type(error).__name__, error.id) for error in found} == {("Error", "gatehouse.E019")}


def test_a_frontend_url_passkeys_cannot_use_is_only_a_warning_while_they_are_not_configured(settings):
    """A deployment that offers no passkeys keeps starting; its operators are told."""
    settings.GATEHOUSE_FRONTEND_URL = "http://frontend.example"
    settings.GATEHOUSE_WEBAUTHN_RP_ID, settings.GATEHOUSE_WEBAUTHN_ORIGINS = (
        "frontend.example",
        ["http://frontend.example"],
    )
    [warning] = webauthn_configuration(None)
    assert (type(warning).__name__, warning.id) == ("Warning", "gatehouse.W019")
    assert "not https" in warning.msg
