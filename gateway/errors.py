"""The error envelope of every error under /api/ (docs/api.md).

`{"error": {"code": ..., "message": ..., "details": {...}}}`. Domain errors carry their own code;
DRF's exceptions and Django's 404/500 are mapped here, in one place.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from project.kernel.errors import DomainError

logger = logging.getLogger("gatehouse.errors")

KIND_STATUS = {
    "invalid_argument": status.HTTP_400_BAD_REQUEST,
    "unauthenticated": status.HTTP_401_UNAUTHORIZED,
    "permission_denied": status.HTTP_403_FORBIDDEN,
    "not_found": status.HTTP_404_NOT_FOUND,
    "conflict": status.HTTP_409_CONFLICT,
    "rate_limited": status.HTTP_429_TOO_MANY_REQUESTS,
    "unavailable": status.HTTP_503_SERVICE_UNAVAILABLE,
    "internal": status.HTTP_500_INTERNAL_SERVER_ERROR,
}

DRF_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "validation_error",
}


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _validation_details(detail) -> dict:
    if isinstance(detail, dict):
        return {
            str(k): _validation_details(v) if isinstance(v, dict) else [str(m) for m in _as_list(v)]
            for k, v in detail.items()
        }
    return {"non_field_errors": [str(m) for m in _as_list(detail)]}


def _as_list(value):
    return value if isinstance(value, list) else [value]


def too_large() -> JsonResponse:
    limit = settings.GATEHOUSE_MAX_BODY_BYTES
    return JsonResponse(
        error_body("request_too_large", f"The request body is larger than {limit} bytes.", {"max_bytes": limit}),
        status=413,
    )


# The database cannot be reached or gave up on the statement (down, restarting, the connection pool
# exhausted): the request changed nothing (its transaction rolled back) and may be tried again.
DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5


def database_unavailable(exc: BaseException) -> JsonResponse:
    logger.error("database unavailable: %s: %s", type(exc).__name__, str(exc)[:300])
    response = JsonResponse(
        error_body(
            "service_unavailable",
            "The service is temporarily unavailable; try again shortly.",
            {"retry_after": RETRY_AFTER_SECONDS},
        ),
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        return too_large()
    if isinstance(exc, DATABASE_ERRORS):
        return database_unavailable(exc)
    if isinstance(exc, DomainError):
        response = Response(error_body(exc.code, exc.message, exc.details), status=KIND_STATUS.get(exc.kind, 500))
        if exc.kind == "rate_limited" and "retry_after" in exc.details:
            response["Retry-After"] = str(int(exc.details["retry_after"]))
        elif exc.kind == "unavailable":  # a dependency is down or too slow: worth trying again soon
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected exception: Django's 500 handler renders it (handler500 below)
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body("validation_error", "The request is not valid.", _validation_details(exc.detail))
        return response
    code = next((c for cls, c in DRF_CODES.items() if isinstance(exc, cls)), "error")
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    message = str(detail) if not isinstance(detail, dict | list) else "Request failed."
    details = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        details["retry_after"] = int(exc.wait)
    response.data = error_body(code, message, details)
    return response


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def handler404(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    # Also reached for exceptions raised outside views (middleware), which is still inside the
    # `except` block that caught them.
    failure = sys.exc_info()[1]
    if _is_api(request) and isinstance(failure, DATABASE_ERRORS):
        return database_unavailable(failure)
    if _is_api(request):
        return JsonResponse(error_body("internal_error", "Internal server error."), status=500)
    from django.views.defaults import server_error

    return server_error(request)


def handler400(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("bad_request", "Bad request."), status=400)
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def handler403(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("permission_denied", "Forbidden."), status=403)
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff and request.path.startswith(reverse("admin:index")):
        # A signed-in operator in the admin: the admin's own page, saying why.
        from django.contrib import admin
        from django.template.response import TemplateResponse

        context = {**admin.site.each_context(request), "title": "Forbidden", "reason": str(exception or "")}
        return TemplateResponse(request, "admin/403.html", context, status=403).render()
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)


@csrf_exempt  # a bearer-token API has no cookie session to protect; CSRF's HTML 403 must not answer here
def api_not_found(request, *args, **kwargs):
    return JsonResponse(error_body("not_found", "Not found."), status=404)


class ApiErrorMiddleware:
    """Unexpected exceptions under /api/ become the JSON envelope, also with DEBUG on (Django's
    technical 500 page would otherwise answer)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not _is_api(request):
            return None
        if isinstance(exception, RequestDataTooBig):
            return too_large()
        if isinstance(exception, DATABASE_ERRORS):
            return database_unavailable(exception)
        logger.error("unhandled error on %s", request.path, exc_info=exception)
        return JsonResponse(error_body("internal_error", "Internal server error."), status=500)
