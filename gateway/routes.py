"""The route table (docs/operations.md, Edge policy): which app service answers which public path prefix.

The one place the prefixes are written. `gateway.urls` mounts the app services this process hosts
from it; `manage.py gateway nginx-config` renders nginx's locations and upstream pools from it.
An app service is a set of REST endpoints over one or more core services; the core services it
calls are found through their interfaces (in-process, or gRPC when `<SERVICE>_GRPC_TARGET` is set).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True, slots=True)
class Mount:
    prefix: str  # URL prefix without the leading slash, as Django's path() takes it
    urlconf: str  # the module whose `urlpatterns` are mounted there


@dataclass(frozen=True, slots=True)
class AppService:
    name: str
    title: str
    mounts: tuple[Mount, ...]
    # Public path prefixes that belong to this app service: nginx sends them to its upstream pool.
    # Every path its mounts serve starts with one of these (tests/gateway/test_routes.py checks).
    locations: tuple[str, ...]
    # How the API docs group its operations (OpenAPI tags, issue 16 item 6): (path prefix, tag),
    # the first match wins. Under User Management, signing in and the OpenID Provider have their own.
    doc_tags: tuple[tuple[str, str], ...]


APP_SERVICES: tuple[AppService, ...] = (
    AppService(
        name="user_management",
        title="User Management (users + auth core services)",
        mounts=(
            Mount("api/v1/auth/", "auth.api.urls"),
            Mount("api/v1/", "users.api.urls"),
            # The OpenID Provider (docs/oidc.md): its endpoints and its discovery document.
            Mount("oauth2/", "auth.api.oidc_urls"),
            Mount("api/v1/oidc/", "auth.api.oidc_client_urls"),
            Mount(".well-known/", "auth.api.oidc_wellknown_urls"),
            # The pages the links in mails lead to, when no frontend takes them (auth/api/pages.py).
            Mount("", "auth.api.page_urls"),
        ),
        locations=(
            "/api/v1/auth/",
            "/api/v1/users",
            "/api/v1/orgs",
            "/oauth2/",
            "/.well-known/openid-configuration",
            "/api/v1/oidc/",
            "/verify-email",
            "/reset-password",
        ),
        doc_tags=(
            ("/api/v1/users", "User Management"),
            ("/api/v1/orgs", "Organizations"),
            ("/api/v1/auth/", "Authentication"),
            ("/api/v1/oidc/", "OIDC"),
            ("/oauth2/", "OIDC"),
            ("/.well-known/openid-configuration", "OIDC"),
        ),
    ),
    AppService(
        name="rbac",
        title="RBAC (permissions core service)",
        mounts=(Mount("api/v1/rbac/", "permissions.api.urls"),),
        locations=("/api/v1/rbac/",),
        doc_tags=(("/api/v1/rbac/", "RBAC"),),
    ),
    AppService(
        name="notifications",
        title="Notifications (notifications core service)",
        mounts=(Mount("api/v1/", "notifications.api.urls"),),
        locations=("/api/v1/notifications",),
        doc_tags=(("/api/v1/notifications", "Notifications"),),
    ),
    AppService(
        name="scim",
        title="SCIM provisioning (users + auth + permissions core services; docs/scim.md)",
        mounts=(Mount("scim/v2/", "scim.urls"),),
        locations=("/scim/",),
        doc_tags=(),
    ),
)

# Paths (prefixes) whose calls count more than one request against the caller's bucket: they cost
# a password hash or send mail, so they are what an attacker would hammer.
ROUTE_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("/api/v1/auth/token", 5),  # also /token/refresh
    ("/api/v1/auth/register", 5),
    ("/api/v1/auth/password/", 5),
    ("/api/v1/auth/mfa/recovery", 5),
    ("/api/v1/auth/verify-email", 2),
    ("/api/v1/auth/passkeys/login", 2),  # also /login/options: a signature check, a challenge row
    ("/api/v1/notifications/send", 5),
    # The OpenID Provider's hosted sign-in form (a password hash). Not the token endpoint: one
    # relying party's server exchanges the codes of all its users from one address.
    ("/oauth2/authorize", 2),
    # The pages of the links in mails: their POSTs spend a token (and a reset, a password hash).
    ("/reset-password", 5),
    ("/verify-email", 2),
)

# Routes for anonymous callers (signing in, registering, resetting): counted in the caller's IP
# bucket even when the request carries a valid bearer token, so one free account does not buy the
# 10x user bucket for a flood (issue 15, item 10).
ANONYMOUS_ROUTES: tuple[str, ...] = (
    "/api/v1/auth/token",  # also /token/refresh
    "/api/v1/auth/register",
    "/api/v1/auth/password/reset",  # also /reset/confirm
    "/api/v1/auth/verify-email",
    "/api/v1/auth/mfa/recovery",
    "/api/v1/auth/passkeys/login",  # also /login/options
    "/oauth2/",
    "/verify-email",
    "/reset-password",
)

# Everything else (health, metrics, JWKS, the schema and docs, the admin) is the gateway's own and
# any web process answers it; nginx sends it to the `gateway` pool.
GATEWAY_POOL = "gateway"


def app_service(name: str) -> AppService:
    for service in APP_SERVICES:
        if service.name == name:
            return service
    raise KeyError(name)


def hosted_app_services() -> tuple[AppService, ...]:
    """The app services this process serves: `GATEHOUSE_APP_SERVICES` (names, comma-separated),
    every one when unset."""
    wanted = list(getattr(settings, "GATEHOUSE_APP_SERVICES", []) or [])
    if not wanted:
        return APP_SERVICES
    known = {service.name for service in APP_SERVICES}
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise ImproperlyConfigured(f"GATEHOUSE_APP_SERVICES: unknown {unknown}; known: {sorted(known)}")
    return tuple(service for service in APP_SERVICES if service.name in wanted)
