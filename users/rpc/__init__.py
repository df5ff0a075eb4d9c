"""The users core service over gRPC (gatehouse.users.v1.UserService).

`servicer.register` serves LocalUserService (`manage.py grpcserve users`); `client.GrpcUserService`
is the implementation of users.interface.UserService that calls it, installed when
USERS_GRPC_TARGET is set. Both are made by project.rpc.codec from the Protocol and users.proto.
"""
