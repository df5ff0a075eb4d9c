"""auth.interface.oidc.OidcProvider over gRPC, both sides made by project.rpc.codec from the
Protocol and protos/gatehouse/auth/v1/oidc.proto: no per-method code."""

from __future__ import annotations

import grpc

from auth.interface.oidc import OidcProvider
from project.rpc.codec import remote_client, servicer
from protos.gatehouse.auth.v1 import oidc_pb2, oidc_pb2_grpc

SERVICE = "OidcProvider"

GrpcOidcProvider = remote_client(OidcProvider, oidc_pb2, oidc_pb2_grpc, SERVICE)


def register(server: grpc.Server) -> str:
    """Serve the provider of this process (the local one: the auth tables are here)."""
    from auth.local import LocalOidcProvider

    oidc_pb2_grpc.add_OidcProviderServicer_to_server(
        servicer(OidcProvider, LocalOidcProvider(), oidc_pb2, oidc_pb2_grpc, SERVICE), server
    )
    return oidc_pb2.DESCRIPTOR.services_by_name[SERVICE].full_name
