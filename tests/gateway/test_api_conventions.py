"""The conventions of docs/api.md conventions every endpoint shares: request ids and the JSON error envelope."""

import io
import json
import logging
import types

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_every_response_carries_a_generated_request_id(client):
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32


def test_a_sane_client_request_id_is_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123_trace.9"})
    assert response["X-Request-ID"] == "abc-123_trace.9"


@pytest.mark.parametrize("sent", ["short", "has spaces in it", "<script>alert(1)</script>", "x" * 200, "newline\nin"])
def test_an_insane_client_request_id_is_replaced(client, sent):
    response = client.get("/healthz", headers={"X-Request-ID": sent})
    assert response["X-Request-ID"] != sent
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_api_path_is_a_json_404_even_with_debug(client, debug):
    with override_settings(DEBUG=debug):
        response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": "not_found", "message": "Not found.", "details": {}}}


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/", headers={"Accept": "application/json"})
    assert schema.status_code == 200
    assert json.loads(schema.content)["openapi"].startswith("3.")
    assert client.get("/api/docs/").status_code == 200


# Issue 16 item 6: the docs group the operations by app service (gateway/routes.py), not all as `v1`.
SERVICE_TAGS = {
    "/api/v1/users": "User Management",
    "/api/v1/orgs": "Organizations",
    "/api/v1/auth/": "Authentication",
    "/api/v1/oidc/": "OIDC",
    "/api/v1/rbac/": "RBAC",
    "/api/v1/notifications": "Notifications",
}


def test_every_operation_of_the_schema_is_tagged_with_its_app_service(client):
    schema = client.get("/api/schema/", headers={"Accept": "application/json"}).json()
    tagged = {
        (method.upper(), path): operation["tags"]
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }
    assert len(tagged) > 40
    for (method, path), tags in tagged.items():
        [expected] = [tag for prefix, tag in SERVICE_TAGS.items() if path.startswith(prefix)]
        assert tags == [expected], (method, path, tags)
    assert tagged["POST", "/api/v1/auth/token"] == ["Authentication"]
    assert tagged["GET", "/api/v1/users/me"] == ["User Management"]
    assert tagged["POST", "/api/v1/oidc/clients"] == ["OIDC"]
    assert tagged["POST", "/api/v1/rbac/check"] == ["RBAC"]
    assert tagged["POST", "/api/v1/notifications/send"] == ["Notifications"]
    # Listed in the route table's order, each naming its app service.
    assert [(tag["name"], tag["description"].split(" (")[0]) for tag in schema["tags"]] == [
        ("User Management", "App service: User Management"),
        ("Organizations", "App service: User Management"),
        ("Authentication", "App service: User Management"),
        ("OIDC", "App service: User Management"),
        ("RBAC", "App service: RBAC"),
        ("Notifications", "App service: Notifications"),
    ]


def test_a_web_process_hosting_some_app_services_lists_only_their_tags():
    from drf_spectacular.generators import SchemaGenerator

    from gateway import routes, urls

    conf = types.ModuleType("rbac_only_urls")
    conf.urlpatterns = urls.app_service_urls((routes.app_service("rbac"),))
    schema = SchemaGenerator(urlconf=conf).get_schema(request=None, public=True)
    assert {tag for operations in schema["paths"].values() for op in operations.values() for tag in op["tags"]} == {
        "RBAC"
    }
    assert [tag["name"] for tag in schema["tags"]] == ["RBAC"]


def test_metrics_are_in_prometheus_text_format(client):
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b'gatehouse_http_requests_total{method="GET",route="healthz",status="200"}' in response.content


def test_each_request_is_counted_once_and_a_made_up_method_is_counted_as_other(client):
    from gateway.middleware import HTTP_REQUESTS

    def count(method: str, status: int) -> float:
        return HTTP_REQUESTS.labels(method, "healthz", str(status))._value.get()

    before_get, before_other = count("GET", 200), count("other", 405)
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    for made_up in ("BREW", "PROPFIND", "X" * 40):
        assert client.generic(made_up, "/healthz").status_code == 405
    assert (count("GET", 200) - before_get, count("other", 405) - before_other) == (3, 3)
    exported = client.get("/metrics").content
    assert b'method="BREW"' not in exported and b'method="other",route="healthz",status="405"' in exported


@override_settings(GATEHOUSE_METRICS_TOKEN="scrape-secret")
def test_metrics_can_be_restricted_to_scrapers_with_the_token(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"}).status_code == 200


def test_log_lines_are_json_and_carry_the_request_id():
    from pythonjsonlogger.json import JsonFormatter

    from project.kernel.context import request_id_scope

    handler = next(h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        with request_id_scope("trace-id-1234"):
            logging.getLogger("gatehouse.test").warning("something happened")
    finally:
        handler.setStream(previous)
    record = json.loads(stream.getvalue().splitlines()[-1])
    assert record["message"] == "something happened"
    assert record["request_id"] == "trace-id-1234"
    assert record["level"] == "WARNING"
    assert record["time"].endswith("+00:00")


def test_the_openapi_schema_is_valid_and_generates_without_a_warning(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/auth/token" in (tmp_path / "schema.yaml").read_text()


# Issue 15 item 13: /metrics is closed in production unless a token or a network opens it.


@override_settings(GATEHOUSE_METRICS_PUBLIC=False, GATEHOUSE_METRICS_TOKEN="")
def test_without_a_token_metrics_are_served_to_the_allowed_networks_only(client):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    refused = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    with override_settings(GATEHOUSE_METRICS_ALLOWED_NETWORKS=["203.0.113.0/24"]):
        assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 200


@override_settings(GATEHOUSE_METRICS_PUBLIC=True, GATEHOUSE_METRICS_TOKEN="")
def test_public_metrics_are_open_to_anyone_and_the_deploy_check_warns(client):
    from django.core.checks import run_checks

    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 200
    assert "gatehouse.W002" in [m.id for m in run_checks(include_deployment_checks=True)]


def test_metrics_are_not_public_by_default_without_debug():
    import subprocess
    import sys

    code = "from django.conf import settings; import django; django.setup(); print(settings.GATEHOUSE_METRICS_PUBLIC)"
    env = {"DJANGO_SETTINGS_MODULE": "project.settings", "SECRET_KEY": "x" * 50, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
