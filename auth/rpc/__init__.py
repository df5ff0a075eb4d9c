"""The auth core service over gRPC (gatehouse.auth.v1.AuthService).

`servicer.register` serves LocalAuthService (`manage.py grpcserve auth`); `client.GrpcAuthService`
is the implementation of auth.interface.AuthService that calls it, installed when
AUTH_GRPC_TARGET is set. Both are made by project.rpc.codec from the Protocol and auth.proto;
`oidc` does the same for the OpenID Provider (gatehouse.auth.v1.OidcProvider).
"""
