from django.urls import path

from . import views

# Mounted at "api/v1/": `/api/v1/users` has no trailing slash (docs/api.md).

urlpatterns = [
    # Account creation belongs to the users service; the API puts it under /auth/ (docs/auth.md).
    path("auth/register", views.RegisterApi.as_view(), name="auth-register"),
    path("users", views.UserListApi.as_view(), name="users-list"),
    path("users/me", views.MeApi.as_view(), name="users-me"),
    path("users/<uuid:user_id>", views.UserDetailApi.as_view(), name="users-detail"),
]
