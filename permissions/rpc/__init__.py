"""The permissions core service over gRPC (gatehouse.permissions.v1.PermissionService).

`servicer.register` serves LocalPermissionService (`manage.py grpcserve permissions`);
`client.GrpcPermissionService` is the implementation of permissions.interface.PermissionService
that calls it, installed when PERMISSIONS_GRPC_TARGET is set. `mapping` converts between the
interface's data objects and protobuf.
"""
