from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "project.events"
    label = "events"
    verbose_name = "Events (outbox and inbox)"
    default_auto_field = "django.db.models.BigAutoField"
