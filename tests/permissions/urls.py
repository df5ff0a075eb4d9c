"""The gateway's routes with the RBAC app service mounted where the lead will mount it."""

from django.urls import include, path

from gateway.urls import urlpatterns as gateway_urlpatterns

urlpatterns = [path("api/v1/rbac/", include("permissions.api.urls")), *gateway_urlpatterns]
