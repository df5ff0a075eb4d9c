"""docker-compose.split.yml (the split shape on top of docker-compose.yml) and Procfile.split (the
same shape without Docker) hold together: nginx in front of two web processes, one gRPC process per
core service that never targets itself, and every other process reaching the services over gRPC."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from gateway.routes import APP_SERVICES

ROOT = Path(__file__).resolve().parents[2]
SPLIT = yaml.safe_load((ROOT / "docker-compose.split.yml").read_text())["services"]
CORE = ("users", "auth", "permissions", "notifications")
TARGETS = {f"{service.upper()}_GRPC_TARGET" for service in CORE}


def procfile_split() -> dict[str, str]:
    lines = (ROOT / "Procfile.split").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if re.match(r"^[a-z0-9-]+: ", line))


def test_the_monoliths_processes_stay_out_of_the_split_shape():
    for name in ("web", "grpc", "worker", "relay"):
        assert SPLIT[name] == {"profiles": ["monolith"]}, name


def database_of(service: str) -> str:
    return f"@postgres:5432/gatehouse_{service}" if service != "users" else "@postgres:5432/gatehouse"


def test_each_service_but_users_has_its_own_database_made_and_migrated():
    script = (ROOT / "docker" / "postgres-split.sql").read_text()
    for service in ("auth", "permissions", "notifications"):
        assert f"CREATE DATABASE gatehouse_{service} OWNER gatehouse;" in script
        migrate = SPLIT[f"migrate-{service}"]
        assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
        assert migrate["environment"]["DATABASE_URL"].endswith(database_of(service))
        assert all(migrate["environment"][target] == "" for target in TARGETS)
        assert SPLIT[f"grpc-{service}"]["depends_on"][f"migrate-{service}"] == {
            "condition": "service_completed_successfully"
        }
    assert "./docker/postgres-split.sql:/docker-entrypoint-initdb.d/split.sql:ro" in SPLIT["postgres"]["volumes"]


def test_a_services_processes_run_on_its_database():
    for service in CORE:
        own = database_of(service)
        relay = SPLIT[f"relay-{service}"]
        assert relay["command"] == ["python", "manage.py", "relay_outbox"]
        assert relay["environment"]["DATABASE_URL"].endswith(own)
        if service != "users":
            assert SPLIT[f"grpc-{service}"]["environment"]["DATABASE_URL"].endswith(own)
            worker = SPLIT[f"worker-{service}"]
            assert worker["environment"]["DATABASE_URL"].endswith(own)
            assert worker["environment"]["GATEHOUSE_EVENT_CONSUMERS"] == service
            assert worker["environment"][f"{service.upper()}_GRPC_TARGET"] == ""


def test_each_core_service_has_its_own_grpc_process_that_does_not_call_itself():
    for service in CORE:
        process = SPLIT[f"grpc-{service}"]
        assert process["command"][2:4] == ["grpcserve", service]
        environment = process["environment"]
        assert environment[f"{service.upper()}_GRPC_TARGET"] == ""
        others = TARGETS - {f"{service.upper()}_GRPC_TARGET"}
        assert {environment[name] for name in others} == {f"grpc-{s}:50051" for s in CORE if s != service}
        assert process["healthcheck"]["test"]


def test_web_processes_and_the_worker_reach_every_service_over_grpc():
    for name in ("web-a", "web-b", "beat"):
        environment = SPLIT[name]["environment"]
        assert {environment[target] for target in TARGETS} == {f"grpc-{s}:50051" for s in CORE}, name
        assert environment["DATABASE_URL"].endswith(database_of("users"))
    for name in ("web-a", "web-b"):
        assert SPLIT[name]["environment"]["GATEHOUSE_TRUSTED_PROXIES"]


def test_nginx_is_configured_from_the_route_table_for_both_web_processes():
    command = SPLIT["nginx-config"]["command"]
    assert command[:4] == ["python", "manage.py", "gateway", "nginx-config"]
    assert "gateway=web-a:8000,web-b:8000" in command
    output = command[command.index("--output") + 1]
    assert SPLIT["nginx"]["command"][:3] == ["nginx", "-c", output]
    assert SPLIT["nginx"]["depends_on"]["nginx-config"] == {"condition": "service_completed_successfully"}


def test_procfile_split_runs_the_same_processes():
    processes = procfile_split()
    assert set(processes) == {
        "nginx", "web1", "web2", *CORE, "worker", "worker-auth", "worker-permissions", "beat",
        *(f"relay-{service}" for service in CORE),
    }  # fmt: skip
    assert "manage.py gateway nginx-config" in processes["nginx"]
    for service in CORE:
        own_database = f'DATABASE_URL="${{{service.upper()}_DATABASE_URL:-$DATABASE_URL}}"'
        assert processes[service].startswith(
            f"{service.upper()}_GRPC_TARGET= {own_database} exec python manage.py grpcserve {service} "
        )
        assert processes[f"relay-{service}"] == f"{own_database} exec python manage.py relay_outbox"
    for worker, consumers in (
        ("worker-auth", "auth"),
        ("worker-permissions", "permissions"),
        ("worker", "notifications"),
    ):
        assert f"GATEHOUSE_EVENT_CONSUMERS={consumers} exec celery -A project worker" in processes[worker]
        assert f'DATABASE_URL="${{{consumers.upper()}_DATABASE_URL:-$DATABASE_URL}}"' in processes[worker]
    for web in ("web1", "web2"):
        assert "gunicorn project.wsgi" in processes[web]


def test_the_route_table_names_every_app_service_nginx_can_route():
    assert {service.name for service in APP_SERVICES} == {"user_management", "rbac", "notifications", "scim"}
