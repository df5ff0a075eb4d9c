"""gatehouse.auth.v1.AuthService and gatehouse.auth.v1.OidcProvider, served by the in-process
implementations (made by project.rpc.codec). Errors are raised as they are; the interceptor chain
(project.rpc.interceptors) turns them into statuses."""

from __future__ import annotations

import grpc

from auth.interface import AuthService
from auth.local import LocalAuthService
from project.rpc.codec import servicer
from protos.gatehouse.auth.v1 import auth_pb2, auth_pb2_grpc


def register(server: grpc.Server) -> str:
    """Add the auth servicers to `server` (project.rpc.server.SERVICERS); the gRPC service's name.
    The local implementation, never auth.interface.auth_service: a server whose own
    AUTH_GRPC_TARGET is set must not call itself."""
    from .oidc import register as register_oidc

    auth_pb2_grpc.add_AuthServiceServicer_to_server(
        servicer(AuthService, LocalAuthService(), auth_pb2, auth_pb2_grpc, "AuthService"), server
    )
    register_oidc(server)  # the OpenID Provider lives with the auth tables (docs/oidc.md)
    return auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name
