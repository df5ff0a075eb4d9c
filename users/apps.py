from django.apps import AppConfig
from django.conf import settings


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "Users"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from project.kernel.delegation import provide_configured
        from users.interface import SERVICE_NAME, UserService

        provide_configured(
            SERVICE_NAME,
            interface=UserService,
            target=settings.GATEHOUSE_GRPC_TARGETS[SERVICE_NAME],
            local="users.local.LocalUserService",
            remote="users.rpc.client.GrpcUserService",
        )
