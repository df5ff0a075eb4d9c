"""auth.interface.AuthService over gRPC: installed instead of LocalAuthService when
AUTH_GRPC_TARGET is set. Made by project.rpc.codec from the Protocol and auth.proto."""

from __future__ import annotations

from auth.interface import AuthService
from project.rpc.codec import remote_client
from protos.gatehouse.auth.v1 import auth_pb2, auth_pb2_grpc

GrpcAuthService = remote_client(AuthService, auth_pb2, auth_pb2_grpc, "AuthService")
