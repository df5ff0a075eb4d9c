"""Access tokens and the JWKS, against both implementations (see conftest)."""

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from auth.interface import InvalidToken, Principal

from .conftest import login


def test_verify_access_token_returns_who_the_token_speaks_for(auth, ada):
    pair = login(auth)
    principal = auth.verify_access_token(token=pair.access_token)
    assert isinstance(principal, Principal)
    assert (principal.user_id, principal.session_id) == (ada.id, pair.session_id)
    claims = jwt.decode(pair.access_token, options={"verify_signature": False})
    assert principal.token_id == claims["jti"]
    assert principal.expires_at == datetime.fromtimestamp(claims["exp"], UTC)
    remaining = principal.expires_at - datetime.now(UTC)
    assert timedelta(seconds=settings.GATEHOUSE_ACCESS_TOKEN_TTL - 60) < remaining
    assert remaining <= timedelta(seconds=settings.GATEHOUSE_ACCESS_TOKEN_TTL)


def test_every_login_issues_a_token_of_its_own(auth, ada):
    first, second = login(auth), login(auth)
    assert first.session_id != second.session_id
    assert auth.verify_access_token(token=first.access_token).token_id != (
        auth.verify_access_token(token=second.access_token).token_id
    )


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "x" * 5000],
    ids=["empty", "word", "three-parts", "alg-none", "long"],
)
def test_garbage_is_an_invalid_token(auth, garbage):
    with pytest.raises(InvalidToken) as caught:
        auth.verify_access_token(token=garbage)
    assert caught.value == InvalidToken()


def test_a_token_with_changed_claims_is_invalid(auth, ada):
    header, payload, signature = login(auth).access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(InvalidToken):
        auth.verify_access_token(token=f"{header}.{_b64(claims)}.{signature}")


def test_a_token_with_the_alg_none_and_real_claims_is_invalid(auth, ada):
    _, payload, _ = login(auth).access_token.split(".")
    kid = jwt.get_unverified_header(login(auth).access_token)["kid"]
    with pytest.raises(InvalidToken):
        auth.verify_access_token(token=f"{_b64({'alg': 'none', 'kid': kid})}.{payload}.")


def test_a_token_signed_with_another_key_is_invalid(auth, ada):
    real = login(auth).access_token
    claims = jwt.decode(real, options={"verify_signature": False})
    forged = jwt.encode(
        claims,
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers=jwt.get_unverified_header(real),
    )
    with pytest.raises(InvalidToken):
        auth.verify_access_token(token=forged)


def test_the_token_of_a_revoked_session_is_invalid(auth, ada):
    pair = login(auth)
    auth.verify_access_token(token=pair.access_token)  # warms whatever the check caches
    auth.logout(session_id=pair.session_id)
    with pytest.raises(InvalidToken):
        auth.verify_access_token(token=pair.access_token)


def test_the_jwks_publishes_the_rs256_key_that_signs_access_tokens(auth, ada):
    kid = jwt.get_unverified_header(login(auth).access_token)["kid"]
    jwks = auth.jwks()
    assert set(jwks) == {"keys"}
    by_kid = {key["kid"]: key for key in jwks["keys"]}
    key = by_kid[kid]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert key["n"] and key["e"]
    assert all(not {"d", "p", "q"} & set(key) for key in jwks["keys"]), "a private key component is published"


def test_the_jwks_key_verifies_the_access_token(auth, ada):
    token = login(auth).access_token
    kid = jwt.get_unverified_header(token)["kid"]
    [key] = [key for key in auth.jwks()["keys"] if key["kid"] == kid]
    claims = jwt.decode(
        token,
        jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(key)),
        algorithms=["RS256"],
        audience=settings.GATEHOUSE_AUDIENCE,
        issuer=settings.GATEHOUSE_ISSUER,
    )
    assert claims["sub"] == str(ada.id)
