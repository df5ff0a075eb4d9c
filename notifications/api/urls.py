from django.urls import path

from . import views

# Mounted at "api/v1/": `/api/v1/notifications` has no trailing slash (docs/api.md).

urlpatterns = [
    path("notifications", views.InboxApi.as_view(), name="notifications-inbox"),
    path("notifications/unread-count", views.UnreadCountApi.as_view(), name="notifications-unread-count"),
    path("notifications/read-all", views.ReadAllApi.as_view(), name="notifications-read-all"),
    path("notifications/<uuid:message_id>/read", views.ReadApi.as_view(), name="notifications-read"),
    path("notifications/preferences", views.PreferencesApi.as_view(), name="notifications-preferences"),
    path("notifications/send", views.SendApi.as_view(), name="notifications-send"),
    path(
        "notifications/deliveries/<uuid:notification_id>",
        views.DeliveriesApi.as_view(),
        name="notifications-deliveries",
    ),
]
