"""Liveness, readiness and metrics endpoints (docs/operations.md, Edge policy)."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from auth.interface import auth_service
from project.metrics import add_scrape_time_gauges
from project.rpc.health import grpc_target_health

from .edge import client_ip

log = logging.getLogger(__name__)


def _holds_metrics_token(request) -> bool:
    token = settings.GATEHOUSE_METRICS_TOKEN
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(sent.encode(), token.encode())


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_cache() -> str:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was written")
    cache.delete(key)
    return "ok"


def _check_broker() -> str:
    if not settings.CELERY_BROKER_URL:
        return "embedded"
    from kombu import Connection

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1)
    return "ok"


@require_GET
def readyz(request):
    checks = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}
    for service, target in settings.GATEHOUSE_GRPC_TARGETS.items():
        if target:
            checks[f"grpc:{service}"] = lambda target=target: grpc_target_health(target)
    # Why a dependency failed names internal addresses ("connecting to 10.0.3.7:6379"): the log
    # and the metrics-token holder get it; anyone else gets names and states only.
    detailed = _holds_metrics_token(request)
    results, ready = {}, True
    for name, check in checks.items():
        try:
            results[name] = {"status": check()}
        except Exception as exc:  # any failure means not ready; say which, and why to those allowed
            ready = False
            reason = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("readyz: %s is not ready: %s", name, reason, extra={"dependency": name})
            results[name] = {"status": "error"} | ({"error": reason} if detailed else {})
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": results}, status=200 if ready else 503)


def _from_allowed_network(request) -> bool:
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    for network in settings.GATEHOUSE_METRICS_ALLOWED_NETWORKS:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


@require_GET
def metrics(request):
    """With GATEHOUSE_METRICS_TOKEN set, open to its holder only; without it, to
    GATEHOUSE_METRICS_ALLOWED_NETWORKS (loopback by default). GATEHOUSE_METRICS_PUBLIC (DEBUG's
    default; `check --deploy` warns about it) opens it to anyone."""
    by_token = bool(settings.GATEHOUSE_METRICS_TOKEN)
    allowed = _holds_metrics_token(request) if by_token else _from_allowed_network(request)
    allowed = allowed or settings.GATEHOUSE_METRICS_PUBLIC
    if not allowed:
        if settings.GATEHOUSE_METRICS_TOKEN:
            response = JsonResponse(
                {"error": {"code": "not_authenticated", "message": "Metrics token required.", "details": {}}},
                status=401,
            )
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        return JsonResponse(
            {
                "error": {
                    "code": "permission_denied",
                    "message": "Metrics are served to GATEHOUSE_METRICS_ALLOWED_NETWORKS or with GATEHOUSE_METRICS_TOKEN.",
                    "details": {},
                }
            },
            status=403,
        )
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        add_scrape_time_gauges(registry)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


@require_GET
def jwks(request):
    response = JsonResponse(auth_service.jwks())
    # Resource servers may cache it briefly; one that meets an unknown kid fetches it again.
    response["Cache-Control"] = "public, max-age=60"
    return response
