"""Permission checks for the app services' endpoints and plain Django views: RBAC answers.

DRF views name the permission their caller must hold (`app.resource.action`), optionally where:

    permission_classes = [RequiresPermission("rbac.audit.view")]
    permission_classes = [RequiresPermission({"GET": "users.user.view", "*": "users.user.manage"})]
    permission_classes = [RequiresPermission("docs.page.read", scope=lambda request, view: f"org:{view.kwargs['org']}")]

Plain Django views use the decorator:

    @permission_required("docs.page.read", scope=lambda request, view: request.GET.get("scope"))
    def export(request): ...

`scope` is None (global), a scope string (`org:acme/project:42`), or a callable `(request, view)
-> str | None`; for a plain view, `view.args` and `view.kwargs` are the URL's arguments. A scope
that is not valid answers 400 (`validation_error`, `details.scope`). Object-level checks
(`has_object_permission`, which DRF calls from `check_object_permissions`, as generic views'
`get_object` does) ask in the object's scope too: `permissions.interface.rbac_scope_of(obj)`, i.e.
`obj.rbac_scope`. With `scope=OBJECT` only the object's scope counts: the view-level check then
asks for authentication only, so such a view must check every object it touches.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from auth.interface import InvalidToken, auth_service
from gateway.errors import error_body
from permissions.interface import (
    PERMISSION_CODE,
    EscalationDenied,
    InvalidScope,
    all_assignments,
    normalise_scope,
    permission_service,
    rbac_scope_of,
)

Scope = str | Callable[[Any, Any], str | None] | None


class _ObjectScope:
    """`RequiresPermission(code, scope=OBJECT)`: checked in each object's scope, not the view's."""

    def __repr__(self) -> str:
        return "OBJECT"


OBJECT: Any = _ObjectScope()


def _codes(code: str | Mapping[str, str]) -> dict[str, str]:
    codes = {"*": code} if isinstance(code, str) else {method.upper(): c for method, c in code.items()}
    if "*" not in codes:
        raise ValueError("a permission by method needs a '*' entry for the methods it does not name")
    # A malformed code fails when the view's module is imported, not when a request comes.
    bad = sorted(c for c in codes.values() if not PERMISSION_CODE.fullmatch(c))
    if bad:
        raise ValueError(f"permission codes are app.resource.action: {bad}")
    return codes


def _resolve(scope: Scope, request, view) -> str | None:
    """The scope asked about, normalised. Raises InvalidScope (400 under /api/)."""
    value = scope(request, view) if callable(scope) else scope
    return normalise_scope(value)


def _denied(code: str, scope: str | None) -> str:
    return f"This needs the permission {code}" + (f" in {scope}." if scope else ".")


class RequiresPermission(BasePermission):
    """The caller holds `code` (or, given a mapping, the code for the request's method: HEAD as
    GET, anything unnamed as `'*'`) in `scope`; and, for an object, in the object's scope.

    An instance goes straight into `permission_classes`: DRF instantiates each entry, and calling
    an instance returns it. Anonymous callers get 401, callers without the permission 403
    `permission_denied`.
    """

    def __init__(self, code: str | Mapping[str, str], scope: Scope = None):
        self.codes = _codes(code)
        if scope is not None and scope is not OBJECT and not isinstance(scope, str) and not callable(scope):
            raise TypeError("scope is None, a scope string, a callable (request, view) or OBJECT")
        self.scope = scope

    def __call__(self) -> RequiresPermission:
        return self

    def __repr__(self) -> str:
        return f"RequiresPermission({self.codes!r}, scope={self.scope!r})"

    def code_for(self, method: str) -> str:
        method = method.upper()
        if method not in self.codes and method == "HEAD":
            method = "GET"
        return self.codes.get(method, self.codes["*"])

    def _check(self, request, code: str, scope: str | None) -> bool:
        if not permission_service.check(user_id=request.user.id, permission=code, scope=scope):
            # Raised rather than returned so the message names what is missing; the instance is
            # shared by every request, so it cannot carry a per-request `message`.
            raise exceptions.PermissionDenied(_denied(code, scope))
        return True

    def has_permission(self, request, view) -> bool:
        if not getattr(request.user, "is_authenticated", False):
            return False  # DRF answers 401 for an unauthenticated caller
        if self.scope is OBJECT:
            return True  # has_object_permission decides, object by object
        return self._check(request, self.code_for(request.method), _resolve(self.scope, request, view))

    def has_object_permission(self, request, view, obj) -> bool:
        if not getattr(request.user, "is_authenticated", False):
            return False
        return self._check(request, self.code_for(request.method), normalise_scope(rbac_scope_of(obj)))


# --- Plain Django views ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlainView:
    """What a scope callable gets as `view` for a plain view: the view and its URL arguments."""

    func: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def _caller(request: HttpRequest) -> uuid.UUID | None:
    """The signed-in user (session) or the bearer of a valid access token; None for anyone else."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user.id
    header = request.headers.get("Authorization", "").split()
    if len(header) == 2 and header[0].lower() == "bearer":
        try:
            return auth_service.verify_access_token(token=header[1]).user_id
        except InvalidToken:
            return None
    return None


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def permission_required(code: str, scope: Scope = None, *, api: bool | None = None):
    """Decorate a plain Django view: the caller must hold `code` in `scope` (see the module doc).

    The caller is the session's user or, failing that, the bearer of a valid access token. With
    `api` (default: the path starts with `/api/`) failures answer with the JSON error envelope (docs/api.md):
    401 `not_authenticated`, 403 `permission_denied`, 400 `validation_error` for a bad scope. Without
    it they follow Django: anonymous callers are redirected to the login page, the others get
    Django's 403 (`PermissionDenied`), a bad scope its 400 (`BadRequest`).
    """
    _codes(code)
    if scope is OBJECT:
        raise TypeError("a plain view has no object: give its scope, or check objects with user.has_perm(code, obj)")

    def decorator(view_func):
        @functools.wraps(view_func)
        def wrapper(request, *args, **kwargs):
            as_api = _is_api(request) if api is None else api
            user_id = _caller(request)
            if user_id is None:
                if as_api:
                    response = JsonResponse(
                        error_body("not_authenticated", "Authentication credentials were not provided."), status=401
                    )
                    response["WWW-Authenticate"] = 'Bearer realm="api"'
                    return response
                return redirect_to_login(request.get_full_path())
            try:
                where = _resolve(scope, request, PlainView(view_func, args, kwargs))
            except InvalidScope as exc:
                if as_api:
                    return JsonResponse(error_body(exc.code, exc.message, exc.details), status=400)
                raise BadRequest(exc.message) from exc
            if not permission_service.check(user_id=user_id, permission=code, scope=where):
                if as_api:
                    return JsonResponse(error_body("permission_denied", _denied(code, where)), status=403)
                raise DjangoPermissionDenied(_denied(code, where))
            return view_func(request, *args, **kwargs)

        return wrapper

    return decorator


def user_escalation_check(*, actor_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Refuse (EscalationDenied) to let `actor_id` change or deactivate `user_id` unless the actor
    holds, in every scope where the user holds anything, every permission the user holds there:
    otherwise users.user.manage would take over anyone above its holder (issue 15, item 1)."""
    if actor_id == user_id:
        return
    assignments = all_assignments(user_id=user_id)
    for group in permission_service.user_groups(user_id=user_id):
        assignments += all_assignments(group_id=group.id)
    for scope in dict.fromkeys([None, *(a.scope for a in assignments)]):
        missing = permission_service.effective_permissions(
            user_id=user_id, scope=scope
        ) - permission_service.effective_permissions(user_id=actor_id, scope=scope)
        if missing:
            raise EscalationDenied(
                "You cannot change a user who holds a permission you do not hold.",
                details={"missing_permissions": sorted(missing), "scope": scope},
            )
