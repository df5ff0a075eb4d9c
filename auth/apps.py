from django.apps import AppConfig


class AuthConfig(AppConfig):
    name = "auth"
    # `auth` is django.contrib.auth's label; ours must differ.
    label = "gatehouse_auth"
    verbose_name = "Authentication"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from auth import handlers  # noqa: F401 - subscribes the auth consumer's handlers
        from auth.interface import SERVICE_NAME, AuthService
        from auth.interface.oidc import SERVICE_NAME as OIDC
        from auth.interface.oidc import OidcProvider
        from permissions.interface import declare_permissions
        from project.rpc.delegation import provide_local_or_grpc

        # What the Django admin's sessions and signing keys ask (permissions.backends maps them).
        declare_permissions(
            "auth",
            {
                "auth.session.view": "See sessions (who is signed in, from where) in the admin.",
                "auth.session.manage": "Revoke sessions in the admin.",
                "auth.key.view": "See the token signing keys' metadata in the admin.",
            },
        )

        # docs/oidc.md names it under `oidc.`: the OpenID Provider of the auth service.
        declare_permissions(
            "oidc", {"oidc.client.manage": "Register, list and remove OpenID Connect clients (API, admin)."}
        )

        provide_local_or_grpc(
            SERVICE_NAME, AuthService, local="auth.local.LocalAuthService", grpc="auth.rpc.client.GrpcAuthService"
        )
        # The OpenID Provider runs where the auth core service's tables are (docs/oidc.md): in
        # this process, or behind the auth service's gRPC target.
        provide_local_or_grpc(
            OIDC,
            OidcProvider,
            local="auth.local.LocalOidcProvider",
            grpc="auth.rpc.oidc.GrpcOidcProvider",
            served_by=SERVICE_NAME,
        )
