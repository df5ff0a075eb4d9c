import logging

from django.apps import AppConfig
from django.conf import settings

log = logging.getLogger(__name__)


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from notifications import handlers, tasks  # noqa: F401 - the consumer's handlers; the delivery tasks
        from notifications.interface import SERVICE_NAME, NotificationService
        from notifications.local import LocalNotificationService
        from permissions.interface import declare_permissions
        from project.kernel.delegation import provide

        # What the Django admin asks (permissions.backends maps its codenames to these).
        declare_permissions(
            "notifications",
            {
                "notifications.notification.view": "See notifications, deliveries, in-app messages and preferences in the admin.",
                "notifications.delivery.manage": "Retry failed deliveries from the admin.",
            },
        )

        target = settings.GATEHOUSE_GRPC_TARGETS[SERVICE_NAME]
        if target:
            # Callers in this process reach the service in another one (`grpcserve notifications`).
            from notifications.rpc.client import GrpcNotificationService

            impl = GrpcNotificationService(target=target)
        else:
            impl = LocalNotificationService()
        provide(SERVICE_NAME, impl, interface=NotificationService)
