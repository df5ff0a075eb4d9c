"""deploy/kubernetes holds together with the code, read without a cluster (CI renders, validates
and scans the overlays themselves): the ConfigMap and the Secret provide every setting the code
reads and nothing else, the pods run the Procfiles' commands, the split Ingress routes what the
route table says, and the shutdown times cover what each process does on SIGTERM."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from gateway.routes import APP_SERVICES
from project.rpc.management.commands.grpcserve import Command as GrpcServe
from tests.ops.test_compose import procfile
from tests.ops.test_compose_split import procfile_split
from tests.ops.test_docs import settings_variables

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("monolith", "split")
# Each process names itself to the gRPC services it calls (program, command and pod name by
# default): one shared value would make every caller the same.
PER_PROCESS = {"GATEHOUSE_SERVICE_IDENTITY"}
SECRETS = {
    "SECRET_KEY",
    "GATEHOUSE_GRPC_TOKEN",
    "GATEHOUSE_METRICS_TOKEN",
    "NOTIFICATIONS_WEBHOOK_SECRET",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
}


def env_file(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def documents(*paths: Path) -> list[dict]:
    return [doc for path in paths for doc in yaml.safe_load_all(path.read_text()) if doc]


def resources(overlay: str) -> list[dict]:
    """The objects an overlay renders, before kustomize's transformations: the base's and its own."""
    files = [*(K8S / "base").glob("*.yaml"), *(K8S / "overlays" / overlay).glob("*.yaml")]
    return [doc for doc in documents(*files) if "kind" in doc and doc["kind"] != "Kustomization"]


def by_kind(overlay: str, kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in resources(overlay) if doc["kind"] == kind}


def kustomization(*parts: str) -> dict:
    return yaml.safe_load((K8S.joinpath(*parts) / "kustomization.yaml").read_text())


def wait_for_migrations() -> dict:
    """The init container components/pods gives every Deployment's pods."""
    (operation,) = yaml.safe_load((K8S / "components" / "pods" / "wait-for-migrations.yaml").read_text())
    (container,) = operation["value"]
    return container


CONFIG = env_file(K8S / "base" / "config.env")
SECRET = env_file(K8S / "base" / "secrets.env.example")


def settings_read() -> set[str]:
    source = (ROOT / "project" / "settings.py").read_text()
    names = settings_variables() | set(re.findall(r"os\.environ\.get\(\"([A-Z][A-Z0-9_]*)\"", source))
    assert 'f"{_service.upper()}_DATABASE_URL"' in source  # the one name settings_variables cannot see
    return names | {f"{service.upper()}_DATABASE_URL" for service in settings.GATEHOUSE_SERVICE_APP_LABELS}


def test_the_configmap_and_the_secret_provide_every_setting_the_code_reads_and_nothing_else():
    read = settings_read()
    assert {"SECRET_KEY", "AUTH_DATABASE_URL", "GATEHOUSE_DATA_DIR", "USERS_GRPC_TARGET"} <= read  # the scan works
    provided = set(CONFIG) | set(SECRET)
    assert read - provided == PER_PROCESS
    assert provided - read == set(), "set in the ConfigMap or the Secret, read by nothing"
    assert not set(CONFIG) & set(SECRET)
    assert not PER_PROCESS & provided


def test_the_generators_read_those_files_and_every_container_gets_both():
    base = kustomization("base")
    assert base["configMapGenerator"] == [{"name": "gatehouse-config", "envs": ["config.env"]}]
    assert base["secretGenerator"] == [{"name": "gatehouse-secrets", "envs": ["secrets.env"]}]
    # The split overlay only changes settings the base already provides.
    assert set(env_file(K8S / "overlays" / "split" / "split.env")) <= set(CONFIG)
    for overlay in OVERLAYS:
        workloads = [*by_kind(overlay, "Deployment").values(), *by_kind(overlay, "Job").values()]
        containers = [c for workload in workloads for c in workload["spec"]["template"]["spec"]["containers"]]
        for container in [*containers, wait_for_migrations()]:
            assert container["envFrom"] == [
                {"configMapRef": {"name": "gatehouse-config"}},
                {"secretRef": {"name": "gatehouse-secrets"}},
            ], container["name"]


def test_the_secret_is_an_example_with_placeholders_and_the_real_one_is_never_committed():
    assert set(SECRET) >= SECRETS
    for name, value in SECRET.items():
        assert not value or "change-me" in value, f"secrets.env.example carries a real {name}?"
    assert SECRET["SECRET_KEY"] == SECRET["GATEHOUSE_GRPC_TOKEN"] == "change-me"
    assert "deploy/kubernetes/**/secrets.env" in (ROOT / ".gitignore").read_text().splitlines()
    tracked = subprocess.run(["git", "ls-files", "deploy"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "secrets.env" not in {Path(path).name for path in tracked.stdout.splitlines()}
    assert "deploy" in (ROOT / ".dockerignore").read_text().splitlines(), "secrets.env would enter the image's build"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_configuration_passes_djangos_deployment_checks(overlay):
    """The values parse, and production settings hold: `check --deploy` with exactly the pods'
    environment (a real-looking SECRET_KEY in place of the example's placeholder)."""
    environment = {"PATH": os.environ["PATH"], **CONFIG, **SECRET, "SECRET_KEY": secrets.token_urlsafe(50)}
    if overlay == "split":
        environment |= env_file(K8S / "overlays" / "split" / "split.env")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    # The image's build collects the static files into /app/static (the Dockerfile); not here.
    assert set(re.findall(r"\((\w+\.[EW]\d+)\)", result.stderr)) == {"gatehouse.W003"}, result.stderr


def exec_line(command: list[str]) -> list[str]:
    """The command a process runs, from a container's command or a Procfile line: the last step of a
    shell line, without `exec` and with addresses, ports and file locations left out."""
    if command[:2] == ["sh", "-c"]:
        command = shlex.split(command[2].split("&&")[-1])
    tokens = [token for token in command if token != "exec" and not token.startswith("PROMETHEUS_MULTIPROC_DIR=")]
    return [
        "*" if index and tokens[index - 1] in {"--host", "--port", "--bind", "--schedule"} else token
        for index, token in enumerate(tokens)
    ]


def procfile_command(line: str) -> list[str]:
    return exec_line(["sh", "-c", line])


def container_command(deployment: dict) -> list[str]:
    return deployment["spec"]["template"]["spec"]["containers"][0]["command"]


def web_command(overlay: str) -> list[str]:
    """The web container's command, with the split overlay's patch (overlays/split/web.yaml) applied."""
    command = container_command(by_kind(overlay, "Deployment")["gatehouse-web"])
    if overlay == "split":
        (patch,) = yaml.safe_load((K8S / "overlays" / "split" / "web.yaml").read_text())
        assert (patch["op"], patch["path"]) == ("replace", "/spec/template/spec/containers/0/command/2")
        command = [*command[:2], patch["value"]]
    return command


def test_the_monolith_runs_the_procfiles_processes_with_their_commands():
    deployments = by_kind("monolith", "Deployment")
    assert set(deployments) == {f"gatehouse-{name}" for name in procfile()}
    for name, line in procfile().items():
        assert exec_line(container_command(deployments[f"gatehouse-{name}"])) == procfile_command(line), name


def test_the_split_overlay_runs_procfile_splits_processes_with_their_commands():
    deployments = by_kind("split", "Deployment")
    lines = procfile_split()
    # nginx is the Ingress; web1 and web2 are the replicas of one Deployment.
    names = {"web1": "gatehouse-web", "web2": "gatehouse-web", "worker": "gatehouse-worker-notifications"}
    names |= {name: f"gatehouse-grpc-{name}" for name in ("users", "auth", "permissions", "notifications")}
    expected = {names.get(name, f"gatehouse-{name}") for name in lines if name != "nginx"}
    assert set(deployments) == expected
    for name, line in lines.items():
        if name == "nginx":
            continue
        deployment = deployments[names.get(name, f"gatehouse-{name}")]
        command = web_command("split") if name.startswith("web") else container_command(deployment)
        assert exec_line(command) == procfile_command(line), name


def ingress_paths(overlay: str) -> list[tuple[str, str]]:
    (ingress,) = by_kind(overlay, "Ingress").values()
    (rule,) = ingress["spec"]["rules"]
    assert {path["pathType"] for path in rule["http"]["paths"]} == {"Prefix"}
    return [(path["path"], path["backend"]["service"]["name"]) for path in rule["http"]["paths"]]


def test_the_split_ingress_routes_each_app_service_prefix_to_its_pool_as_the_route_table_says():
    pool = {service.name: "gatehouse-web-" + service.name.replace("_", "-") for service in APP_SERVICES}
    expected = [(location, pool[service.name]) for service in APP_SERVICES for location in service.locations]
    assert ingress_paths("split") == [*expected, ("/", "gatehouse-web")]
    services = by_kind("split", "Service")
    web_pods = by_kind("split", "Deployment")["gatehouse-web"]["spec"]["template"]["metadata"]["labels"]
    for name in {*pool.values(), "gatehouse-web"}:
        assert services[name]["spec"]["selector"].items() <= web_pods.items(), name


def test_the_monolith_ingress_sends_everything_to_the_web_pods():
    assert ingress_paths("monolith") == [("/", "gatehouse-web")]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_serves_a_host_the_web_pods_answer_to(overlay):
    (ingress,) = by_kind(overlay, "Ingress").values()
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts == {host for tls in ingress["spec"]["tls"] for host in tls["hosts"]}
    assert hosts <= set(CONFIG["ALLOWED_HOSTS"].split(","))


def test_grpc_pods_take_connections_only_from_gatehouses_own_pods():
    policies = by_kind("monolith", "NetworkPolicy")
    assert policies["gatehouse-default-deny-ingress"]["spec"] == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "gatehouse"}},
        "policyTypes": ["Ingress"],
    }
    grpc = policies["gatehouse-grpc"]["spec"]
    assert grpc["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gatehouse"}}}],
            "ports": [{"protocol": "TCP", "port": 50051}],
        }
    ]
    for overlay in OVERLAYS:
        for name, deployment in by_kind(overlay, "Deployment").items():
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            serves_grpc = "grpcserve" in " ".join(deployment["spec"]["template"]["spec"]["containers"][0]["command"])
            assert (grpc["podSelector"]["matchLabels"].items() <= labels.items()) == serves_grpc, name


def shutdown(deployment: dict) -> tuple[int, int, int]:
    """(terminationGracePeriodSeconds, preStop sleep, the seconds the process takes to stop)."""
    spec = deployment["spec"]["template"]["spec"]
    container = spec["containers"][0]
    command = " ".join(container["command"])
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    if "gunicorn" in command:
        stop = int(re.search(r"--graceful-timeout (\d+)", command).group(1))
    elif "grpcserve" in command:
        grace = re.search(r"--grace (\S+)", command)
        default = GrpcServe().create_parser("manage.py", "grpcserve").parse_args([]).grace
        stop = float(grace.group(1)) if grace else default
    else:
        stop = 0
    return spec["terminationGracePeriodSeconds"], pre_stop, stop


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_pod_gets_time_to_leave_the_service_and_finish_what_it_serves(overlay):
    for name, deployment in by_kind(overlay, "Deployment").items():
        grace, pre_stop, stop = shutdown(deployment)
        assert grace > pre_stop + stop, name
        if deployment["spec"]["template"]["spec"]["containers"][0].get("ports"):
            assert pre_stop >= 5, f"{name} takes traffic: it must wait for the endpoints to drop it"


def test_beat_is_one_pod_replaced_by_stopping_the_old_one_first():
    for overlay in OVERLAYS:
        beat = by_kind(overlay, "Deployment")["gatehouse-beat"]
        assert beat["spec"]["replicas"] == 1
        assert beat["spec"]["strategy"] == {"type": "Recreate"}
        autoscalers = by_kind(overlay, "HorizontalPodAutoscaler").values()
        assert "gatehouse-beat" not in {hpa["spec"]["scaleTargetRef"]["name"] for hpa in autoscalers}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_an_autoscaled_deployment_leaves_its_replicas_to_the_autoscaler(overlay):
    autoscaled = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in by_kind(overlay, "HorizontalPodAutoscaler").values()}
    deployments = by_kind(overlay, "Deployment")
    assert autoscaled <= set(deployments)
    assert {"gatehouse-web"} <= autoscaled
    for name, deployment in deployments.items():
        assert ("replicas" in deployment["spec"]) == (name not in autoscaled), name


def test_the_migrations_and_the_wait_for_them_cover_every_database():
    databases = {"DATABASE_URL"} | {f"{s.upper()}_DATABASE_URL" for s in settings.GATEHOUSE_SERVICE_APP_LABELS}
    (job,) = by_kind("monolith", "Job").values()
    wait = wait_for_migrations()
    for container, check in ((job["spec"]["template"]["spec"]["containers"][0], ""), (wait, " --check")):
        script = container["command"][2]
        assert set(re.findall(r"\"\$((?:[A-Z]+_)?DATABASE_URL)\"", script)) == databases
        assert f'DATABASE_URL="$url" python manage.py migrate{check}' in script
        assert {env["name"]: env["value"] for env in container["env"]} == {
            f"{s.upper()}_GRPC_TARGET": "" for s in ("users", "auth", "permissions", "notifications")
        }
    for overlay in OVERLAYS:
        assert kustomization("overlays", overlay)["components"] == ["../../components/pods"]
