import uuid

from django.db import models
from django.utils import timezone

from notifications.interface import (
    CHANNEL_EMAIL,
    CHANNEL_IN_APP,
    CHANNEL_WEBHOOK,
    STATUS_FAILED,
    STATUS_PENDING,
    STATUS_SENT,
    STATUS_SKIPPED,
)


class Notification(models.Model):
    """One request to notify some users; its deliveries say how each recipient was reached.

    `context` is what the sender gave, checked against the type. A one-time token in it stays
    sealed (project.crypto.seal) here: it is unsealed only to render the message being sent.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64)
    context = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, unique=True)
    # A digest of the request, so reusing a key for a different notification is refused.
    request_hash = models.CharField(max_length=64)
    request_id = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    # Sent to an organization's members (or the holders of `org_role` among them): each delivery
    # checks, when attempted, that its recipient still is one (docs/notifications.md, Recipients).
    org_id = models.UUIDField(null=True, blank=True)
    org_role = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["type", "-created_at"], name="notif_type_created_idx")]

    def __str__(self):
        return f"{self.type} {self.id}"


class Delivery(models.Model):
    class Channel(models.TextChoices):
        IN_APP = CHANNEL_IN_APP, "In-app"
        EMAIL = CHANNEL_EMAIL, "Email"
        WEBHOOK = CHANNEL_WEBHOOK, "Webhook"

    class Status(models.TextChoices):
        PENDING = STATUS_PENDING, "Pending"
        SENT = STATUS_SENT, "Sent"
        FAILED = STATUS_FAILED, "Failed"
        SKIPPED = STATUS_SKIPPED, "Skipped"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    # A users row, possibly in another service's database: an id, not a foreign key.
    user_id = models.UUIDField()
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set by every write (queued, claimed, finished, retried): the sweeper's clock, and the claim's.
    updated_at = models.DateTimeField(default=timezone.now)
    # The attempt sending it now, with no transaction open (notifications.core.delivery): its
    # outcome is recorded only while this is still its id. A claim untouched for
    # NOTIFICATIONS_STALE_AFTER_SECONDS has expired and may be taken over.
    claim_id = models.UUIDField(null=True, blank=True, editable=False)
    # The task running that attempt: the same task, redelivered after its worker died, takes over.
    claimed_by = models.CharField(max_length=255, blank=True, default="", editable=False)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["created_at", "user_id", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["notification", "user_id", "channel"], name="notif_delivery_once")
        ]
        indexes = [
            models.Index(fields=["status", "updated_at"], name="notif_delivery_status_idx"),
            models.Index(fields=["user_id"], name="notif_delivery_user_idx"),
        ]

    def __str__(self):
        # `people`: the admin's labels of user ids (gateway/people_admin.py); alone, the id.
        return f"{self.channel} to {getattr(self, 'people', {}).get('user_id') or self.user_id}: {self.status}"


class InAppMessage(models.Model):
    """The in-app channel's store: a user's inbox."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.UUIDField()
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="in_app_messages")
    subject = models.CharField(max_length=255)
    body = models.TextField()
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["notification", "user_id"], name="notif_in_app_once")]
        indexes = [
            models.Index(fields=["user_id", "-created_at"], name="notif_in_app_inbox_idx"),
            models.Index(fields=["user_id", "read_at"], name="notif_in_app_unread_idx"),
        ]

    def __str__(self):
        return f"{self.subject} to {getattr(self, 'people', {}).get('user_id') or self.user_id}"


class Preference(models.Model):
    """A user's choice for one type on one channel; no row means on. Mandatory types ignore it."""

    user_id = models.UUIDField()
    type = models.CharField(max_length=64)
    channel = models.CharField(max_length=16, choices=Delivery.Channel.choices)
    enabled = models.BooleanField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["user_id", "type", "channel"]
        constraints = [models.UniqueConstraint(fields=["user_id", "type", "channel"], name="notif_preference_once")]

    def __str__(self):
        who = getattr(self, "people", {}).get("user_id") or self.user_id
        return f"{self.type}/{self.channel} for {who}: {'on' if self.enabled else 'off'}"
