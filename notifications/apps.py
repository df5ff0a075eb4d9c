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
        from project.kernel.delegation import provide

        if settings.GATEHOUSE_GRPC_TARGETS.get(SERVICE_NAME):
            # The gRPC server and client of this service come with a later issue; until then every
            # process runs it in-process, on the database it is configured with.
            log.warning("NOTIFICATIONS_GRPC_TARGET is set but not supported yet: notifications run in-process")
        provide(SERVICE_NAME, LocalNotificationService(), interface=NotificationService)
