from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "Users"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from project.rpc.delegation import provide_local_or_grpc
        from users.interface import SERVICE_NAME, UserService

        provide_local_or_grpc(
            SERVICE_NAME, UserService, local="users.local.LocalUserService", grpc="users.rpc.client.GrpcUserService"
        )
