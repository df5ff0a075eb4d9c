"""The OpenID Connect provider (docs/oidc.md): Authlib's authorization server on Gatehouse's own
users, sessions, signing keys, lockout and audit.

Authlib parses and validates the protocol (RFC 6749, RFC 7636, RFC 7009, RFC 7662, OpenID Connect
Core); this module supplies its storage and token issuing:

- every grant a client holds is a `Session` of kind "oidc" opened under the browser (SSO)
  session the user signed in with, so the refresh rotation, reuse detection, revocation markers
  and session list of docs/auth.md apply to it unchanged, and revoking the browser session ends it;
- access tokens are RFC 9068 JWTs signed with the keys of `/.well-known/jwks.json`, with the
  client as audience (Gatehouse's own API refuses them), ID tokens are signed with the same keys;
- authorization codes are stored hashed, live `OIDC_CODE_TTL`, and are spent atomically: a second
  use is refused and revokes the session the first one opened (RFC 9700 §4.2.4).

docs/oidc.md explains the choices (why Authlib and not django-oauth-toolkit among them).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import string
import time
import uuid
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import jwt
from authlib.oauth2 import AuthorizationServer, OAuth2Request, rfc7009, rfc7662
from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc import rpinitiated
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from auth.interface import SERVICE_NAME, ClientInfo, InvalidToken, MfaRequired, PasskeyRequired
from auth.interface.oidc import (
    CLIENT_AUTHORIZED,
    GRANT_REVOKED,
    AuthorizePage,
    EndSessionPage,
    OAuthRequest,
    OAuthResponse,
    OidcClientInvalid,
    OidcClientNotFound,
)
from auth.models import AuthorizationCode, OidcClient, OidcConsent, RefreshToken, Session
from project.crypto import derive_key
from project.events.outbox import outbox_record
from users.interface import UserNotFound, user_service
from users.interface.orgs import MemberNotFound, OrgNotFound, org_service

from . import keys, services
from .crypto import new_token, token_hash
from .sessions import session_is_alive, session_open, sessions_revoke
from .tokens import access_token_issue, client_access_token_decode

log = logging.getLogger(__name__)
security_log = logging.getLogger("gatehouse.security")

SCOPES = ("openid", "profile", "email", "offline_access", "orgs")
# `org:<id>` asks for one organization's membership (docs/oidc.md, "Organizations"): the org's id
# in its canonical form (lower-case UUID), at most one per request.
ORG_SCOPE = re.compile(r"org:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The `orgs` claim lists at most this many orgs, the most recently joined first.
ORGS_CLAIM_MAX = 50
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
CODE_TTL = timedelta(seconds=60)
_SECRET_PURPOSE = "oidc-client-secret"


# --- clients -----------------------------------------------------------------------------------


def _secret_hashes(secret: str) -> list[str]:
    """The keyed hash of a client secret under SECRET_KEY and each of SECRET_KEY_FALLBACKS (a
    rotation of SECRET_KEY keeps the registered clients working)."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [
        hmac.new(derive_key(_SECRET_PURPOSE, secret=key), secret.encode(), hashlib.sha256).hexdigest()
        for key in secrets
    ]


def _valid_redirect_uri(uri: str) -> bool:
    """Absolute, no fragment (RFC 6749 §3.1.2); https, or http on a loopback host, or a private
    scheme of a native app (RFC 8252 §7.1: `com.example.app:/callback`)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    if not parts.scheme or parts.fragment or any(c.isspace() for c in uri) or len(uri) > 2000:
        return False
    if parts.scheme == "https":
        return bool(parts.hostname)
    if parts.scheme == "http":
        return parts.hostname in ("localhost", "127.0.0.1", "::1")
    return "." in parts.scheme and parts.scheme not in ("javascript", "data", "file", "vbscript")


def create_client(
    *,
    name: str,
    redirect_uris: list[str],
    public: bool = False,
    grant_types: list[str] | None = None,
    first_party: bool = False,
    post_logout_redirect_uris: list[str] | None = None,
    permissions_scope: str = "",
    created_by: uuid.UUID | None = None,
) -> tuple[OidcClient, str | None]:
    """Register a client; returns it and its secret (None for a public client). The secret is
    shown this once: only its keyed hash is kept."""
    name = (name or "").strip()
    grant_types = list(dict.fromkeys(grant_types or ["authorization_code", "refresh_token"]))
    post_logout_redirect_uris = list(post_logout_redirect_uris or [])
    problems = {}
    if not name or len(name) > 200:
        problems["name"] = "A name of 1 to 200 characters is required."
    unknown = [g for g in grant_types if g not in GRANT_TYPES]
    if unknown:
        problems["grant_types"] = f"Unknown grant type(s): {', '.join(unknown)}. Known: {', '.join(GRANT_TYPES)}."
    elif public and "client_credentials" in grant_types:
        problems["grant_types"] = "A public client has no secret, so it cannot use client_credentials."
    if "authorization_code" in grant_types and not redirect_uris:
        problems["redirect_uris"] = "The authorization code flow needs at least one redirect URI."
    bad = [u for u in [*redirect_uris, *post_logout_redirect_uris] if not _valid_redirect_uri(u)]
    if bad:
        problems["redirect_uris"] = (
            f"Not a usable redirect URI: {bad[0]!r} (absolute, no fragment; https, http on a loopback host, "
            "or a native app's private scheme)."
        )
    if problems:
        raise OidcClientInvalid(details=problems)
    secret = None if public else new_token(32)
    client = OidcClient.objects.create(
        client_id=_client_id(),
        name=name,
        secret_hash="" if secret is None else _secret_hashes(secret)[0],
        public=public,
        first_party=first_party,
        redirect_uris=list(dict.fromkeys(redirect_uris)),
        post_logout_redirect_uris=post_logout_redirect_uris,
        grant_types=grant_types,
        permissions_scope=permissions_scope,
        created_by=created_by,
    )
    security_log.info("oidc client created", extra={"event": "auth.oidc_client_created", "client_id": client.client_id})
    return client, secret


def _client_id() -> str:
    """24 letters and digits: safe in a URL, a form, a config file and on a command line (a
    urlsafe token may start with "-", which a command line reads as an option)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(24))


def client_get(*, client_id: str) -> OidcClient:
    try:
        return OidcClient.objects.get(client_id=client_id)
    except OidcClient.DoesNotExist:
        raise OidcClientNotFound() from None


def delete_client(*, client_id: str) -> None:
    """Remove a client and end every grant it holds."""
    client = client_get(client_id=client_id)
    with transaction.atomic(durable=True):
        sessions_revoke(Session.objects.filter(client_id=client.client_id), reason="client_deleted")
        client.delete()


class Client:
    """Authlib's view of a client (its ClientMixin)."""

    def __init__(self, row: OidcClient):
        self.row = row
        self.client_id = row.client_id
        self.client_metadata = {"post_logout_redirect_uris": list(row.post_logout_redirect_uris)}

    def get_client_id(self):
        return self.row.client_id

    def get_default_redirect_uri(self):
        return None  # the request must name its redirect URI: exact matching only

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        allowed, org = [], None
        for s in dict.fromkeys(scope.split()):
            if s in SCOPES:
                allowed.append(s)
            elif org is None and ORG_SCOPE.fullmatch(s):
                org = s  # the first one: a token speaks for one org
                allowed.append(s)
        return " ".join(allowed)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.row.redirect_uris  # exact string comparison (RFC 9700 §4.1.3)

    def check_client_secret(self, client_secret):
        if self.row.public or not self.row.secret_hash or not client_secret:
            return False
        return any(hmac.compare_digest(h, self.row.secret_hash) for h in _secret_hashes(client_secret))

    def check_endpoint_auth_method(self, method, endpoint):
        if self.row.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code" and "authorization_code" in self.row.grant_types

    def check_grant_type(self, grant_type):
        return grant_type in self.row.grant_types


@dataclass
class EndUser:
    """The signed-in user of an authorization request: who, in which browser session, since when."""

    id: uuid.UUID
    browser_session_id: uuid.UUID
    auth_time: datetime

    def get_user_id(self):
        return self.id


class Code:
    """Authlib's view of an authorization code (its AuthorizationCodeMixin)."""

    def __init__(self, row: AuthorizationCode):
        self.row = row

    def get_redirect_uri(self):
        return self.row.redirect_uri

    def get_scope(self):
        return self.row.scope

    def get_nonce(self):
        return self.row.nonce or None

    def get_auth_time(self):
        return int(self.row.auth_time.timestamp())

    def get_acr(self):
        return None

    def get_amr(self):
        return None


class RefreshCredential:
    """Authlib's view of a refresh token; the rotation itself is services.refresh's."""

    def __init__(self, session: Session, presented: str):
        self.session = session
        self.presented = presented

    def check_client(self, client):
        return self.session.client_id == client.client_id

    def get_scope(self):
        return self.session.scope

    def is_expired(self):
        return False

    def is_revoked(self):
        return False


# --- token issuing ---------------------------------------------------------------------------


def _client_info(request: OAuth2Request) -> ClientInfo:
    return ClientInfo(ip=getattr(request, "client_ip", "") or "", user_agent=request.headers.get("User-Agent", ""))


def _permissions_claim(client: OidcClient, user_id) -> dict:
    if not client.permissions_scope:
        return {}
    from permissions.interface import permission_service

    return {
        "permissions": sorted(permission_service.effective_permissions(user_id=user_id, scope=client.permissions_scope))
    }


def _grant_tokens(*, client: OidcClient, user: EndUser, scope: str, request: OAuth2Request) -> tuple[dict, uuid.UUID]:
    """Open the grant's session under the browser session and issue its tokens."""
    info = _client_info(request)
    with_refresh = "offline_access" in scope.split() and "refresh_token" in client.grant_types
    with transaction.atomic(durable=True):
        first = not Session.objects.filter(user_id=user.id, client_id=client.client_id, kind="oidc").exists()
        session = session_open(
            user_id=user.id,
            ip=info.ip,
            user_agent=info.user_agent,
            kind="oidc",
            client_id=client.client_id,
            scope=scope,
            parent_id=user.browser_session_id,
            auth_time=user.auth_time,
        )
        token = {"token_type": "Bearer", "expires_in": settings.GATEHOUSE_ACCESS_TOKEN_TTL, "scope": scope}
        token["access_token"], _ = access_token_issue(
            user_id=user.id,
            session_id=session.id,
            client_id=client.client_id,
            scope=scope,
            extra=_permissions_claim(client, user.id),
        )
        if with_refresh:
            refresh = new_token()
            RefreshToken.objects.create(session=session, token_hash=token_hash(refresh))
            token["refresh_token"] = refresh
        outbox_record(
            type=CLIENT_AUTHORIZED,
            producer=SERVICE_NAME,
            payload={
                "user_id": str(user.id),
                "client_id": client.client_id,
                "client_name": client.name,
                "session_id": str(session.id),
                "scope": scope,
                "first": first,
            },
        )
    return token, session.id


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code, request):
        data = request.payload.data
        user: EndUser = request.user
        AuthorizationCode.objects.create(
            code_hash=token_hash(code),
            client_id=request.client.client_id,
            user_id=user.id,
            browser_session_id=user.browser_session_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.payload.scope or "",
            nonce=data.get("nonce") or "",
            code_challenge=data.get("code_challenge") or "",
            code_challenge_method=data.get("code_challenge_method") or "",
            auth_time=user.auth_time,
            expires_at=timezone.now() + CODE_TTL,
        )

    def query_authorization_code(self, code, client):
        """Spends the code at once (one UPDATE, so two concurrent exchanges cannot both win). A code
        presented again revokes the grant its first use opened."""
        hashed = token_hash(code or "")
        now = timezone.now()
        spent = AuthorizationCode.objects.filter(
            code_hash=hashed, client_id=client.client_id, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        row = AuthorizationCode.objects.filter(code_hash=hashed, client_id=client.client_id).first()
        if row is None:
            return None
        if not spent:
            if row.used_at is not None:
                with transaction.atomic(durable=True):
                    if row.issued_session_id is not None:
                        sessions_revoke(Session.objects.filter(id=row.issued_session_id), reason="code_reused")
                security_log.warning(
                    "authorization code used twice: its grant is revoked",
                    extra={"event": "auth.oidc_code_reused", "client_id": client.client_id},
                )
            return None
        if not session_is_alive(row.browser_session_id):
            return None  # signed out (or revoked) between the redirect and the exchange
        return Code(row)

    def delete_authorization_code(self, authorization_code):
        pass  # spent when queried

    def authenticate_user(self, authorization_code):
        row = authorization_code.row
        return EndUser(id=row.user_id, browser_session_id=row.browser_session_id, auth_time=row.auth_time)

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None, include_refresh_token=True):
        token, session_id = _grant_tokens(
            client=self.request.client.row, user=user, scope=scope or "", request=self.request
        )
        AuthorizationCode.objects.filter(pk=self.request.authorization_code.row.pk).update(issued_session_id=session_id)
        self.request.oidc_session_id = session_id
        return token


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only (`plain` refused), required for public clients (docs/oidc.md)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": CodeChallenge.CODE_CHALLENGE_METHODS["S256"]}

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        if grant.request.client.row.public and not data.get("code_challenge"):
            raise InvalidRequestError("A public client must send a PKCE 'code_challenge' (S256).")
        return super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code):
        return authorization_code.row.code_challenge or None

    def get_authorization_code_challenge_method(self, authorization_code):
        return authorization_code.row.code_challenge_method or None


def _half_hash(value: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()  # RS256's hash
    return urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def user_claims(*, user_id, scope: str) -> dict:
    scopes = scope.split()
    try:
        user = user_service.get_user(user_id=user_id)
    except UserNotFound:
        raise InvalidToken() from None
    claims = UserInfo(sub=str(user.id))
    if "profile" in scopes:
        claims["name"] = user.display_name
    if "email" in scopes:
        claims["email"] = user.email
        claims["email_verified"] = user.is_verified
    return dict(claims) | org_claims(user_id=user.id, scopes=scopes)


def org_claims(*, user_id, scopes: list[str]) -> dict:
    """`orgs` (scope `orgs`): the user's orgs, at most ORGS_CLAIM_MAX, the most recently joined
    first; `org_id`, `org_slug`, `org_role` (scope `org:<id>`): that org, only while the user is
    a member of it (absent otherwise). Read through the users interface now, at each issue (code
    exchange, refresh, userinfo), so a membership that ended is gone from the next token."""
    claims: dict = {}
    if "orgs" in scopes:
        page = org_service.list_orgs(user_id=uuid.UUID(str(user_id)), limit=ORGS_CLAIM_MAX)
        claims["orgs"] = [{"id": str(m.org.id), "slug": m.org.slug, "role": m.role} for m in page.results]
    requested = next((s for s in scopes if ORG_SCOPE.fullmatch(s)), None)
    if requested is not None:
        try:
            membership = org_service.get_membership(
                user_id=uuid.UUID(str(user_id)), org_id=uuid.UUID(requested.removeprefix("org:"))
            )
        except (OrgNotFound, MemberNotFound):
            membership = None
        if membership is not None:
            claims |= {"org_id": str(membership.org.id), "org_slug": membership.org.slug, "org_role": membership.role}
    return claims


def _wants_org_claims(scope: str) -> bool:
    return any(s == "orgs" or ORG_SCOPE.fullmatch(s) for s in scope.split())


def _sign_id_token(claims: dict) -> str:
    kid, private_key = keys.signing_key()
    return jwt.encode(claims, private_key, algorithm=keys.ALGORITHM, headers={"kid": kid, "typ": "JWT"})


class GatehouseOpenIDCode(OpenIDCode):
    def exists_nonce(self, nonce, request):
        return AuthorizationCode.objects.filter(client_id=request.payload.client_id, nonce=nonce).exists()

    def generate_user_info(self, user, scope):
        return user_claims(user_id=user.id, scope=scope)

    def encode_id_token(self, token, request):
        code: Code = request.authorization_code
        now = int(time.time())
        claims = {
            "iss": settings.GATEHOUSE_ISSUER,
            "sub": str(request.user.id),
            "aud": request.client.client_id,
            "iat": now,
            "exp": now + settings.GATEHOUSE_ACCESS_TOKEN_TTL,
            "auth_time": code.get_auth_time(),
            "sid": str(request.oidc_session_id),
        }
        if code.get_nonce():
            claims["nonce"] = code.get_nonce()
        if token.get("access_token"):
            claims["at_hash"] = _half_hash(token["access_token"])
        claims.update(self.generate_user_info(request.user, token["scope"]))
        return _sign_id_token(claims)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """Rotation, reuse detection and idle timeout are docs/auth.md's, in services.refresh."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def authenticate_refresh_token(self, refresh_token):
        row = (
            RefreshToken.objects.filter(token_hash=token_hash(refresh_token or ""))
            .select_related("session")
            .only("session__client_id", "session__scope", "session__user_id")
            .first()
        )
        return None if row is None else RefreshCredential(row.session, refresh_token)

    def authenticate_user(self, refresh_token):
        return refresh_token.session.user_id

    def create_token_response(self):
        credential: RefreshCredential = self.request.refresh_token
        client = self.request.client
        try:
            pair = services.refresh(
                refresh_token=credential.presented, client=_client_info(self.request), oidc_client_id=client.client_id
            )
        except InvalidToken:
            raise InvalidGrantError() from None
        token = {
            "token_type": "Bearer",
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_in": pair.expires_in,
            "scope": credential.session.scope,
        }
        scope = credential.session.scope.split()
        if "openid" in scope and _wants_org_claims(credential.session.scope):
            # With org claims asked for, each refresh answers a fresh ID token (OIDC Core §12.2),
            # so a membership that ended since is gone from it. Without them, nothing changes.
            session = Session.objects.only("id", "user_id", "auth_time").get(id=credential.session.id)
            now = int(time.time())
            claims = {
                "iss": settings.GATEHOUSE_ISSUER,
                "sub": str(session.user_id),
                "aud": client.client_id,
                "iat": now,
                "exp": now + settings.GATEHOUSE_ACCESS_TOKEN_TTL,
                "auth_time": int(session.auth_time.timestamp()) if session.auth_time else now,
                "sid": str(session.id),
                "at_hash": _half_hash(pair.access_token),
            }
            token["id_token"] = _sign_id_token(claims | user_claims(user_id=session.user_id, scope=" ".join(scope)))
        return 200, token, self.TOKEN_RESPONSE_HEADER


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def create_token_response(self):
        client = self.request.client
        scope = client.get_allowed_scope(self.request.payload.scope)
        # RFC 9068 §2.2: with no resource owner, `sub` is the client.
        access, _ = access_token_issue(
            user_id=client.client_id, session_id=None, client_id=client.client_id, scope=scope
        )
        token = {
            "token_type": "Bearer",
            "access_token": access,
            "expires_in": settings.GATEHOUSE_ACCESS_TOKEN_TTL,
            "scope": scope,
        }
        return 200, token, self.TOKEN_RESPONSE_HEADER


@dataclass
class IssuedToken:
    """A token presented to the revocation or introspection endpoint: an access token (its verified
    claims) or a refresh token (its row), and the grant's session (None for client credentials)."""

    kind: str
    client_id: str
    session: Session | None
    claims: dict | None = None

    def check_client(self, client):
        return self.client_id == client.client_id

    def is_expired(self):
        return False  # decoded tokens are unexpired; sessions are checked in is_revoked

    def is_revoked(self):
        if self.session is None:
            return not OidcClient.objects.filter(client_id=self.client_id, is_active=True).exists()
        return not session_is_alive(self.session.id)


def _find_token(token_string: str) -> IssuedToken | None:
    row = (
        RefreshToken.objects.filter(token_hash=token_hash(token_string or ""), used_at__isnull=True)
        .select_related("session")
        .first()
    )
    if row is not None and row.session.client_id:
        return IssuedToken(kind="refresh_token", client_id=row.session.client_id, session=row.session)
    try:
        claims = client_access_token_decode(token_string)
    except InvalidToken:
        return None
    session = None
    if claims.get("sid"):
        session = Session.objects.filter(id=claims["sid"]).first()
        if session is None:
            return None
    return IssuedToken(kind="access_token", client_id=claims["client_id"], session=session, claims=claims)


def grant_revoke(*, session: Session, reason: str) -> None:
    """End a client's grant (its session, so every token of it) and say so."""
    with transaction.atomic(durable=True):
        revoked = sessions_revoke(Session.objects.filter(id=session.id), reason=reason)
        if revoked:
            outbox_record(
                type=GRANT_REVOKED,
                producer=SERVICE_NAME,
                payload={
                    "user_id": str(session.user_id),
                    "client_id": session.client_id,
                    "session_id": str(session.id),
                    "reason": reason,
                },
            )


class RevocationEndpoint(rfc7009.RevocationEndpoint):
    """RFC 7009. Revoking either token of a grant ends the grant (its session): a client that
    signs its user out wants every token gone. A client may revoke only its own tokens."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string, token_type_hint):
        return _find_token(token_string)

    def authenticate_token(self, request, client):
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        # RFC 7009 §2.2: a token of another client is not revoked, and the answer is the same 200.
        return token if token is not None and token.check_client(client) else None

    def revoke_token(self, token, request):
        if token.session is not None:
            grant_revoke(session=token.session, reason="client_revoked")


class IntrospectionEndpoint(rfc7662.IntrospectionEndpoint):
    """RFC 7662, for confidential clients, about the tokens issued to them."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string, token_type_hint):
        return _find_token(token_string)

    def check_permission(self, token, client, request):
        return token.check_client(client)

    def introspect_token(self, token):
        payload = {
            "active": True,
            "client_id": token.client_id,
            "token_type": token.kind,
            "iss": settings.GATEHOUSE_ISSUER,
        }
        if token.claims is not None:
            for claim in ("sub", "scope", "exp", "iat", "aud", "jti", "sid"):
                if claim in token.claims:
                    payload[claim] = token.claims[claim]
        elif token.session is not None:
            payload |= {"sub": str(token.session.user_id), "scope": token.session.scope, "sid": str(token.session.id)}
            payload["exp"] = int(token.session.expires_at.timestamp())
        return payload


class EndSessionEndpoint(rpinitiated.EndSessionEndpoint):
    def get_server_jwks(self):
        return keys.jwks()

    def get_algorithms(self):
        return [keys.ALGORITHM]

    def end_session(self, end_session_request):
        pass  # done by end_session() below, once the user has confirmed (or the hint proved the RP)


class _Payload(BasicOAuth2Payload):
    pass


class _Request(OAuth2Request):
    def __init__(self, req: OAuthRequest):
        super().__init__(req.method, req.uri, headers=dict(req.headers))
        data, datalist = {}, {}
        for key, value in req.params:
            data.setdefault(key, value)
            datalist.setdefault(key, []).append(value)
        self.payload = _Payload(data)
        self.payload._datalist = datalist
        self._params = data
        self.client_ip = req.client_ip

    @property
    def args(self):
        return self._params

    @property
    def form(self):
        return self._params


class Server(AuthorizationServer):
    def __init__(self):
        super().__init__(scopes_supported=list(SCOPES))
        self.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True), GatehouseOpenIDCode()])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_endpoint(RevocationEndpoint)
        self.register_endpoint(IntrospectionEndpoint)
        self.register_endpoint(EndSessionEndpoint)

    def validate_requested_scope(self, scope):
        """The scopes of SCOPES and at most one `org:<id>` (a canonical UUID); anything else is
        `invalid_scope`, as an unknown scope always was."""
        from authlib.oauth2.rfc6749 import InvalidScopeError

        requested = set((scope or "").split())
        orgs = {s for s in requested if ORG_SCOPE.fullmatch(s)}
        if requested - orgs - set(SCOPES) or len(orgs) > 1:
            raise InvalidScopeError()

    def query_client(self, client_id):
        row = OidcClient.objects.filter(client_id=client_id or "", is_active=True).first()
        return None if row is None else Client(row)

    def save_token(self, token, request):
        pass  # stored as it was issued (_grant_tokens)

    def create_oauth2_request(self, request):
        return request if isinstance(request, OAuth2Request) else _Request(request)

    def create_json_request(self, request):
        raise NotImplementedError

    def handle_response(self, status, body, headers):
        import json

        if isinstance(body, dict):
            body = json.dumps(body)
        return OAuthResponse(status=status, headers=tuple(headers), body=body or "")

    def send_signal(self, name, *args, **kwargs):
        pass


_server: Server | None = None


def server() -> Server:
    global _server
    if _server is None:
        _server = Server()
    return _server


# --- the endpoints ------------------------------------------------------------------------------


def token(*, request: OAuthRequest) -> OAuthResponse:
    return server().create_token_response(request)


def revoke(*, request: OAuthRequest) -> OAuthResponse:
    return server().create_endpoint_response("revocation", _Request(request))


def introspect(*, request: OAuthRequest) -> OAuthResponse:
    return server().create_endpoint_response("introspection", _Request(request))


def end_session(
    *, request: OAuthRequest, browser_session_id: uuid.UUID | None, confirmed: bool
) -> EndSessionPage | OAuthResponse:
    """RP-initiated logout. With an `id_token_hint` we signed, for the signed-in user, the session
    ends at once; otherwise the user confirms first (a logout link anyone can send must not sign
    people out). Then back to the client's registered `post_logout_redirect_uri`, if it named one."""
    from authlib.oauth2 import OAuth2Error

    req = _Request(request)
    try:
        validated = server().validate_endpoint_request("end_session", req)
    except OAuth2Error as error:
        return EndSessionPage(page="error", error=error.error, error_description=error.description or "")
    session = None if browser_session_id is None else browser_session(session_id=browser_session_id)
    hint = validated.id_token_claims or {}
    proven = bool(hint) and session is not None and hint.get("sub") == str(session.user_id)
    client_name = validated.client.row.name if validated.client is not None else ""
    if session is not None and not (confirmed or proven):
        return EndSessionPage(page="confirm", client_name=client_name)
    if session is not None:
        with transaction.atomic(durable=True):
            sessions_revoke(Session.objects.filter(id=session.id), reason="logout")
    if validated.redirect_uri:
        return OAuthResponse(status=302, headers=(("Location", validated.redirect_uri),))
    return EndSessionPage(page="done", client_name=client_name)


def userinfo(*, access_token: str) -> dict:
    claims = client_access_token_decode(access_token)
    if "sid" not in claims or not session_is_alive(uuid.UUID(claims["sid"])):
        raise InvalidToken()
    if "openid" not in str(claims.get("scope", "")).split():
        raise InvalidToken()
    return user_claims(user_id=claims["sub"], scope=claims["scope"])


def browser_session_open(*, user_id: uuid.UUID, client: ClientInfo) -> Session:
    with transaction.atomic(durable=True):
        return session_open(user_id=user_id, ip=client.ip, user_agent=client.user_agent, kind="browser")


def browser_session(*, session_id: uuid.UUID) -> Session | None:
    if not session_is_alive(session_id):
        return None
    return Session.objects.filter(id=session_id, kind="browser").first()


def consent_covers(*, user_id: uuid.UUID, client: OidcClient, scope: str) -> bool:
    if client.first_party:
        return True
    row = OidcConsent.objects.filter(user_id=user_id, client=client).first()
    return row is not None and set(scope.split()) <= set(row.scope.split())


def consent_record(*, user_id: uuid.UUID, client: OidcClient, scope: str) -> None:
    row = OidcConsent.objects.filter(user_id=user_id, client=client).first()
    if row is None:
        OidcConsent.objects.create(user_id=user_id, client=client, scope=scope)
    else:
        OidcConsent.objects.filter(pk=row.pk).update(
            scope=" ".join(sorted(set(row.scope.split()) | set(scope.split())))
        )


# --- the authorization endpoint -----------------------------------------------------------------


def _redirect_error(grant, error: str, description: str) -> OAuthResponse:
    from authlib.common.urls import add_params_to_uri

    params = [("error", error), ("error_description", description)]
    if grant.request.payload.state:
        params.append(("state", grant.request.payload.state))
    params.append(("iss", settings.GATEHOUSE_ISSUER))  # RFC 9207 §2: on errors too
    uri = add_params_to_uri(grant.redirect_uri, params)
    return OAuthResponse(status=302, headers=(("Location", uri),), body="")


def authorize(
    *, request: OAuthRequest, browser_session_id: uuid.UUID | None, decision: str = "", fresh: bool = False
) -> AuthorizePage | OAuthResponse:
    from authlib.oauth2 import OAuth2Error

    srv = server()
    req = _Request(request)
    session = None if browser_session_id is None else browser_session(session_id=browser_session_id)
    end_user = None
    if session is not None:
        end_user = EndUser(id=session.user_id, browser_session_id=session.id, auth_time=session.auth_time)
    try:
        grant = srv.get_consent_grant(req, end_user)
        grant.redirect_uri = grant.validate_authorization_request()
    except OAuth2Error as error:
        if getattr(error, "redirect_uri", None):
            # The client and its redirect URI are known good: tell the client (with `state`).
            response = srv.handle_error_response(req, error)
            return _with_issuer(response)
        # An unknown client or redirect URI is never redirected to (RFC 6749 §4.1.2.1).
        return AuthorizePage(page="error", error=error.error, error_description=error.description or "")
    data = req.payload.data
    prompts = (data.get("prompt") or "").split()
    client = grant.client.row
    scope = grant.request.payload.scope or ""
    needs_login = end_user is None
    if end_user is not None and not fresh:
        if "login" in prompts:
            needs_login = True
        max_age = data.get("max_age")
        if max_age not in (None, ""):
            try:
                seconds = int(max_age)
            except ValueError:
                return _redirect_error(grant, "invalid_request", "'max_age' must be a number of seconds.")
            if (timezone.now() - end_user.auth_time).total_seconds() > seconds:
                needs_login = True
    if needs_login:
        if "none" in prompts:
            return _redirect_error(grant, "login_required", "The user is not signed in.")
        return AuthorizePage(
            page="login", client_name=client.name, scopes=tuple(scope.split()), login_hint=data.get("login_hint", "")
        )
    needs_consent = "consent" in prompts or not consent_covers(user_id=end_user.id, client=client, scope=scope)
    if needs_consent and decision not in ("allow", "deny"):
        if "none" in prompts:
            return _redirect_error(grant, "consent_required", "The user has not allowed this application.")
        return AuthorizePage(page="consent", client_name=client.name, scopes=tuple(scope.split()))
    if needs_consent and decision == "deny":
        return _redirect_error(grant, "access_denied", "The user did not allow this application.")
    if needs_consent:
        consent_record(user_id=end_user.id, client=client, scope=scope)
    # RFC 9207: `iss` in every authorization response (Authlib's extension expects a Flask response).
    return _with_issuer(srv.create_authorization_response(req, end_user, grant))


def _with_issuer(response: OAuthResponse) -> OAuthResponse:
    from authlib.common.urls import add_params_to_uri

    headers = []
    for name, value in response.headers:
        if name.lower() == "location" and "iss=" not in value:
            value = add_params_to_uri(value, [("iss", settings.GATEHOUSE_ISSUER)])
        headers.append((name, value))
    return OAuthResponse(status=response.status, headers=tuple(headers), body=response.body)


def sign_in(
    *, email: str, password: str, otp: str | None, client: ClientInfo, mfa_ticket: str = "", passkey=None
) -> Session:
    """The hosted sign-in page's check: the API's (services.authenticate), logged the same way.
    With TOTP on (or a passkey required), the password step answers MfaRequired (PasskeyRequired)
    with a ticket (signed, 5 minutes): the second step sends the ticket and the code or a passkey's
    assertion, so the page never carries the password twice. A passkey alone signs in passwordless."""
    from django.core import signing

    from project.kernel.errors import DomainError

    where = {"client_ip": client.ip, "account": services._account_ref(email), "channel": "oidc"}
    try:
        if mfa_ticket:
            try:
                ticket = signing.loads(mfa_ticket, salt=_MFA_TICKET_SALT, max_age=_MFA_TICKET_SECONDS)
            except signing.BadSignature:
                raise MfaRequired("The sign-in took too long. Enter your email and password again.") from None
            where["account"] = services._account_ref(ticket["email"])
            user = services.authenticate_second_factor(
                user_id=uuid.UUID(ticket["user_id"]),
                email=ticket["email"],
                otp=otp or "",
                client=client,
                passkey=passkey,
            )
        elif passkey is not None:
            user, _ = services.authenticate_passkey(credential=passkey)
            where = {"client_ip": client.ip, "channel": "oidc", "method": "passkey"}
        else:
            user = services.authenticate(email=email, password=password, otp=otp, client=client)
    except (MfaRequired, PasskeyRequired) as exc:
        # An account without a passkey yet is told how to register one; no second step here.
        if not mfa_ticket and not otp and "registration_options" not in exc.details:
            # The password was right (authenticate checks it before asking for the code).
            try:
                found = user_service.get_user_by_email(email=email)
            except UserNotFound:
                raise exc from None
            exc.details["mfa_ticket"] = signing.dumps(
                {"user_id": str(found.id), "email": found.email}, salt=_MFA_TICKET_SALT
            )
        if isinstance(exc, PasskeyRequired):
            security_log.warning(
                "login refused: %s", exc.code, extra={"event": "auth.login_failed", "reason": exc.code, **where}
            )
        raise
    except DomainError as exc:
        security_log.warning(
            "login refused: %s", exc.code, extra={"event": "auth.login_failed", "reason": exc.code, **where}
        )
        raise
    session = browser_session_open(user_id=user.id, client=client)
    security_log.info(
        "login succeeded", extra={"event": "auth.login_succeeded", "session_id": str(session.id), **where}
    )
    return session


_MFA_TICKET_SALT = "gatehouse.oidc.mfa-ticket"
_MFA_TICKET_SECONDS = 300


def discovery() -> dict:
    issuer = settings.GATEHOUSE_ISSUER.rstrip("/")
    return {
        "issuer": settings.GATEHOUSE_ISSUER,
        "authorization_endpoint": f"{issuer}/oauth2/authorize",
        "token_endpoint": f"{issuer}/oauth2/token",
        "userinfo_endpoint": f"{issuer}/oauth2/userinfo",
        "revocation_endpoint": f"{issuer}/oauth2/revoke",
        "introspection_endpoint": f"{issuer}/oauth2/introspect",
        "end_session_endpoint": f"{issuer}/oauth2/logout",
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [keys.ALGORITHM],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "sid",
            "at_hash",
            "name",
            "email",
            "email_verified",
            "orgs",
            "org_id",
            "org_slug",
            "org_role",
        ],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": True,
        "request_parameter_supported": False,
        "claims_parameter_supported": False,
    }
