"""Django's permission API answered by RBAC: `user.has_perm(...)`, `has_module_perms`, the admin.

In AUTHENTICATION_BACKENDS after the login backend; it authenticates nobody, it only answers
permission questions, through `permission_service` like every other caller:

- `user.has_perm("users.user.view")`: an RBAC code (`app.resource.action`), held globally;
- `user.has_perm("users.user.view", obj)`: held in the object's scope (`obj.rbac_scope`, see
  `permissions.interface.rbac_scope_of`; none means global). Assignments on that scope or any
  scope above it hold, as for every check;
- `user.has_perm("users.change_user")`: Django's own codenames (`<app_label>.<action>_<model>`,
  which the admin asks) map to RBAC codes through `DJANGO_PERMISSIONS` below. A codename not in
  the table is denied, except to a user who holds every declared permission (the `admin` role);
- `user.has_module_perms("users")`: the user holds some code the table maps that app's codenames to.

Inactive users hold nothing. `is_superuser` grants nothing: the `admin` role is the one source of
truth, so the API and the admin never disagree. Answers are cached on the user object, as Django's
ModelBackend does: a request's user sees the permissions it had when first asked; the next request
(a new user object) sees a revoke.
"""

from __future__ import annotations

import logging

from permissions.interface import InvalidScope, normalise_scope, permission_service, rbac_scope_of

log = logging.getLogger(__name__)

# Django codename (what the admin asks) -> RBAC code. Viewing needs the `.view` code where there is
# one, adding, changing and deleting the `.manage` one.
DJANGO_PERMISSIONS: dict[str, str] = {
    # users
    "users.view_user": "users.user.view",
    "users.add_user": "users.user.manage",
    "users.change_user": "users.user.manage",
    "users.delete_user": "users.user.manage",
    # organizations (docs/orgs.md): the admin's pages need the codes globally
    "users.view_organization": "orgs.org.view",
    "users.add_organization": "orgs.org.manage",
    "users.change_organization": "orgs.org.manage",
    "users.delete_organization": "orgs.org.delete",
    "users.view_invitation": "orgs.invitation.manage",
    "users.change_invitation": "orgs.invitation.manage",
    # permissions (RBAC)
    "permissions.view_permission": "rbac.role.view",
    "permissions.view_role": "rbac.role.view",
    "permissions.add_role": "rbac.role.manage",
    "permissions.change_role": "rbac.role.manage",
    "permissions.delete_role": "rbac.role.manage",
    "permissions.view_group": "rbac.group.manage",
    "permissions.add_group": "rbac.group.manage",
    "permissions.change_group": "rbac.group.manage",
    "permissions.delete_group": "rbac.group.manage",
    "permissions.view_assignment": "rbac.assignment.manage",
    "permissions.add_assignment": "rbac.assignment.manage",
    "permissions.change_assignment": "rbac.assignment.manage",
    "permissions.delete_assignment": "rbac.assignment.manage",
    "permissions.view_auditentry": "rbac.audit.view",
    # auth (app label gatehouse_auth)
    "gatehouse_auth.view_session": "auth.session.view",
    "gatehouse_auth.change_session": "auth.session.manage",
    "gatehouse_auth.delete_session": "auth.session.manage",
    "gatehouse_auth.view_signingkey": "auth.key.view",
    "gatehouse_auth.view_passkey": "auth.passkey.view",
    "gatehouse_auth.delete_passkey": "auth.passkey.manage",
    "gatehouse_auth.view_oidcclient": "oidc.client.manage",
    "gatehouse_auth.add_oidcclient": "oidc.client.manage",
    "gatehouse_auth.delete_oidcclient": "oidc.client.manage",
    # notifications
    "notifications.view_notification": "notifications.notification.view",
    "notifications.view_delivery": "notifications.notification.view",
    "notifications.view_inappmessage": "notifications.notification.view",
    "notifications.view_preference": "notifications.notification.view",
    "notifications.change_delivery": "notifications.delivery.manage",
    # scim (docs/scim.md): its tokens. Making one is left out on purpose: a global token changes
    # any user's email, the admin role's holders included, so only the admin role makes one.
    "scim.view_scimtoken": "scim.token.manage",
    "scim.change_scimtoken": "scim.token.manage",
    # events (project.events: the outbox, the inbox, dead letters)
    "events.view_outboxevent": "events.event.view",
    "events.view_inboxrecord": "events.event.view",
    "events.view_deadletter": "events.event.view",
    "events.change_deadletter": "events.deadletter.manage",
    "events.delete_deadletter": "events.deadletter.manage",
}

_CACHE = "_rbac_backend_cache"
_ALL = object()  # the cache key for "holds every declared permission"


def rbac_code(perm: str) -> str | None:
    """The RBAC code a permission name asks for: itself when it is one, the mapped code for a
    Django codename, None for an unmapped codename."""
    if perm.count(".") == 2:
        return perm
    return DJANGO_PERMISSIONS.get(perm)


class RbacBackend:
    def authenticate(self, request, **credentials):
        return None  # answers permission questions only; GatehouseBackend logs people in

    def _cache(self, user_obj) -> dict:
        cache = getattr(user_obj, _CACHE, None)
        if cache is None:
            cache = {}
            setattr(user_obj, _CACHE, cache)
        return cache

    def _held(self, user_obj, scope: str | None) -> frozenset[str]:
        cache = self._cache(user_obj)
        if scope not in cache:
            cache[scope] = permission_service.effective_permissions(user_id=user_obj.id, scope=scope)
        return cache[scope]

    def _holds_everything(self, user_obj) -> bool:
        cache = self._cache(user_obj)
        if _ALL not in cache:
            declared = {p.code for p in permission_service.list_permissions()}
            cache[_ALL] = bool(declared) and declared <= self._held(user_obj, None)
        return cache[_ALL]

    def _active(self, user_obj) -> bool:
        return bool(getattr(user_obj, "is_active", False)) and not getattr(user_obj, "is_anonymous", True)

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        if not self._active(user_obj):
            return False
        try:
            scope = normalise_scope(rbac_scope_of(obj)) if obj is not None else None
        except InvalidScope:
            log.warning("%r has an invalid rbac_scope; denying %s", type(obj).__name__, perm)
            return False
        code = rbac_code(perm)
        if code is None:
            return self._holds_everything(user_obj)
        return code in self._held(user_obj, scope)

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        if not self._active(user_obj):
            return False
        codes = {code for name, code in DJANGO_PERMISSIONS.items() if name.split(".", 1)[0] == app_label}
        if not codes:
            return self._holds_everything(user_obj)
        return bool(codes & self._held(user_obj, None))

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        """The RBAC codes the user holds (in the object's scope, given one)."""
        if not self._active(user_obj):
            return set()
        try:
            scope = normalise_scope(rbac_scope_of(obj)) if obj is not None else None
        except InvalidScope:
            return set()
        return set(self._held(user_obj, scope))
