"""Gatehouse's own pages for the links in its mails (issue 16, item 7): /verify-email and
/reset-password, served when no frontend of a deployment's own takes them
(GATEHOUSE_FRONTEND_URL defaults to this server).

Server-rendered, in the style of the OpenID hosted pages (no script, CSRF-protected forms). They
call the auth core service through its interface, as the API's verify-email and reset confirm do.
A GET never spends a token (mail scanners fetch links): only the page's POST does.
"""

from __future__ import annotations

from django.contrib.auth.password_validation import password_validators_help_texts
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from auth.interface import InvalidOneTimeToken, auth_service
from gateway.errors import KIND_STATUS
from project.kernel.errors import DomainError

from .oidc import page_headers
from .views import PASSWORD

TOKEN_MAX = 256  # as the API's serializers


def _token(request) -> str:
    token = (request.POST if request.method == "POST" else request.GET).get("token", "")
    return token if len(token) <= TOKEN_MAX else ""


def _page(request, template: str, *, status: int = 200, **context) -> HttpResponse:
    # The form posts to the bare path: the token travels in the body, not in the address.
    return page_headers(render(request, template, {"action": request.path, **context}, status=status))


def _failure(exc: DomainError) -> int:
    return KIND_STATUS.get(exc.kind, 500)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def verify_email(request):
    """GET: a button that confirms the address. POST: spends the token and verifies."""
    token = _token(request)
    if not token:
        return _page(request, "auth/verify_email.html", status=400, error=InvalidOneTimeToken.default_message)
    if request.method == "GET":
        return _page(request, "auth/verify_email.html", token=token)
    try:
        auth_service.verify_email(token=token)
    except DomainError as exc:
        return _page(request, "auth/verify_email.html", status=_failure(exc), error=exc.message)
    return _page(request, "auth/verify_email.html", done=True)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def reset_password(request):
    """GET: the new password, twice. POST: spends the token and sets the password (the policy is
    the service's; a refused password leaves the token usable)."""
    token = _token(request)
    help_texts = password_validators_help_texts()
    if not token:
        return _page(request, "auth/reset_password.html", status=400, error=InvalidOneTimeToken.default_message)
    if request.method == "GET":
        return _page(request, "auth/reset_password.html", token=token, help_texts=help_texts)
    password = request.POST.get("new_password", "")[: PASSWORD["max_length"]]
    if password != request.POST.get("new_password_again", "")[: PASSWORD["max_length"]]:
        return _page(
            request,
            "auth/reset_password.html",
            status=400,
            token=token,
            help_texts=help_texts,
            field_errors=["The two passwords are not the same."],
        )
    try:
        auth_service.confirm_password_reset(token=token, new_password=password)
    except InvalidOneTimeToken as exc:
        return _page(request, "auth/reset_password.html", status=400, error=exc.message)
    except DomainError as exc:
        # A refused password (WeakPassword: the policy's messages), or a service that is down.
        messages = [m for messages in exc.details.values() if isinstance(messages, list) for m in messages]
        return _page(
            request,
            "auth/reset_password.html",
            status=_failure(exc),
            token=token,
            help_texts=help_texts,
            field_errors=messages or [exc.message],
        )
    return _page(request, "auth/reset_password.html", done=True)
