"""users.interface.UserService over gRPC: installed instead of LocalUserService when
USERS_GRPC_TARGET is set. Made by project.rpc.codec from the Protocol and users.proto."""

from __future__ import annotations

from project.rpc.codec import remote_client
from protos.gatehouse.users.v1 import users_pb2, users_pb2_grpc
from users.interface import UserService

GrpcUserService = remote_client(UserService, users_pb2, users_pb2_grpc, "UserService")
