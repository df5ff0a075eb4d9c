"""permissions.interface.PermissionService over gRPC: installed instead of LocalPermissionService
when PERMISSIONS_GRPC_TARGET is set. Made by project.rpc.codec from the Protocol and
permissions.proto. Every check is a round trip: the answers come from the server's engine and
cache, so a revoke that has returned there is never answered with the old grant here.
"""

from __future__ import annotations

from permissions.interface import InvalidRbacInput, PermissionService
from project.rpc.codec import remote_client
from protos.gatehouse.permissions.v1 import permissions_pb2, permissions_pb2_grpc

GrpcPermissionService = remote_client(
    PermissionService, permissions_pb2, permissions_pb2_grpc, "PermissionService", invalid=InvalidRbacInput
)
