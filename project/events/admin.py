from django.contrib import admin, messages

from project.service_admin import ReadOnlyAdmin

from .deadletters import replay_all
from .models import DeadLetter, InboxRecord, OutboxEvent


def redacted(value):
    """`value` with every sealed secret (a one-time token riding an event: keys starting with
    `sealed`) replaced: whoever reads events in the admin must not be handed a reset link."""
    if isinstance(value, dict):
        return {k: "(sealed)" if str(k).startswith("sealed") else redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


# Read-only: a deleted outbox row would never be published, a deleted inbox record processed again.
@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ["type", "id", "occurred_at", "published_at", "attempts", "request_id"]
    list_filter = ["type", ("published_at", admin.EmptyFieldListFilter)]
    search_fields = ["=id", "type", "=request_id"]
    date_hierarchy = "occurred_at"
    exclude = ["payload"]
    readonly_fields = ["shown_payload"]

    @admin.display(description="payload")
    def shown_payload(self, obj):
        return redacted(obj.payload)


@admin.register(InboxRecord)
class InboxRecordAdmin(ReadOnlyAdmin):
    list_display = ["consumer", "event_type", "event_id", "processed_at"]
    list_filter = ["consumer", "event_type"]
    search_fields = ["=event_id"]


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    list_display = ["consumer", "event_type", "event_id", "attempts", "created_at", "replayed_at"]
    list_filter = ["consumer", "event_type", ("replayed_at", admin.EmptyFieldListFilter)]
    search_fields = ["=event_id", "error"]
    actions = ["replay"]
    exclude = ["envelope"]
    readonly_fields = ["shown_envelope"]

    @admin.display(description="envelope")
    def shown_envelope(self, obj):
        return redacted(obj.envelope)

    def has_delete_permission(self, request, obj=None):  # discarding a dead letter is a decision
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    @admin.action(description="Replay to their consumer (after fixing the cause)", permissions=["replay"])
    def replay(self, request, queryset):
        replayed, problems = replay_all(queryset.filter(replayed_at__isnull=True).order_by("created_at"))
        self.message_user(request, f"Replayed {replayed} dead letter(s).", messages.SUCCESS)
        if problems:
            self.message_user(request, "Not replayed: " + "; ".join(problems), messages.ERROR)

    def has_replay_permission(self, request):
        return request.user.has_perm("events.change_deadletter")
