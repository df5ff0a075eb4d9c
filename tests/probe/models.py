from django.db import models


class Effect(models.Model):
    """One row per handler invocation that committed: duplicates would show as extra rows."""

    consumer = models.CharField(max_length=100)
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.consumer} {self.event_type} {self.event_id}"
