from __future__ import annotations

import logging
import time

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import ImproperlyConfigured
from django.http import JsonResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
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


# The methods Django's views answer; any other token a client sends is counted as "other", so a
# caller cannot grow the metrics (and _SERIES) with made-up methods.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
# The labelled series, each looked up once: `labels()` costs about 6 µs a call (a lock, a dict
# lookup on a tuple of strings), twice a request (docs/benchmarks.md, issue 24). Bounded: routes
# are the URL patterns, methods the set above, statuses 100-599.
_SERIES: dict[tuple[str, str, int], tuple] = {}


def _series(method: str, route: str, status: int) -> tuple:
    """The request-latency and request-count series of a request (prometheus_client children)."""
    key = (method if method in _METHODS else "other", route, status)
    found = _SERIES.get(key)
    if found is None:
        found = _SERIES[key] = (
            HTTP_LATENCY.labels(key[0], route),
            HTTP_REQUESTS.labels(key[0], route, str(status)),
        )
    return found


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
        latency, requests = _series(request.method, _route(request), response.status_code)
        latency.observe(elapsed)
        requests.inc()
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


# Django's middlewares that serve only browsers: the admin's session, its user, its messages, CSRF
# for its forms, and X-Frame-Options (which SecurityHeadersMiddleware sets on API responses).
BROWSER_ONLY = (
    SessionMiddleware,
    CommonMiddleware,
    CsrfViewMiddleware,
    AuthenticationMiddleware,
    MessageMiddleware,
    XFrameOptionsMiddleware,
)


class ApiSkipsBrowserMiddleware:
    """Sends `/api/` requests past the browser-only middlewares that follow it in MIDDLEWARE.

    The API authenticates by bearer token only (no DRF view takes a session, and DRF's views are
    CSRF-exempt), answers JSON, and has its own catch-all 404, so sessions, messages, CSRF's
    cookie, `request.user` from a session and CommonMiddleware's slash redirect do nothing for
    it; they were about a tenth of a permission check's time (docs/benchmarks.md, issue 24). The
    admin, the hosted sign-in pages and everything else outside `/api/` still run them all.

    What it keeps of them for the API: Content-Length (CommonMiddleware's), and X-Frame-Options,
    set on every `/api/` response by SecurityHeadersMiddleware. Their `process_view` hooks are
    Django's handler's to call and still run; CSRF's returns at once for an exempt view.

    It must come right before all six BROWSER_ONLY middlewares, in any order, with nothing else
    among them: a middleware of the project's own between them would be skipped too, or would see
    a request the session middleware had not seen. Anything else is a configuration error."""

    def __init__(self, get_response):
        self.get_response = get_response
        handler, skipped = get_response, set()
        # Django wraps each middleware in `convert_exception_to_response`, whose `inner` keeps the
        # instance as `__wrapped__` (functools.wraps).
        while type(getattr(handler, "__wrapped__", None)) in BROWSER_ONLY:
            skipped.add(type(handler.__wrapped__))
            handler = handler.__wrapped__.get_response
        if skipped != set(BROWSER_ONLY):
            raise ImproperlyConfigured(
                "gateway.middleware.ApiSkipsBrowserMiddleware must come right before Django's browser-only middlewares "
                f"({', '.join(cls.__name__ for cls in BROWSER_ONLY)}), with nothing among them."
            )
        self.api_response = handler

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        response = self.api_response(request)
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response
