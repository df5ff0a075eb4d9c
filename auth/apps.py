from django.apps import AppConfig
from django.conf import settings


class AuthConfig(AppConfig):
    name = "auth"
    # `auth` is django.contrib.auth's label; ours must differ.
    label = "gatehouse_auth"
    verbose_name = "Authentication"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from auth import handlers  # noqa: F401 - subscribes the auth consumer's handlers
        from auth.interface import SERVICE_NAME, AuthService
        from project.kernel.delegation import provide

        target = settings.GATEHOUSE_GRPC_TARGETS[SERVICE_NAME]
        if target:
            from auth.rpc.client import GrpcAuthService

            impl = GrpcAuthService(target=target)
        else:
            from auth.local import LocalAuthService

            impl = LocalAuthService()
        provide(SERVICE_NAME, impl, interface=AuthService)
