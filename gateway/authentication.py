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


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        edge = getattr(request._request, "edge_principal", None)
        if edge is not None:  # the edge (gateway.edge.RateLimitMiddleware) verified it already
            if edge.error:
                raise exceptions.AuthenticationFailed("The access token is invalid, expired or revoked.")
            return AuthenticatedUser(principal=edge.principal), None
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            token = header[1].decode("ascii")
            principal = auth_service.verify_access_token(token=token)
        except (UnicodeDecodeError, InvalidToken):
            raise exceptions.AuthenticationFailed("The access token is invalid, expired or revoked.") from None
        return AuthenticatedUser(principal=principal), token

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
