from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_registry(sender, using="default", **kwargs):
    from django.db import router

    from permissions.core.services import permission_registry_sync
    from permissions.models import Role

    # Only where the RBAC tables live: with PERMISSIONS_DATABASE_URL (split mode) a migrate of
    # another database has none to fill.
    if using == router.db_for_write(Role):
        permission_registry_sync()


class PermissionsConfig(AppConfig):
    name = "permissions"
    verbose_name = "Permissions (RBAC)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from permissions import handlers  # noqa: F401 - the consumer's handlers
        from permissions.core.registry import declare_contract_permissions
        from permissions.interface import SERVICE_NAME, PermissionService
        from project.rpc.delegation import provide_local_or_grpc

        declare_contract_permissions()
        # After every app's migrations (sender=self runs once per migrate, after all of them).
        post_migrate.connect(_sync_registry, sender=self, dispatch_uid="permissions.sync_registry")
        provide_local_or_grpc(
            SERVICE_NAME,
            PermissionService,
            local="permissions.local.LocalPermissionService",
            grpc="permissions.rpc.client.GrpcPermissionService",
        )
