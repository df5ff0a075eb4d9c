from django.urls import path

from . import views

# Mounted at "api/v1/rbac/" (docs/rbac.md): no trailing slashes (docs/api.md).

urlpatterns = [
    # First: the hottest route (each pattern before it costs a failed match).
    path("check", views.CheckApi.as_view(), name="rbac-check"),
    path("permissions", views.PermissionListApi.as_view(), name="rbac-permissions"),
    path("roles", views.RoleListApi.as_view(), name="rbac-roles"),
    path("roles/<uuid:role_id>", views.RoleDetailApi.as_view(), name="rbac-role"),
    path("groups", views.GroupListApi.as_view(), name="rbac-groups"),
    path("groups/<uuid:group_id>/members", views.GroupMembersApi.as_view(), name="rbac-group-members"),
    path("assignments", views.AssignmentListApi.as_view(), name="rbac-assignments"),
    path("assignments/<uuid:assignment_id>", views.AssignmentDetailApi.as_view(), name="rbac-assignment"),
    path("explain", views.ExplainApi.as_view(), name="rbac-explain"),
    path("users/<uuid:user_id>/permissions", views.UserPermissionsApi.as_view(), name="rbac-user-permissions"),
    path("audit", views.AuditListApi.as_view(), name="rbac-audit"),
]
