from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "project.events"
    label = "events"
    verbose_name = "Events (outbox and inbox)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Every Django process loads the Celery app (its configuration, the consumer bootstep, the
        # request-id signals), so `shared_task`s bind to it even where nothing imported it before.
        from project import celery  # noqa: F401

        from .outbox import on_commit
        from .relay import publish_after_commit

        # The outbox records, the relay publishes: wired here so that the outbox imports no layer
        # above it. Its admin permissions are declared by the permissions service, which this
        # shared package does not import (permissions/core/registry.py).
        on_commit(publish_after_commit)

        from project.metrics import register_gauge

        from .deadletters import dead_letters_waiting
        from .relay import outbox_lag_seconds, outbox_pending

        register_gauge("gatehouse_outbox_pending_events", "Outbox events not yet published.", outbox_pending)
        register_gauge(
            "gatehouse_outbox_lag_seconds",
            "Age of the oldest outbox event not yet published (0 when none is).",
            outbox_lag_seconds,
        )
        register_gauge(
            "gatehouse_dead_letters_waiting", "Dead letters not yet replayed, every consumer.", dead_letters_waiting
        )
