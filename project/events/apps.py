from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "project.events"
    label = "events"
    verbose_name = "Events (outbox and inbox)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from permissions.interface import declare_permissions

        # Every Django process loads the Celery app (its configuration, the consumer bootstep, the
        # request-id signals), so `shared_task`s bind to it even where nothing imported it before.
        from project import celery  # noqa: F401

        # What the Django admin asks (permissions.backends maps its codenames to these).
        declare_permissions(
            "events",
            {
                "events.event.view": "See the outbox, the inbox and dead letters in the admin.",
                "events.deadletter.manage": "Replay and discard dead letters from the admin.",
            },
        )
