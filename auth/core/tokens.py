"""Access tokens: short-lived JWTs (RFC 9068-style claims) signed with the active key."""

from __future__ import annotations

import contextlib
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
from django.conf import settings

from auth.interface import InvalidToken

from . import keys

REQUIRED_CLAIMS = ["iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp"]
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})


def access_token_issue(
    *, user_id: uuid.UUID | str, session_id: uuid.UUID | None, client_id: str = "", scope: str = "", extra=None
) -> tuple[str, datetime]:
    """An access token of Gatehouse's own API (audience GATEHOUSE_AUDIENCE), or, with a
    `client_id`, one an OpenID Connect client holds (RFC 9068: audience and `client_id` claim are
    the client, with its `scope`). Gatehouse's API refuses the latter: a relying party gets what
    its scopes say (userinfo), never the user's whole API."""
    kid, private_key = keys.signing_key()
    now = datetime.now(UTC).replace(microsecond=0)
    expires_at = now + timedelta(seconds=settings.GATEHOUSE_ACCESS_TOKEN_TTL)
    claims = {
        "iss": settings.GATEHOUSE_ISSUER,
        "aud": client_id or settings.GATEHOUSE_AUDIENCE,
        "sub": str(user_id),
        "jti": uuid.uuid4().hex,
        "iat": now,
        "nbf": now,
        "exp": expires_at,
    }
    if session_id is not None:
        claims["sid"] = str(session_id)
    if client_id:
        claims["client_id"] = client_id
        claims["scope"] = scope
    if extra:
        claims.update(extra)
    token = jwt.encode(claims, private_key, algorithm=keys.ALGORITHM, headers={"kid": kid, "typ": "at+jwt"})
    return token, expires_at


def client_access_token_decode(token: str) -> dict:
    """The verified claims of an access token issued to an OpenID Connect client (any client:
    the caller checks `client_id` where it matters), or InvalidToken. Does not look at the session."""
    _, public_key = _access_token_key(token)
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=list(keys.ALLOWED_ALGORITHMS),
            issuer=settings.GATEHOUSE_ISSUER,
            leeway=settings.GATEHOUSE_TOKEN_LEEWAY,
            options={"require": ["iss", "aud", "sub", "jti", "iat", "exp", "client_id"], "verify_aud": False},
        )
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError):
        raise InvalidToken() from None
    if claims.get("aud") != claims.get("client_id"):
        raise InvalidToken()
    return claims


# A client sends the same access token with every request of its lifetime, so a process keeps
# what it verified: the exact token string -> (claims, the key object that verified it). A hit
# still asks the key set for that kid (a key whose publication ended, or a reloaded key set, is a
# miss) and re-checks `iss`, `aud` and the times against the settings and clock of now; only the
# signature and the parsing are not done again. Envoy's jwt_authn does the same (jwt_cache_config).
_verified: dict[str, tuple[dict, str, object]] = {}
MAX_VERIFIED = 2048  # ~1.7 KB each (the token and its claims): ~3.5 MB at most


def _timestamp() -> float:
    return time.time()


def _still_valid(claims: dict) -> bool:
    """PyJWT's checks of `jwt.decode` below, on claims it has already parsed and checked once."""
    now, leeway = _timestamp(), settings.GATEHOUSE_TOKEN_LEEWAY
    audience = claims["aud"]
    return (
        claims["iss"] == settings.GATEHOUSE_ISSUER
        and (
            audience == settings.GATEHOUSE_AUDIENCE
            or (isinstance(audience, list) and settings.GATEHOUSE_AUDIENCE in audience)
        )
        and int(claims["exp"]) > now - leeway
        and int(claims["nbf"]) <= now + leeway
        and int(claims["iat"]) <= now + leeway
    )


def access_token_decode(token: str) -> dict:
    """The verified claims of `token`, or InvalidToken. Does not look at the session."""
    found = _verified.get(token)
    if found is not None:
        claims, kid, key = found
        if keys.public_key(kid) is key:
            if not _still_valid(claims):
                raise InvalidToken()
            return dict(claims)
    claims, kid, key = _verify(token)
    if len(_verified) >= MAX_VERIFIED:
        # The oldest goes (dicts keep insertion order); another thread may have taken it.
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):
            del _verified[next(iter(_verified))]
    _verified[token] = (claims, kid, key)
    return dict(claims)


def _access_token_key(token: str) -> tuple[str, object]:
    """The kid and our public key an access token names, or InvalidToken."""
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
    return header["kid"], public_key


def _verify(token: str) -> tuple[dict, str, object]:
    kid, public_key = _access_token_key(token)
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
    return claims, kid, public_key
