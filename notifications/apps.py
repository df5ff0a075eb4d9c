import logging

from django.apps import AppConfig

log = logging.getLogger(__name__)


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from notifications import handlers, tasks  # noqa: F401 - the consumer's handlers; the delivery tasks
        from notifications.core.delivery import deliveries_failed_by_channel
        from notifications.interface import SERVICE_NAME, NotificationService
        from permissions.interface import declare_permissions
        from project.metrics import register_gauge
        from project.rpc.delegation import provide_local_or_grpc

        register_gauge(
            "gatehouse_notification_deliveries_failed",
            "Deliveries that gave up after their last retry (or failed permanently), per channel.",
            deliveries_failed_by_channel,
            labels=["channel"],
        )

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
