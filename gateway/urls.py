"""The route table: every public path prefix and the app service mounted on it (contract §1)."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import errors, health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path(".well-known/jwks.json", health.jwks, name="jwks"),
    path("admin/", admin.site.urls),
    # User Management app service (users + auth core services).
    path("api/v1/auth/", include("auth.api.urls")),
    path("api/v1/", include("users.api.urls")),  # api/v1/users, api/v1/users/...
    # RBAC app service (permissions core service).
    path("api/v1/rbac/", include("permissions.api.urls")),
    # Anything else under /api/ is a JSON 404, even with DEBUG.
    re_path(r"^api/", errors.api_not_found),
]
