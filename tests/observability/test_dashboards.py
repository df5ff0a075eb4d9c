"""The Grafana dashboard and the Prometheus alert rules (deploy/observability) name only metrics
that `/metrics` exports, and cover what docs/operations.md promises an operator sees."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "deploy" / "observability"
METRIC = re.compile(r"\bgatehouse_[a-z0-9_]+")
SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")

pytestmark = pytest.mark.django_db


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def rule_expressions() -> list[str]:
    # promtool (CI) checks the YAML itself; every name in it, annotations included, must exist.
    return [(OBSERVABILITY / "alerts.yml").read_text()]


def named(expressions: list[str]) -> set[str]:
    return {name for expression in expressions for name in METRIC.findall(expression)}


def exported(client, settings) -> tuple[set[str], set[str]]:
    settings.GATEHOUSE_METRICS_PUBLIC = True
    response = client.get("/metrics")
    assert response.status_code == 200
    families = list(text_string_to_metric_families(response.content.decode()))
    return {family.name for family in families}, {sample.name for family in families for sample in family.samples}


def is_exported(name: str, families: set[str], samples: set[str]) -> bool:
    if name in samples:
        return True
    # A labelled metric nobody has counted yet shows only its family (HELP and TYPE lines).
    return any(name.endswith(suffix) and name.removesuffix(suffix) in families for suffix in SUFFIXES)


def grpcserve_exported() -> tuple[set[str], set[str]]:
    """What `grpcserve --metrics-port` serves: this process's registry once the server's
    interceptors are loaded (tests/rpc scrape the real server)."""
    from prometheus_client import REGISTRY, generate_latest

    import project.rpc.interceptors  # noqa: F401 - registers the gRPC server's metrics

    families = list(text_string_to_metric_families(generate_latest(REGISTRY).decode()))
    return {family.name for family in families}, {sample.name for family in families for sample in family.samples}


def test_every_metric_of_the_dashboard_and_the_alert_rules_is_exported(client, settings):
    """By the web process's /metrics; the gRPC server's own (gatehouse_grpc_*) by grpcserve."""
    families, samples = exported(client, settings)
    grpc_families, grpc_samples = grpcserve_exported()
    wanted = named(dashboard_expressions()) | named(rule_expressions())
    assert len(wanted) >= 12, wanted
    missing = sorted(
        name
        for name in wanted
        if not (
            is_exported(name, grpc_families, grpc_samples)
            if name.startswith("gatehouse_grpc_")
            else is_exported(name, families, samples)
        )
    )
    assert not missing, f"named by deploy/observability but not exported: {missing}"


def test_a_metric_that_is_not_exported_is_caught(client, settings):
    families, samples = exported(client, settings)
    assert not is_exported("gatehouse_outbox_lag_secs", families, samples)
    assert not is_exported("gatehouse_http_requests", families, samples)  # a counter's family needs _total
    assert is_exported("gatehouse_http_requests_total", families, samples)


def test_the_dashboard_shows_what_an_operator_expects():
    expressions = dashboard_expressions()
    shown = named(expressions)
    for metric in (
        "gatehouse_http_requests_total",  # request rate and errors per route
        "gatehouse_http_request_duration_seconds_bucket",  # latency per route
        "gatehouse_rbac_check_answers_total",  # check cache hit ratio
        "gatehouse_outbox_lag_seconds",
        "gatehouse_dead_letters_waiting",
        "gatehouse_notification_deliveries_failed",
        "gatehouse_ratelimit_unavailable_total",
        "gatehouse_login_failures_recent",
        "gatehouse_login_lockouts_total",
    ):
        assert metric in shown, metric
    assert any("by (route" in expression for expression in expressions)


def test_the_scrape_time_gauges_read_the_database(client, settings, django_user_model):
    from project.events.models import DeadLetter

    DeadLetter.objects.create(consumer="probe", envelope={}, error="boom", attempts=1)
    settings.GATEHOUSE_METRICS_PUBLIC = True
    text = client.get("/metrics").content.decode()
    assert re.search(r"^gatehouse_dead_letters_waiting 1\.0$", text, re.MULTILINE), text[-2000:]
    assert re.search(r"^gatehouse_outbox_lag_seconds 0\.0$", text, re.MULTILINE)
    assert re.search(r'^gatehouse_notification_deliveries_failed\{channel="email"\} 0\.0$', text, re.MULTILINE)
