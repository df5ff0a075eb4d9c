"""Permission checks for the app services' endpoints, by permission code (`app.resource.action`).

Until the RBAC issue lands, a permission is held by superusers only; the codes are already the
contract's, so the views will not change when RBAC answers instead.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from users.interface import UserNotFound, user_service


def holds(user, permission: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    try:
        account = user_service.get(user_id=user.id)
    except UserNotFound:
        return False
    return account.is_active and account.is_superuser


class RequiresPermission(BasePermission):
    """`permission_classes = [RequiresPermission.of("users.user.view")]`."""

    permission: str = ""

    @classmethod
    def of(cls, permission: str) -> type[RequiresPermission]:
        return type(f"Requires_{permission.replace('.', '_')}", (cls,), {"permission": permission})

    def has_permission(self, request, view):
        return holds(request.user, self.permission)
