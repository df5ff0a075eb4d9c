"""gatehouse.permissions.v1.PermissionService, served by the in-process implementation (made by
project.rpc.codec). Errors are raised as they are; the interceptor chain
(project.rpc.interceptors) turns them into statuses."""

from __future__ import annotations

import grpc

from permissions.interface import InvalidRbacInput, PermissionService
from permissions.local import LocalPermissionService
from project.rpc.codec import servicer
from protos.gatehouse.permissions.v1 import permissions_pb2, permissions_pb2_grpc


def register(server: grpc.Server) -> str:
    """Add the permissions servicer to `server` (project.rpc.server.SERVICERS); the gRPC service's
    name. The local implementation, never permissions.interface.permission_service: a server whose
    own PERMISSIONS_GRPC_TARGET is set must not call itself."""
    permissions_pb2_grpc.add_PermissionServiceServicer_to_server(
        servicer(
            PermissionService,
            LocalPermissionService(),
            permissions_pb2,
            permissions_pb2_grpc,
            "PermissionService",
            invalid=InvalidRbacInput,
        ),
        server,
    )
    return permissions_pb2.DESCRIPTOR.services_by_name["PermissionService"].full_name
