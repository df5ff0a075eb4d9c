"""Access tokens: short-lived JWTs (RFC 9068-style claims) signed with the active key."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
from django.conf import settings

from auth.interface import InvalidToken

from . import keys

REQUIRED_CLAIMS = ["iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp"]
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})


def access_token_issue(*, user_id: uuid.UUID, session_id: uuid.UUID) -> tuple[str, datetime]:
    kid, private_key = keys.signing_key()
    now = datetime.now(UTC).replace(microsecond=0)
    expires_at = now + timedelta(seconds=settings.GATEHOUSE_ACCESS_TOKEN_TTL)
    claims = {
        "iss": settings.GATEHOUSE_ISSUER,
        "aud": settings.GATEHOUSE_AUDIENCE,
        "sub": str(user_id),
        "sid": str(session_id),
        "jti": uuid.uuid4().hex,
        "iat": now,
        "nbf": now,
        "exp": expires_at,
    }
    token = jwt.encode(claims, private_key, algorithm=keys.ALGORITHM, headers={"kid": kid, "typ": "at+jwt"})
    return token, expires_at


def access_token_decode(token: str) -> dict:
    """The verified claims of `token`, or InvalidToken. Does not look at the session."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken() from None
    # The algorithm comes from our allow-list and the key from our own set, never from the token:
    # that is what defeats `alg: none` and HS256-with-the-public-key confusion.
    if header.get("alg") not in keys.ALLOWED_ALGORITHMS or not isinstance(header.get("kid"), str):
        raise InvalidToken()
    # Explicit typing (RFC 8725 §3.11, RFC 9068 §4): a JWT of another kind signed by one of our
    # keys one day (an ID token, a logout token) must not pass for an access token.
    if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
        raise InvalidToken()
    public_key = keys.public_key(header["kid"])
    if public_key is None:
        raise InvalidToken()
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=list(keys.ALLOWED_ALGORITHMS),
            audience=settings.GATEHOUSE_AUDIENCE,
            issuer=settings.GATEHOUSE_ISSUER,
            leeway=settings.GATEHOUSE_TOKEN_LEEWAY,
            options={"require": REQUIRED_CLAIMS},
        )
        uuid.UUID(claims["sub"])
        uuid.UUID(claims["sid"])
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError):
        raise InvalidToken() from None
    return claims
