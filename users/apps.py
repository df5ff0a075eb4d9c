from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "Users"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from project.rpc.delegation import provide_local_or_grpc
        from users.interface import SERVICE_NAME, UserService
        from users.interface.orgs import SERVICE_NAME as ORGS
        from users.interface.orgs import OrgService

        provide_local_or_grpc(
            SERVICE_NAME, UserService, local="users.local.LocalUserService", grpc="users.rpc.client.GrpcUserService"
        )
        # Organizations (docs/orgs.md) live with the users tables: in this process, or behind the
        # users service's gRPC target.
        provide_local_or_grpc(
            ORGS,
            OrgService,
            local="users.local.LocalOrgService",
            grpc="users.rpc.orgs.GrpcOrgService",
            served_by=SERVICE_NAME,
        )
