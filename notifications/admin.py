from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path

from gateway.people_admin import PeopleAdmin, PeopleInline, person
from notifications.core.delivery import deliveries_retry
from notifications.core.types import TYPES, list_types
from notifications.models import Delivery, InAppMessage, Notification, Preference
from project.service_admin import ReadOnlyAdmin, ReadOnlyInline


class DeliveryInline(PeopleInline, ReadOnlyInline):
    model = Delivery
    people_fields = ("user_id",)
    user = person("user_id", "user")
    fields = ["user", "channel", "status", "attempts", "last_error", "sent_at", "updated_at"]
    show_change_link = True


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["type", "id", "created_at", "idempotency_key", "request_id"]
    list_filter = ["type"]
    search_fields = ["=id", "=idempotency_key", "=request_id"]
    date_hierarchy = "created_at"
    fields = ["id", "type", "shown_context", "idempotency_key", "request_id", "created_at"]
    readonly_fields = fields
    inlines = [DeliveryInline]

    def get_urls(self):
        types = path("types/", self.admin_site.admin_view(self.types_view), name="notifications_notification_types")
        return [types, *super().get_urls()]

    def types_view(self, request):
        """The notification types: declared in code (notifications.core.types), so read-only here."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Notification types",
            "types": list_types(),
        }
        return TemplateResponse(request, "admin/notifications/types.html", context)

    @admin.display(description="context")
    def shown_context(self, obj):
        # A sealed token is unreadable anyway; a placeholder says what it is without the noise.
        definition = TYPES.get(obj.type)
        sealed = {field.name for field in definition.fields if field.sealed} if definition else set()
        return {key: "(sealed)" if key in sealed else value for key, value in (obj.context or {}).items()}


@admin.register(Delivery)
class DeliveryAdmin(PeopleAdmin, ReadOnlyAdmin):
    list_display = ["notification_type", "user", "channel", "status", "attempts", "updated_at", "sent_at"]
    list_filter = ["status", "channel", "notification__type"]
    search_fields = ["=user_id", "=notification__id", "last_error"]  # and the user by email or name (PeopleAdmin)
    list_select_related = ["notification"]
    people_fields = ("user_id",)
    user = person("user_id", "user")
    readonly_fields = [
        "id",
        "notification",
        "user",
        "channel",
        "status",
        "attempts",
        "last_error",
        "sent_at",
        "created_at",
        "updated_at",
    ]
    actions = ["retry"]

    @admin.display(description="type", ordering="notification__type")
    def notification_type(self, obj):
        return obj.notification.type

    @admin.action(description="Retry (failed or stuck pending deliveries)", permissions=["retry"])
    def retry(self, request, queryset):
        count = deliveries_retry(delivery_ids=list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"Queued {count} delivery(ies) again.", messages.SUCCESS)

    def has_retry_permission(self, request):
        return request.user.has_perm("notifications.change_delivery")


@admin.register(InAppMessage)
class InAppMessageAdmin(PeopleAdmin, ReadOnlyAdmin):
    list_display = ["subject", "user", "created_at", "read_at"]
    list_filter = [("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["=user_id", "=notification__id", "subject"]
    people_fields = ("user_id",)
    user = person("user_id", "user")
    readonly_fields = ["id", "user", "notification", "subject", "body", "read_at", "created_at"]


@admin.register(Preference)
class PreferenceAdmin(PeopleAdmin, ReadOnlyAdmin):
    """Users set their own (PUT /api/v1/notifications/preferences); operators see them here.
    Only opt-outs and opt-ins that differ from the default are stored."""

    list_display = ["user", "type", "channel", "enabled", "updated_at"]
    list_filter = ["type", "channel", "enabled"]
    search_fields = ["=user_id"]
    people_fields = ("user_id",)
    user = person("user_id", "user")
    readonly_fields = ["user", "type", "channel", "enabled", "updated_at"]
