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
    return dict(line.split(": ", 1) for line in lines if re.match(r"^[a-z0-9]+: ", line))


def test_the_monoliths_web_and_grpc_processes_stay_out_of_the_split_shape():
    assert SPLIT["web"] == {"profiles": ["monolith"]}
    assert SPLIT["grpc"] == {"profiles": ["monolith"]}


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
    for name in ("web-a", "web-b", "worker", "beat", "relay"):
        environment = SPLIT[name]["environment"]
        assert {environment[target] for target in TARGETS} == {f"grpc-{s}:50051" for s in CORE}, name
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
    assert set(processes) == {"nginx", "web1", "web2", *CORE, "worker", "beat", "relay"}
    assert "manage.py gateway nginx-config" in processes["nginx"]
    for service in CORE:
        assert f"{service.upper()}_GRPC_TARGET= exec python manage.py grpcserve {service} " in processes[service]
    for web in ("web1", "web2"):
        assert "gunicorn project.wsgi" in processes[web]


def test_the_route_table_names_every_app_service_nginx_can_route():
    assert {service.name for service in APP_SERVICES} == {"user_management", "rbac", "notifications"}
