from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def webauthn_configuration(app_configs, **kwargs):
    """Refuse a relying-party configuration every browser would refuse (docs/auth.md, "Passkeys").
    Derived from GATEHOUSE_FRONTEND_URL alone (neither setting given), it is a warning: a deployment
    that offers no passkeys need not set them."""
    from auth.core.passkeys import config_problems

    rp_id, origins = settings.GATEHOUSE_WEBAUTHN_RP_ID, settings.GATEHOUSE_WEBAUTHN_ORIGINS
    frontend = settings.GATEHOUSE_FRONTEND_URL
    derived = rp_id == urlsplit(frontend).hostname and origins == [frontend.rstrip("/")]
    level, code = (checks.Warning, "gatehouse.W019") if derived else (checks.Error, "gatehouse.E019")
    return [level(problem, id=code) for problem in config_problems(rp_id=rp_id, origins=origins)]


@checks.register(checks.Tags.security, deploy=True)
def phishing_resistant_mfa_policy(app_configs, **kwargs):
    """Whose accounts must sign in with a passkey (docs/auth.md, "Requiring a passkey"): nobody's is
    a warning for a deployment; a permission code nobody declared (a typo) would protect nobody."""
    from permissions.interface import declared_permissions

    names = settings.GATEHOUSE_PHISHING_RESISTANT_MFA_FOR
    if not names:
        return [
            checks.Warning(
                "GATEHOUSE_PHISHING_RESISTANT_MFA_FOR is empty: administrators may sign in with a password "
                "(and a code), both of which can be phished.",
                hint="Set it to admin (and any role or permission whose holders must use a passkey).",
                id="gatehouse.W020",
            )
        ]
    declared = declared_permissions()
    return [
        checks.Error(f"GATEHOUSE_PHISHING_RESISTANT_MFA_FOR: {name!r} is no declared permission.", id="gatehouse.E020")
        for name in names
        if "." in name and name not in declared
    ]


class AuthConfig(AppConfig):
    name = "auth"
    # `auth` is django.contrib.auth's label; ours must differ.
    label = "gatehouse_auth"
    verbose_name = "Authentication"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from auth import handlers  # noqa: F401 - subscribes the auth consumer's handlers
        from auth.core.throttle import login_failures_recent
        from project.metrics import register_gauge

        register_gauge(
            "gatehouse_login_failures_recent",
            "Failed sign-in attempts in the last 15 minutes (the lockout window), every account.",
            login_failures_recent,
        )
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
                "auth.passkey.view": "See users' passkeys (name, created, last used, flagged) in the admin.",
                "auth.passkey.manage": "Remove users' passkeys in the admin.",
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
