"""The OpenID Connect provider of the auth core service (docs/oidc.md). Standard library only.

The protocol endpoints are carried across the service boundary as neutral HTTP-shaped values
(`OAuthRequest` in, `OAuthResponse` out): Authlib runs inside the auth core service, and the web
process only adapts Django's request and response, sets the browser's SSO cookie and renders the
hosted pages. `oidc_provider` is the configured implementation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from project.kernel.delegation import delegate
from project.kernel.errors import InvalidArgument, NotFound

from . import ClientInfo

SERVICE_NAME = "auth.oidc"

CLIENT_AUTHORIZED = "auth.client_authorized"
GRANT_REVOKED = "auth.grant_revoked"


@dataclass(frozen=True, slots=True)
class OAuthRequest:
    method: str
    uri: str  # absolute, as the issuer sees it
    headers: tuple[tuple[str, str], ...]
    params: tuple[tuple[str, str], ...]  # query then form parameters, repeats kept
    client_ip: str = ""


@dataclass(frozen=True, slots=True)
class OAuthResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: str = ""


@dataclass(frozen=True, slots=True)
class AuthorizePage:
    """The authorization endpoint needs the user: show `page` ("login", "consent" or "error")."""

    page: str
    client_name: str = ""
    scopes: tuple[str, ...] = ()
    login_hint: str = ""
    error: str = ""
    error_description: str = ""


@dataclass(frozen=True, slots=True)
class EndSessionPage:
    """RP-initiated logout needs a page: "confirm" (sign out?), "done" (signed out, nowhere to go
    back to) or "error"."""

    page: str
    client_name: str = ""
    error: str = ""
    error_description: str = ""


@dataclass(frozen=True, slots=True)
class BrowserSignIn:
    session_id: uuid.UUID
    user_id: uuid.UUID
    auth_time: datetime


@dataclass(frozen=True, slots=True)
class OidcClient:
    client_id: str
    name: str
    public: bool
    first_party: bool
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    permissions_scope: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewOidcClient:
    client: OidcClient
    client_secret: str | None = field(repr=False, default=None)  # shown once; None for public clients


class OidcClientNotFound(NotFound):
    code = "oidc_client_not_found"
    default_message = "OpenID Connect client not found."


class OidcClientInvalid(InvalidArgument):
    code = "validation_error"
    default_message = "The client registration is not valid."


class OidcProvider(Protocol):
    def discovery(self) -> dict[str, Any]:
        """The OpenID Provider metadata of `/.well-known/openid-configuration`."""
        ...

    def authorize(
        self, *, request: OAuthRequest, browser_session_id: uuid.UUID | None, decision: str = "", fresh: bool = False
    ) -> AuthorizePage | OAuthResponse:
        """Run the authorization endpoint for the browser session (None: not signed in). Answers the
        redirect to the client, or the page the user must see first. `decision` is the consent
        page's answer ("allow"/"deny"); `fresh` says the user has just signed in (so `prompt=login`
        and `max_age` are satisfied)."""
        ...

    def sign_in(
        self,
        *,
        email: str,
        password: str,
        otp: str | None,
        client: ClientInfo,
        mfa_ticket: str = "",
        passkey: dict[str, Any] | None = None,
    ) -> BrowserSignIn:
        """Check credentials as the API's sign-in does (lockout, TOTP, audit) and open a browser
        session. Raises the errors of AuthService.login; MfaRequired (and PasskeyRequired for an
        account that has a passkey) carries `details["mfa_ticket"]`: the second step sends it with
        the `otp` or a `passkey` assertion instead of the password. A `passkey` without a ticket is
        a passwordless sign-in (AuthService.login_with_passkey's checks)."""
        ...

    def browser_session(self, *, session_id: uuid.UUID) -> BrowserSignIn | None:
        """The browser session if it is alive, else None."""
        ...

    def sign_out(self, *, session_id: uuid.UUID) -> None:
        """End a browser session and every grant issued under it."""
        ...

    def token(self, *, request: OAuthRequest) -> OAuthResponse:
        """The token endpoint (authorization_code with PKCE, refresh_token, client_credentials)."""
        ...

    def revoke(self, *, request: OAuthRequest) -> OAuthResponse:
        """The revocation endpoint (RFC 7009): either token of a grant ends the grant."""
        ...

    def introspect(self, *, request: OAuthRequest) -> OAuthResponse:
        """The introspection endpoint (RFC 7662), for a confidential client about its own tokens."""
        ...

    def end_session(
        self, *, request: OAuthRequest, browser_session_id: uuid.UUID | None, confirmed: bool = False
    ) -> EndSessionPage | OAuthResponse:
        """RP-initiated logout: the page to show, or the redirect back to the client."""
        ...

    def userinfo(self, *, access_token: str) -> dict[str, Any]:
        """The claims the token's scopes allow. Raises InvalidToken."""
        ...

    def create_client(
        self,
        *,
        name: str,
        redirect_uris: list[str],
        public: bool = False,
        grant_types: list[str] | None = None,
        first_party: bool = False,
        post_logout_redirect_uris: list[str] | None = None,
        permissions_scope: str = "",
        created_by: uuid.UUID | None = None,
    ) -> NewOidcClient:
        """Register a client. Raises OidcClientInvalid."""
        ...

    def list_clients(self) -> list[OidcClient]:
        """Every registered client, by name."""
        ...

    def delete_client(self, *, client_id: str) -> None:
        """Remove a client and end every grant it holds. Raises OidcClientNotFound."""
        ...


oidc_provider: OidcProvider = delegate(SERVICE_NAME, OidcProvider)
