from django.urls import path

from . import views

# Mounted at "api/v1/": the contract writes `/api/v1/users` without a trailing slash.

urlpatterns = [
    # Account creation belongs to the users service; the contract puts it under /auth/.
    path("auth/register", views.RegisterApi.as_view(), name="auth-register"),
    path("users", views.UserListApi.as_view(), name="users-list"),
    path("users/me", views.MeApi.as_view(), name="users-me"),
    path("users/<uuid:user_id>", views.UserDetailApi.as_view(), name="users-detail"),
]
