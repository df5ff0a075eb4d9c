"""The permissions core service over gRPC (gatehouse.permissions.v1.PermissionService).

`servicer.register` serves LocalPermissionService (`manage.py grpcserve permissions`);
`client.GrpcPermissionService` is the implementation of permissions.interface.PermissionService
that calls it, installed when PERMISSIONS_GRPC_TARGET is set. Both are made by project.rpc.codec
from the Protocol and permissions.proto.
"""
