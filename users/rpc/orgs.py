"""users.interface.orgs.OrgService over gRPC, both sides made by project.rpc.codec from the
Protocol and protos/gatehouse/users/v1/orgs.proto: no per-method code."""

from __future__ import annotations

import grpc

from project.rpc.codec import remote_client, servicer
from protos.gatehouse.users.v1 import orgs_pb2, orgs_pb2_grpc
from users.interface.orgs import OrgService

SERVICE = "OrgService"

GrpcOrgService = remote_client(OrgService, orgs_pb2, orgs_pb2_grpc, SERVICE)


def register(server: grpc.Server) -> str:
    """Serve the organizations of this process (the local implementation: the tables are here)."""
    from users.local import LocalOrgService

    orgs_pb2_grpc.add_OrgServiceServicer_to_server(
        servicer(OrgService, LocalOrgService(), orgs_pb2, orgs_pb2_grpc, SERVICE), server
    )
    return orgs_pb2.DESCRIPTOR.services_by_name[SERVICE].full_name
