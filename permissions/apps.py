import logging

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate

log = logging.getLogger(__name__)


def _sync_registry(sender, using="default", **kwargs):
    from permissions.core.services import permission_registry_sync

    if using == "default":
        permission_registry_sync()


class PermissionsConfig(AppConfig):
    name = "permissions"
    verbose_name = "Permissions (RBAC)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from permissions import handlers  # noqa: F401 - the consumer's handlers
        from permissions.core.registry import declare_contract_permissions
        from permissions.interface import SERVICE_NAME, PermissionService
        from permissions.local import LocalPermissionService
        from project.kernel.delegation import provide

        declare_contract_permissions()
        # After every app's migrations (sender=self runs once per migrate, after all of them).
        post_migrate.connect(_sync_registry, sender=self, dispatch_uid="permissions.sync_registry")
        if settings.GATEHOUSE_GRPC_TARGETS.get(SERVICE_NAME):
            # The gRPC server and client of this service come with a later step; until then every
            # process runs it in-process, on the database it is configured with.
            log.warning("PERMISSIONS_GRPC_TARGET is set but not supported yet: permissions run in-process")
        provide(SERVICE_NAME, LocalPermissionService(), interface=PermissionService)
