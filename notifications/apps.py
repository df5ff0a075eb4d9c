import logging

from django.apps import AppConfig

log = logging.getLogger(__name__)


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from notifications import handlers, tasks  # noqa: F401 - the consumer's handlers; the delivery tasks
        from notifications.interface import SERVICE_NAME, NotificationService
        from permissions.interface import declare_permissions
        from project.rpc.delegation import provide_local_or_grpc

        # What the Django admin asks (permissions.backends maps its codenames to these).
        declare_permissions(
            "notifications",
            {
                "notifications.notification.view": "See notifications, deliveries, in-app messages and preferences in the admin.",
                "notifications.delivery.manage": "Retry failed deliveries from the admin.",
            },
        )

        provide_local_or_grpc(
            SERVICE_NAME,
            NotificationService,
            local="notifications.local.LocalNotificationService",
            grpc="notifications.rpc.client.GrpcNotificationService",
        )
