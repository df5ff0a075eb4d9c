from django.apps import AppConfig
from django.conf import settings


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "Users"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from project.kernel.delegation import provide
        from users.interface import SERVICE_NAME, UserService

        target = settings.GATEHOUSE_GRPC_TARGETS[SERVICE_NAME]
        if target:
            from users.rpc.client import GrpcUserService

            impl = GrpcUserService(target=target)
        else:
            from users.local import LocalUserService

            impl = LocalUserService()
        provide(SERVICE_NAME, impl, interface=UserService)
