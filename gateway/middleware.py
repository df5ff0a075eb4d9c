from __future__ import annotations

import logging
import time

from django.conf import settings
from django.http import JsonResponse
from django.urls import Resolver404, resolve
from prometheus_client import Counter, Histogram

from project.kernel.context import request_id_scope

from .errors import error_body

REQUEST_ID_HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Binds a request id for the whole request: echoed when the client sent a sane one,
    generated otherwise; logged with every line and returned in `X-Request-ID`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with request_id_scope(request.headers.get(REQUEST_ID_HEADER)) as request_id:
            request.request_id = request_id
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            return response


access_log = logging.getLogger("gatehouse.access")

HTTP_REQUESTS = Counter("gatehouse_http_requests_total", "HTTP requests served.", ["method", "route", "status"])
HTTP_LATENCY = Histogram("gatehouse_http_request_duration_seconds", "HTTP request latency.", ["method", "route"])


def _route(request) -> str:
    # The URL pattern, not the path: ids in paths would explode the label cardinality.
    if request.path.startswith(settings.STATIC_URL):
        return "static"  # WhiteNoise answers these before any URL pattern
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return "unmatched"
    return match.route or match.view_name or "unknown"


def _user_id(request) -> str | None:
    # Who the access token (verified once at the edge) speaks for: the "who" of a 401/403 line.
    edge = getattr(request, "edge_principal", None)
    principal = getattr(edge, "principal", None)
    return str(principal.user_id) if principal is not None else None


class HttpsOnlyApiMiddleware:
    """With SECURE_SSL_REDIRECT on (production), Django redirects plain-HTTP requests to HTTPS.
    An API client that followed such a redirect has sent its token and body in the clear already,
    and would never notice: API calls over plain HTTP are refused instead (ASVS 5.0 4.1.2).
    Browsers (the admin, the docs page) still get the redirect."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.SECURE_SSL_REDIRECT and request.path.startswith("/api/") and not request.is_secure():
            return JsonResponse(
                error_body("https_required", "The API answers over HTTPS only; nothing was done."), status=403
            )
        return self.get_response(request)


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route = _route(request)
        HTTP_LATENCY.labels(request.method, route).observe(elapsed)
        HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        # One line per request, inside the request-id scope (Django's own django.request lines
        # come after it has closed).
        access_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
                "client": getattr(request, "client_ip", None) or request.META.get("REMOTE_ADDR", ""),
                "user_id": _user_id(request),
            },
        )
        return response
