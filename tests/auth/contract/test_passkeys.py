"""Passkeys: registration, management and sign-in, against both implementations (see conftest).
The authenticator is software (tests/auth/authenticator.py); the API-level negatives are in
tests/auth/test_passkeys.py."""

import uuid

import jwt
import pytest
from django.conf import settings
from fido2.utils import websafe_encode

from auth.interface import (
    PASSKEY_ADDED,
    PASSKEY_REMOVED,
    InvalidCredentials,
    LastSignInMethod,
    MfaRequired,
    Passkey,
    PasskeyNotFound,
    PasskeyRejected,
    PasskeyRequired,
)
from tests.auth.authenticator import SoftAuthenticator
from tests.support.factories import UserFactory
from tests.support.rbac import grant_role

from .conftest import CLIENT, events, login, totp_on


def register(auth, user, authenticator=None, name="") -> tuple[SoftAuthenticator, Passkey]:
    authenticator = authenticator or SoftAuthenticator()
    options = auth.passkey_registration_options(user_id=user.id)
    return authenticator, auth.register_passkey(user_id=user.id, credential=authenticator.create(options), name=name)


def test_registration_options_ask_for_a_discoverable_verified_passkey_of_this_user(auth, ada):
    options = auth.passkey_registration_options(user_id=ada.id)
    assert options["rp"] == {"id": settings.GATEHOUSE_WEBAUTHN_RP_ID, "name": settings.GATEHOUSE_WEBAUTHN_RP_NAME}
    assert options["user"]["name"] == ada.email
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert len(options["challenge"]) >= 43  # 32 random bytes, base64url
    assert options["challenge"] != auth.passkey_registration_options(user_id=ada.id)["challenge"]


def test_a_registered_passkey_is_listed_and_announced(auth, ada):
    _, passkey = register(auth, ada, name="  Laptop   Touch ID ")
    assert isinstance(passkey, Passkey)
    assert (passkey.name, passkey.last_used_at, passkey.flagged_at) == ("Laptop Touch ID", None, None)
    assert auth.list_passkeys(user_id=ada.id) == [passkey]
    [event] = events(PASSKEY_ADDED, user_id=ada.id)
    assert event.payload == {"user_id": str(ada.id), "passkey_id": str(passkey.id), "name": "Laptop Touch ID"}


def test_a_user_may_have_several_passkeys_and_the_options_exclude_them(auth, ada):
    first, _ = register(auth, ada)
    register(auth, ada)
    assert [p.name for p in auth.list_passkeys(user_id=ada.id)] == ["Passkey 1", "Passkey 2"]
    excluded = auth.passkey_registration_options(user_id=ada.id)["excludeCredentials"]
    assert len(excluded) == 2
    assert {"id": websafe_encode(first.credential_id), "type": "public-key"} in excluded


def test_a_registration_challenge_is_bound_to_its_user(auth, ada):
    bob = UserFactory(email="bob@example.com")
    options = auth.passkey_registration_options(user_id=ada.id)
    with pytest.raises(PasskeyRejected) as caught:
        auth.register_passkey(user_id=bob.id, credential=SoftAuthenticator().create(options))
    assert (caught.value.code, caught.value.kind) == ("invalid_passkey", "invalid_argument")
    assert auth.list_passkeys(user_id=bob.id) == auth.list_passkeys(user_id=ada.id) == []


def test_a_registration_challenge_is_single_use(auth, ada):
    options = auth.passkey_registration_options(user_id=ada.id)
    auth.register_passkey(user_id=ada.id, credential=SoftAuthenticator().create(options))
    with pytest.raises(PasskeyRejected):
        auth.register_passkey(user_id=ada.id, credential=SoftAuthenticator().create(options))
    assert len(auth.list_passkeys(user_id=ada.id)) == 1


def test_a_passkey_is_renamed(auth, ada):
    _, passkey = register(auth, ada)
    renamed = auth.rename_passkey(user_id=ada.id, passkey_id=passkey.id, name="Phone")
    assert (renamed.id, renamed.name) == (passkey.id, "Phone")
    assert auth.list_passkeys(user_id=ada.id)[0].name == "Phone"


def test_someone_elses_passkey_is_not_found(auth, ada):
    bob = UserFactory(email="bob@example.com")
    _, passkey = register(auth, ada)
    with pytest.raises(PasskeyNotFound):
        auth.rename_passkey(user_id=bob.id, passkey_id=passkey.id, name="mine")
    with pytest.raises(PasskeyNotFound):
        auth.remove_passkey(user_id=bob.id, passkey_id=passkey.id)
    with pytest.raises(PasskeyNotFound):
        auth.remove_passkey(user_id=ada.id, passkey_id=uuid.uuid4())
    assert [p.name for p in auth.list_passkeys(user_id=ada.id)] == ["Passkey 1"]


def test_a_removed_passkey_is_gone_announced_and_signs_in_no_more(auth, ada):
    authenticator, passkey = register(auth, ada)
    assert auth.remove_passkey(user_id=ada.id, passkey_id=passkey.id) is None
    assert auth.list_passkeys(user_id=ada.id) == []
    [event] = events(PASSKEY_REMOVED, user_id=ada.id)
    assert event.payload["passkey_id"] == str(passkey.id)
    with pytest.raises(InvalidCredentials):
        auth.login_with_passkey(credential=authenticator.get(auth.passkey_login_options()), client=CLIENT)


def test_the_last_passkey_of_an_account_without_a_password_stays(auth, transactional_db):
    eve = UserFactory(email="eve@example.com", password=None)
    _, first = register(auth, eve)
    _, second = register(auth, eve)
    auth.remove_passkey(user_id=eve.id, passkey_id=first.id)
    with pytest.raises(LastSignInMethod) as caught:
        auth.remove_passkey(user_id=eve.id, passkey_id=second.id)
    assert (caught.value.code, caught.value.kind) == ("last_sign_in_method", "conflict")
    assert auth.list_passkeys(user_id=eve.id) == [second]
    assert len(events(PASSKEY_REMOVED, user_id=eve.id)) == 1


def test_the_last_passkey_of_an_account_with_a_password_may_go(auth, ada):
    _, passkey = register(auth, ada)
    auth.remove_passkey(user_id=ada.id, passkey_id=passkey.id)
    assert auth.list_passkeys(user_id=ada.id) == []


@pytest.mark.parametrize("with_email", [False, True], ids=["discoverable", "with-email"])
def test_a_passkey_signs_in_to_a_session_like_a_password(auth, ada, with_email):
    authenticator, passkey = register(auth, ada)
    options = auth.passkey_login_options(email=ada.email if with_email else "")
    assert options["rpId"] == settings.GATEHOUSE_WEBAUTHN_RP_ID
    assert options["userVerification"] == "required"
    assert options["allowCredentials"] == []
    pair = auth.login_with_passkey(credential=authenticator.get(options), client=CLIENT)
    assert pair.token_type == "Bearer"
    claims = jwt.decode(pair.access_token, options={"verify_signature": False})
    assert (claims["sub"], claims["sid"]) == (str(ada.id), str(pair.session_id))
    assert auth.verify_access_token(token=pair.access_token).user_id == ada.id
    [session] = auth.list_sessions(user_id=ada.id)
    assert (session.id, session.ip) == (pair.session_id, CLIENT.ip)
    [used] = auth.list_passkeys(user_id=ada.id)
    assert used.id == passkey.id and used.last_used_at is not None


def test_options_for_an_unknown_email_look_like_any_others(auth, ada):
    register(auth, ada)
    known, unknown = auth.passkey_login_options(email=ada.email), auth.passkey_login_options(email="nobody@example.com")
    assert known.keys() == unknown.keys()
    assert {k: v for k, v in known.items() if k != "challenge"} == {
        k: v for k, v in unknown.items() if k != "challenge"
    }


def test_a_challenge_asked_for_one_email_refuses_another_accounts_passkey(auth, ada):
    UserFactory(email="bob@example.com")
    authenticator, _ = register(auth, ada)
    options = auth.passkey_login_options(email="bob@example.com")
    with pytest.raises(InvalidCredentials) as caught:
        auth.login_with_passkey(credential=authenticator.get(options), client=CLIENT)
    assert caught.value.code == "invalid_credentials"
    assert auth.list_sessions(user_id=ada.id) == []


def test_a_sign_in_challenge_is_single_use(auth, ada):
    authenticator, _ = register(auth, ada)
    options = auth.passkey_login_options()
    auth.login_with_passkey(credential=authenticator.get(options), client=CLIENT)
    with pytest.raises(InvalidCredentials):
        auth.login_with_passkey(credential=authenticator.get(options), client=CLIENT)
    assert len(auth.list_sessions(user_id=ada.id)) == 1


def test_an_unknown_passkey_and_a_bad_signature_answer_the_same(auth, ada):
    authenticator, _ = register(auth, ada)
    unknown = SoftAuthenticator(user_handle=authenticator.user_handle)
    forged = authenticator.get(auth.passkey_login_options())
    forged["response"]["signature"] = unknown.get(auth.passkey_login_options())["response"]["signature"]
    errors = []
    for credential in (unknown.get(auth.passkey_login_options()), forged):
        with pytest.raises(InvalidCredentials) as caught:
            auth.login_with_passkey(credential=credential, client=CLIENT)
        errors.append((caught.value.code, caught.value.message, caught.value.details))
    assert errors[0] == errors[1]
    assert auth.list_sessions(user_id=ada.id) == []


def test_a_passkey_is_the_second_factor_where_totp_is_required(auth, ada):
    totp_on(auth, ada)
    authenticator, _ = register(auth, ada)
    with pytest.raises(MfaRequired):
        login(auth)
    pair = login(auth, passkey=authenticator.get(auth.passkey_login_options(email=ada.email)))
    assert auth.verify_access_token(token=pair.access_token).user_id == ada.id


def test_another_accounts_passkey_is_no_second_factor(auth, ada):
    totp_on(auth, ada)
    bob = UserFactory(email="bob@example.com")
    bobs, _ = register(auth, bob)
    with pytest.raises(InvalidCredentials):  # a challenge asked without an email binds nobody
        login(auth, passkey=bobs.get(auth.passkey_login_options()))
    assert auth.list_sessions(user_id=ada.id) == []


def test_a_passkey_does_not_stand_for_the_password(auth, ada):
    totp_on(auth, ada)
    authenticator, _ = register(auth, ada)
    with pytest.raises(InvalidCredentials):
        login(auth, password="not-the-password-at-all", passkey=authenticator.get(auth.passkey_login_options()))
    assert auth.list_sessions(user_id=ada.id) == []


def test_an_admin_must_sign_in_with_a_passkey_and_enrols_the_first_one_signed_out(auth):
    root = UserFactory(email="root@example.com")
    grant_role(root.id)
    with pytest.raises(PasskeyRequired) as refusal:
        login(auth, "root@example.com")
    assert refusal.value.code == "passkey_required"
    options = refusal.value.details["registration_options"]
    authenticator = SoftAuthenticator()
    passkey = auth.register_passkey(user_id=None, credential=authenticator.create(options))
    assert [p.id for p in auth.list_passkeys(user_id=root.id)] == [passkey.id]
    with pytest.raises(PasskeyRequired) as refusal:
        login(auth, "root@example.com")
    assert refusal.value.details == {}
    credential = authenticator.get(auth.passkey_login_options(email="root@example.com"))
    assert login(auth, "root@example.com", passkey=credential).access_token
