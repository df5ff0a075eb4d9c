"""docker-compose.yml, the Dockerfile and .env.example hold together. Docker itself cannot run
here, so this reads them: the services and their order of start, the commands (the Procfile's),
secrets only by reference, and an image that runs as a non-root user."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
BACKING = {"postgres", "redis", "rabbitmq"}
PROCESSES = {"web", "grpc", "worker", "beat", "relay"}
SECRETS = {"SECRET_KEY", "GATEHOUSE_GRPC_TOKEN", "POSTGRES_PASSWORD", "RABBITMQ_PASSWORD"}


def command_of(service: str) -> str:
    command = SERVICES[service]["command"]
    return command if isinstance(command, str) else shlex.join(command)


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if re.match(r"^[a-z]+: ", line))


def test_compose_runs_the_backing_services_a_migration_and_every_procfile_process():
    assert set(SERVICES) == BACKING | {"migrate"} | PROCESSES
    assert set(procfile()) == PROCESSES


@pytest.mark.parametrize("service", sorted(BACKING))
def test_backing_services_have_healthchecks_and_keep_their_data(service):
    assert SERVICES[service]["healthcheck"]["test"]
    assert SERVICES[service]["volumes"][0].split(":")[0] in COMPOSE["volumes"]


@pytest.mark.parametrize("service", sorted(PROCESSES))
def test_processes_start_after_healthy_services_and_a_finished_migration(service):
    depends_on = SERVICES[service]["depends_on"]
    assert {name: dep["condition"] for name, dep in depends_on.items()} == {
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "rabbitmq": "service_healthy",
        "migrate": "service_completed_successfully",
    }
    assert SERVICES[service]["env_file"] == ".env"


def test_the_migration_runs_once_after_postgres_is_healthy():
    assert command_of("migrate") == "python manage.py migrate --noinput"
    assert SERVICES["migrate"]["restart"] == "no"
    assert SERVICES["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


@pytest.mark.parametrize(
    ("service", "program"),
    [
        ("web", "gunicorn project.wsgi"),
        ("grpc", "manage.py grpcserve"),
        ("worker", "celery -A project worker"),
        ("beat", "celery -A project beat"),
        ("relay", "manage.py relay_outbox"),
    ],
)
def test_compose_and_the_procfile_run_the_same_programs(service, program):
    assert program in command_of(service)
    assert program in procfile()[service]


def test_processes_reach_the_backing_services_by_their_compose_names():
    environment = SERVICES["web"]["environment"]
    assert "@postgres:5432/" in environment["DATABASE_URL"]
    assert environment["REDIS_URL"].startswith("redis://redis:6379/")
    assert "@rabbitmq:5672/" in environment["CELERY_BROKER_URL"]


def _values(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _values(value)
    elif isinstance(node, list):
        for item in node:
            yield from _values(item)


def test_no_secret_is_written_into_compose():
    text = (ROOT / "docker-compose.yml").read_text()
    for key, value in _values(COMPOSE):
        if isinstance(key, str) and key in SECRETS | {"RABBITMQ_DEFAULT_PASS"}:
            assert re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]*)?\}", str(value)), f"{key} is not a reference"
    for url in re.findall(r"(?:postgres|amqp)://[^\s]+", text):
        assert re.search(r"://\w+:\$\{[A-Z_]+", url), f"a password in {url} is not a reference"


def test_env_example_has_a_placeholder_for_every_variable_compose_requires():
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    required = set(re.findall(r"\$\{([A-Z_]+):\?", (ROOT / "docker-compose.yml").read_text()))
    assert required <= set(example)
    for name in SECRETS:
        assert example[name] == "change-me", f".env.example must not carry a real {name}"


def test_the_image_installs_the_lock_and_runs_as_a_non_root_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "\nFROM python:3.11-slim\n" in dockerfile
    assert "uv sync --frozen" in dockerfile
    users = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".env", ".git", ".venv"} <= set(ignored)


def test_the_image_installs_the_built_wheel():
    """Issue 14 item 4: the image runs the installed package, built in a stage of its own."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim AS wheel$", dockerfile, re.MULTILINE)
    assert "uv build --wheel" in dockerfile
    assert re.search(r"^COPY --from=wheel ", dockerfile, re.MULTILINE)
    assert re.search(r"uv pip install .*--no-deps .*\.whl", dockerfile)
    final = dockerfile.split("\nFROM python:3.11-slim\n", 1)[1]
    assert "COPY . ." not in final  # no source tree in the image: the wheel


def test_the_image_collects_static_files_at_build_time_outside_its_data_directory():
    """Issue 16 item 4: the web container serves the admin's static files itself (WhiteNoise), from
    what the build collected; a volume mounted on the data directory must not hide or freeze them."""
    final = (ROOT / "Dockerfile").read_text().split("\nFROM python:3.11-slim\n", 1)[1]
    environment = dict(re.findall(r"(GATEHOUSE_(?:STATIC_ROOT|DATA_DIR))=(\S+)", final))
    assert not Path(environment["GATEHOUSE_STATIC_ROOT"]).is_relative_to(environment["GATEHOUSE_DATA_DIR"])
    collect = final.index("manage.py collectstatic --noinput")
    assert final.index("GATEHOUSE_STATIC_ROOT=") < collect < final.index("\nUSER ")
