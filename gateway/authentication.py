"""Edge authentication: `Authorization: Bearer <access JWT>` verified by the auth service
(signature, claims, algorithm allow-list and revoked session), for every app service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from auth.interface import InvalidToken, Principal, auth_service


@dataclass(frozen=True)
class AuthenticatedUser:
    """`request.user` for API calls: who the token speaks for, not a database row."""

    principal: Principal
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def id(self) -> uuid.UUID:
        return self.principal.user_id

    @property
    def pk(self) -> uuid.UUID:
        return self.principal.user_id

    @property
    def session_id(self) -> uuid.UUID:
        return self.principal.session_id


@dataclass(frozen=True, slots=True)
class EdgePrincipal:
    """What the edge learnt from the Authorization header; the DRF authentication reuses it."""

    principal: Principal | None  # when the token verified
    error: bool  # a bearer token was sent and did not verify


def verify_bearer(request) -> EdgePrincipal | None:
    """The one reading of `Authorization: Bearer <access JWT>`: None without a bearer header (no
    header, another scheme); an error for a malformed one or a token that does not verify."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    parts = header.split()
    if not parts or parts[0].lower() != "bearer":
        return None
    if len(parts) != 2:
        return EdgePrincipal(principal=None, error=True)
    try:
        return EdgePrincipal(principal=auth_service.verify_access_token(token=parts[1]), error=False)
    except InvalidToken:
        return EdgePrincipal(principal=None, error=True)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        try:
            edge = request._request.edge_principal  # the edge (gateway.edge.RateLimitMiddleware) read it
        except AttributeError:  # a path or method the edge does not limit: the same verification
            edge = verify_bearer(request._request)
        if edge is None:
            return None
        if edge.error:
            raise exceptions.AuthenticationFailed("The access token is invalid, expired or revoked.")
        return AuthenticatedUser(principal=edge.principal), None

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
