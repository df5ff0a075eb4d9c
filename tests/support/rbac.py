"""RBAC for tests: `is_superuser` grants nothing, the `admin` role does (docs/rbac.md).

Grants and memberships are refused for users that do not exist: tests give roles to real users,
made by `new_user()` (or `tests.support.factories.UserFactory`).
"""

from __future__ import annotations

import uuid

from permissions.interface import ADMIN_ROLE, Assignment, permission_service
from tests.support.factories import UserFactory
from users.interface import user_service


def new_user(*, email: str | None = None, active: bool = True) -> uuid.UUID:
    """The id of a new user (UserFactory's), deactivated through the users interface when `active`
    is False."""
    user = UserFactory(**({"email": email} if email else {}))
    if not active:
        user_service.deactivate_user(user_id=user.id)
    return user.id


def grant_role(user_id: uuid.UUID, role: str = ADMIN_ROLE, *, scope: str | None = None) -> Assignment:
    """Assign a role (by name) to a user, as the system (like `manage.py rbac grant`)."""
    role_id = permission_service.get_role_by_name(name=role).id
    return permission_service.grant_role(actor_id=None, role_id=role_id, user_id=user_id, scope=scope)
