"""RBAC for tests: `is_superuser` grants nothing, the `admin` role does (docs/rbac.md)."""

from __future__ import annotations

import uuid

from permissions.interface import ADMIN_ROLE, Assignment, permission_service


def grant_role(user_id: uuid.UUID, role: str = ADMIN_ROLE, *, scope: str | None = None) -> Assignment:
    """Assign a role (by name) to a user, as the system (like `manage.py rbac grant`)."""
    role_id = permission_service.get_role_by_name(name=role).id
    return permission_service.grant(actor_id=None, role_id=role_id, user_id=user_id, scope=scope)
