"""Access tokens from the outside: a resource server verifies them with nothing but the JWKS, and
every forgery of RFC 8725 (JWT Best Current Practices) is refused at the edge with 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.request
import uuid
from datetime import datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings as django_settings
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from jwt import PyJWKClient

from auth.core import keys
from auth.core import tokens as tokens_core
from auth.interface import InvalidToken
from auth.models import SigningKey
from tests.support.factories import PASSWORD
from tests.support.http import bearer, error_code

from .conftest import ME, status_of_me

pytestmark = pytest.mark.django_db


# --- a resource server that knows nothing of Gatehouse --------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_standard_jwks_client_verifies_an_access_token_from_the_live_server(live_server, settings):
    settings.CELERY_BROKER_URL = ""  # events of the registration run in-process, not on a shared broker
    body = json.dumps({"email": "ada@example.com", "password": PASSWORD}).encode()
    register = urllib.request.Request(
        f"{live_server.url}/api/v1/auth/register", body, headers={"Content-Type": "application/json"}
    )
    assert urllib.request.urlopen(register, timeout=10).status == 201
    login = urllib.request.Request(
        f"{live_server.url}/api/v1/auth/token", body, headers={"Content-Type": "application/json"}
    )
    access_token = json.load(urllib.request.urlopen(login, timeout=10))["access_token"]

    # What any resource server does: fetch the JWKS, pick the key by kid, verify.
    jwks_client = PyJWKClient(f"{live_server.url}/.well-known/jwks.json")
    signing_key = jwks_client.get_signing_key_from_jwt(access_token)
    claims = jwt.decode(
        access_token,
        signing_key.key,
        algorithms=["RS256"],
        audience=django_settings.GATEHOUSE_AUDIENCE,
        issuer=django_settings.GATEHOUSE_ISSUER,
        options={"require": ["exp", "iat", "nbf", "sub", "sid", "jti"]},
    )
    assert claims["sub"]
    assert signing_key.key_id == jwt.get_unverified_header(access_token)["kid"]
    # Every published key says what it is for.
    for jwk in jwks_client.get_jwk_set().keys:
        assert (jwk.key_type, jwk.public_key_use, jwk.algorithm_name) == ("RSA", "sig", "RS256")


def test_the_jwks_is_public_cacheable_and_holds_no_private_part(api, tokens):
    response = api.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert "max-age" in response["Cache-Control"]
    for key in response.json()["keys"]:
        assert {"kid", "alg", "use", "kty", "n", "e"} <= set(key)
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


# --- forgeries ----------------------------------------------------------------------------------------


def b64(data: bytes | dict) -> str:
    if isinstance(data, dict):
        data = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict, claims: dict) -> str:
    return f"{b64(header)}.{b64(claims)}."


def hs256(header: dict, claims: dict, secret: bytes) -> str:
    signing_input = f"{b64(header)}.{b64(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture
def genuine(tokens) -> tuple[dict, dict]:
    """The header and claims of a real access token, to build forgeries from."""
    token = tokens["access_token"]
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def rs256(header: dict, claims: dict, private_key) -> str:
    """Signed by hand: PyJWT would refuse to encode some of the malformed headers and claims."""
    signing_input = f"{b64(header)}.{b64(claims)}".encode()
    signature = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).sign(signing_input, private_key)
    return f"{signing_input.decode()}.{b64(signature)}"


def signed(claims: dict, **header) -> str:
    """Signed with Gatehouse's real key: only the claims or header are wrong."""
    kid, private_key = keys.signing_key()
    return rs256({"alg": "RS256", "kid": kid, "typ": "at+jwt", **header}, claims, private_key)


def assert_refused(api, token: str) -> None:
    response = api.get(ME, **bearer(token))
    assert response.status_code == 401, response.content
    assert error_code(response) == "authentication_failed"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_the_genuine_token_and_a_re_signed_copy_of_its_claims_are_accepted(api, tokens, genuine):
    # The control case: the forgeries below fail for what they change, not for how they are built.
    assert status_of_me(api, tokens["access_token"]) == 200
    assert status_of_me(api, signed(genuine[1])) == 200


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(api, genuine, alg):
    header, claims = genuine
    assert_refused(api, unsigned({**header, "alg": alg}, claims))


def public_key_forms() -> dict[str, bytes]:
    public = keys.public_key(keys.signing_key()[0])
    jwk = next(k for k in keys.jwks()["keys"] if k["kid"] == keys.signing_key()[0])
    return {
        "pem": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "der": public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk": json.dumps(jwk).encode(),
        "jwk-compact": json.dumps(jwk, separators=(",", ":")).encode(),
    }


@pytest.mark.parametrize("form", ["pem", "der", "jwk", "jwk-compact"])
@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_an_hmac_token_keyed_with_the_public_key_is_refused(api, genuine, form, alg):
    header, claims = genuine
    secret = public_key_forms()[form]
    if alg == "HS256":
        token = hs256({**header, "alg": alg}, claims, secret)
    else:
        signing_input = f"{b64({**header, 'alg': alg})}.{b64(claims)}"
        digest = {"HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        token = f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), digest).digest())}"
    assert_refused(api, token)


def test_an_rs256_token_with_a_copied_kid_is_refused(api, genuine):
    header, claims = genuine
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert_refused(api, jwt.encode(claims, foreign, algorithm="RS256", headers={"kid": header["kid"]}))


@pytest.mark.parametrize("alg", ["ES384", "ES512", "PS256", "EdDSA"])
def test_another_asymmetric_algorithm_in_the_header_is_refused(api, genuine, alg):
    header, claims = genuine
    real = signed(claims)
    _, payload, signature = real.split(".")
    assert_refused(api, f"{b64({**header, 'alg': alg})}.{payload}.{signature}")


@pytest.mark.parametrize("kid", ["unknown-kid", "", None, 42, ["a"], "../../etc/passwd"])
def test_an_unknown_or_malformed_kid_is_refused(api, genuine, kid):
    _, claims = genuine
    _, private_key = keys.signing_key()
    header = {"alg": "RS256", "typ": "at+jwt"} | ({} if kid is None else {"kid": kid})
    assert_refused(api, rs256(header, claims, private_key))


def test_an_es256_token_from_a_foreign_ec_key_with_a_copied_kid_is_refused(api, genuine):
    # ES256 is not on the allow-list at all; a confused verifier would take the kid and try.
    header, claims = genuine
    foreign = ec.generate_private_key(ec.SECP256R1())
    assert_refused(api, jwt.encode(claims, foreign, algorithm="ES256", headers={"kid": header["kid"]}))


def test_a_foreign_key_embedded_in_the_header_is_ignored(api, genuine):
    header, claims = genuine
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    embedded = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(foreign.public_key()))
    token = jwt.encode(
        claims,
        foreign,
        algorithm="RS256",
        headers={"kid": header["kid"], "jwk": embedded, "jku": "https://attacker.example/jwks.json"},
    )
    assert_refused(api, token)


def test_a_tampered_payload_is_refused(api, genuine, tokens):
    header, claims = genuine
    _, _, signature = tokens["access_token"].split(".")
    for tampered in ({**claims, "sub": str(uuid.uuid4())}, {**claims, "exp": claims["exp"] + 3600}):
        assert_refused(api, f"{b64(header)}.{b64(tampered)}.{signature}")


def test_a_tampered_signature_is_refused(api, tokens):
    head, payload, signature = tokens["access_token"].split(".")
    flipped = "A" if signature[5] != "A" else "B"
    assert_refused(api, f"{head}.{payload}.{signature[:5]}{flipped}{signature[6:]}")


def test_an_expired_token_is_refused_beyond_the_leeway_and_accepted_within_it(api, genuine):
    _, claims = genuine
    now = int(time.time())
    leeway = django_settings.GATEHOUSE_TOKEN_LEEWAY
    assert_refused(api, signed({**claims, "iat": now - 600, "nbf": now - 600, "exp": now - leeway - 5}))
    assert status_of_me(api, signed({**claims, "exp": now - leeway + 10})) == 200


def test_a_token_not_yet_valid_is_refused(api, genuine):
    _, claims = genuine
    now = int(time.time())
    leeway = django_settings.GATEHOUSE_TOKEN_LEEWAY
    assert_refused(api, signed({**claims, "nbf": now + leeway + 60, "exp": now + 600}))
    assert_refused(api, signed({**claims, "iat": now + leeway + 60, "nbf": now, "exp": now + 600}))


@pytest.mark.parametrize("aud", ["someone-else", ["someone-else", "another"], "", 42])
def test_a_wrong_audience_is_refused(api, genuine, aud):
    _, claims = genuine
    assert_refused(api, signed({**claims, "aud": aud}))


@pytest.mark.parametrize("iss", ["https://attacker.example", "", 42])
def test_a_wrong_issuer_is_refused(api, genuine, iss):
    _, claims = genuine
    assert_refused(api, signed({**claims, "iss": iss}))


@pytest.mark.parametrize("claim", ["iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp"])
def test_a_missing_claim_is_refused(api, genuine, claim):
    _, claims = genuine
    assert_refused(api, signed({k: v for k, v in claims.items() if k != claim}))


@pytest.mark.parametrize("claim", ["sub", "sid"])
@pytest.mark.parametrize("value", ["not-a-uuid", 42, None, ["x"]])
def test_a_malformed_subject_or_session_is_refused(api, genuine, claim, value):
    _, claims = genuine
    assert_refused(api, signed({**claims, claim: value}))


@pytest.mark.parametrize("typ", [None, "JWT", "id_token+jwt", "logout+jwt"])
def test_a_token_not_typed_as_an_access_token_is_refused(api, genuine, typ):
    _, claims = genuine
    kid, private_key = keys.signing_key()
    header = {"alg": "RS256", "kid": kid} | ({} if typ is None else {"typ": typ})
    assert_refused(api, rs256(header, claims, private_key))


def test_the_media_type_form_of_the_access_token_type_is_accepted(api, genuine):
    assert status_of_me(api, signed(genuine[1], typ="application/at+jwt")) == 200


def test_a_well_signed_token_for_an_unknown_session_is_refused(api, genuine):
    _, claims = genuine
    assert_refused(api, signed({**claims, "sid": str(uuid.uuid4())}))


def test_a_refresh_token_is_not_an_access_token(api, tokens):
    assert_refused(api, tokens["refresh_token"])


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer a b", "Bearer ....", "Bearer eyJ", "Bearer ünïcode", "Bearer " + "A" * 5000],
)
@pytest.mark.parametrize("method", ["get", "options"])  # OPTIONS: read by the DRF authentication, not the edge
def test_malformed_authorization_headers_are_401_not_500(api, db, authorization, method):
    response = getattr(api, method)(ME, HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 401
    assert error_code(response) == "authentication_failed"
    assert response.json()["error"]["message"] == "The access token is invalid, expired or revoked."


@pytest.mark.parametrize("method", ["get", "options"])
def test_another_scheme_is_not_authenticated(api, tokens, method):
    response = getattr(api, method)(ME, HTTP_AUTHORIZATION=f"Token {tokens['access_token']}")
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"


def test_a_valid_token_authenticates_a_request_the_edge_does_not_read(api, tokens):
    assert api.options(ME, HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").status_code == 200


# --- signing key rotation -------------------------------------------------------------------------


def published_kids(api) -> set[str]:
    return {key["kid"] for key in api.get("/.well-known/jwks.json").json()["keys"]}


def test_after_a_rotation_old_tokens_verify_until_their_key_is_unpublished(api, tokens):
    old_kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    assert SigningKey.objects.filter(kid=old_kid, retired_at__isnull=True).exists()

    new_key = keys.signing_key_create()

    # New tokens are signed by the new key; both keys are published; old tokens still verify.
    fresh = api.post("/api/v1/auth/token", {"email": "ada@example.com", "password": PASSWORD}, format="json").json()
    assert jwt.get_unverified_header(fresh["access_token"])["kid"] == new_key.kid
    assert published_kids(api) == {old_kid, new_key.kid}
    assert status_of_me(api, tokens["access_token"]) == 200
    assert status_of_me(api, fresh["access_token"]) == 200
    retired = SigningKey.objects.get(kid=old_kid)
    ttl = django_settings.GATEHOUSE_ACCESS_TOKEN_TTL
    assert retired.publish_until - retired.retired_at >= timedelta(seconds=ttl + django_settings.GATEHOUSE_TOKEN_LEEWAY)

    # Once every token the old key signed has expired, it is no longer published nor trusted.
    SigningKey.objects.filter(kid=old_kid).update(publish_until=timezone.now() - timedelta(seconds=1))
    keys._cache.invalidate()
    assert published_kids(api) == {new_key.kid}
    assert status_of_me(api, tokens["access_token"]) == 401
    assert status_of_me(api, fresh["access_token"]) == 200
    assert keys.signing_keys_prune() == 1
    assert set(SigningKey.objects.values_list("kid", flat=True)) == {new_key.kid}


def test_a_key_created_by_another_process_is_picked_up_on_its_first_token(api, tokens):
    """Another process rotated: this one still has the old key set cached and meets an unknown
    kid, which makes it look at the database again."""
    from auth.core.tokens import access_token_issue

    kid_before = keys.signing_key()[0]
    keys.signing_key_create()
    other_process_token, _ = access_token_issue(
        user_id=uuid.UUID(jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"]),
        session_id=uuid.UUID(jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]),
    )
    assert jwt.get_unverified_header(other_process_token)["kid"] != kid_before
    # Simulate the stale cache of this process: it knows only the old key.
    keys._cache._public = {kid_before: keys._cache._public[kid_before]}
    keys._cache._loaded_at -= 2
    assert status_of_me(api, other_process_token) == 200


def test_a_process_that_finds_the_first_key_made_meanwhile_takes_it_instead_of_a_second():
    """Between this process's read (no key yet) and its insert, another made the first key: the
    insert is refused by the one-active-key constraint and this process signs with that key."""
    other = keys._signing_key_first()

    mine = keys._signing_key_first()

    assert mine.kid == other.kid
    assert list(SigningKey.objects.values_list("kid", flat=True)) == [other.kid]


def test_a_rotation_still_retires_the_active_key_and_makes_one_new():
    first = keys.signing_key_create()
    second = keys.signing_key_create()
    assert list(SigningKey.objects.filter(retired_at__isnull=True).values_list("kid", flat=True)) == [second.kid]
    assert SigningKey.objects.get(kid=first.kid).publish_until is not None


# --- the verified-token memo (auth.core.tokens._verified) ------------------------------------------


class _Clock:
    """`datetime` for PyJWT's module, reading `now()` from a shifted clock (unit test only)."""

    shift = 0.0

    @classmethod
    def now(cls, tz=None):
        return datetime.fromtimestamp(time.time() + cls.shift, tz)


@hypothesis_settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    iat=st.integers(-4000, 600),
    nbf=st.integers(-4000, 600),
    exp=st.integers(-600, 4000),
    shift=st.integers(-4000, 4000),
)
def test_a_remembered_token_is_accepted_exactly_when_a_fresh_verification_would_be(
    db, monkeypatch, genuine, iat, nbf, exp, shift
):
    """Verified once now, asked again at another time: the memo's answer is PyJWT's."""
    _, claims = genuine
    now = int(time.time())
    token = signed({**claims, "iat": now + iat, "nbf": now + nbf, "exp": now + exp})
    try:
        tokens_core.access_token_decode(token)  # verified now (and remembered if valid now)
    except InvalidToken:
        return
    assert token in tokens_core._verified
    _Clock.shift = shift
    monkeypatch.setattr(jwt.api_jwt, "datetime", _Clock)
    monkeypatch.setattr(tokens_core, "_timestamp", lambda: time.time() + shift)
    try:
        tokens_core._verify(token)
        fresh = True
    except InvalidToken:
        fresh = False
    try:
        tokens_core.access_token_decode(token)
        remembered = True
    except InvalidToken:
        remembered = False
    assert remembered == fresh


def test_a_remembered_token_skips_the_signature_check_but_not_the_settings(api, tokens, monkeypatch, settings):
    token = tokens["access_token"]
    assert status_of_me(api, token) == 200
    verified = []
    original = tokens_core._verify
    monkeypatch.setattr(tokens_core, "_verify", lambda t: verified.append(t) or original(t))
    assert status_of_me(api, token) == 200
    assert verified == [], "the signature was checked again"
    settings.GATEHOUSE_AUDIENCE = "another-audience"
    assert_refused(api, token)
    settings.GATEHOUSE_AUDIENCE = django_settings.GATEHOUSE_AUDIENCE
    settings.GATEHOUSE_ISSUER = "https://another-issuer.example"
    assert_refused(api, token)


def test_a_remembered_token_is_refused_once_its_key_set_is_reloaded_without_its_key(api, tokens):
    token = tokens["access_token"]
    assert status_of_me(api, token) == 200
    kid = jwt.get_unverified_header(token)["kid"]
    keys.signing_key_create()
    SigningKey.objects.filter(kid=kid).update(publish_until=timezone.now() - timedelta(seconds=1))
    keys._cache.invalidate()
    assert_refused(api, token)


def test_the_memo_keeps_at_most_its_bound_dropping_the_oldest(db, genuine, monkeypatch):
    _, claims = genuine
    monkeypatch.setattr(tokens_core, "MAX_VERIFIED", 3)
    monkeypatch.setattr(tokens_core, "_verified", {})
    made = [signed({**claims, "jti": f"memo-{i}"}) for i in range(5)]
    for token in made:
        tokens_core.access_token_decode(token)
    assert list(tokens_core._verified) == made[2:]
