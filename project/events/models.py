import uuid

from django.db import models


class OutboxEvent(models.Model):
    """An event written in the same transaction as the change it describes (transactional outbox).

    It exists if and only if that transaction committed; the relay publishes it afterwards and
    stamps `published_at`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=100)
    producer = models.CharField(max_length=50)
    version = models.PositiveSmallIntegerField(default=1)
    occurred_at = models.DateTimeField()
    request_id = models.CharField(max_length=128, blank=True, default="")
    # The W3C trace context of the change's unit of work, when tracing is on (project.tracing).
    traceparent = models.CharField(max_length=64, blank=True, default="")
    payload = models.JSONField()
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    seq = models.BigIntegerField(default=0, help_text="Orders events of one transaction.")

    class Meta:
        ordering = ["occurred_at", "seq"]
        indexes = [
            models.Index(
                fields=["occurred_at"],
                name="events_outbox_pending_idx",
                condition=models.Q(published_at__isnull=True),
            )
        ]

    def __str__(self):
        return f"{self.type} {self.id}"


class InboxRecord(models.Model):
    """What a consumer has processed: written in the same transaction as the handler's effects,
    so a redelivered event is recognised and acted on once."""

    consumer = models.CharField(max_length=100)
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=100)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["consumer", "event_id"], name="events_inbox_once")]

    def __str__(self):
        return f"{self.consumer} {self.event_type} {self.event_id}"


class DeadLetter(models.Model):
    """An event a consumer gave up on after its retries; kept for inspection and replay."""

    consumer = models.CharField(max_length=100)
    event_id = models.UUIDField(null=True, blank=True, help_text="Empty when the message was not a valid envelope.")
    event_type = models.CharField(max_length=100, blank=True)
    envelope = models.JSONField()
    error = models.TextField()
    attempts = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    replayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.consumer} {self.event_type} {self.event_id}"
