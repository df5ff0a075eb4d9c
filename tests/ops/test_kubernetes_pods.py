"""The pods' own commands, run here against the real stack with the ConfigMap's settings: the init
container lets a migrated database through, the web and gRPC processes answer their probes as the
manifests send them, and each process stops on SIGTERM within the time its pod gives it. (No
cluster: the containers' paths, addresses and the services' URLs are this machine's.)"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.ops.test_kubernetes import CONFIG, OVERLAYS, SECRET, by_kind, shutdown, wait_for_migrations, web_command
from tests.support.processes import Process, free_port, port_open, subprocess_env

pytestmark = pytest.mark.stack

URLS = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}


@pytest.fixture
def pod_env(transactional_db, tmp_path):
    """The pods' environment (base/config.env and the Secret's example), with this machine's
    services, the test database, and an events exchange of this test's own."""
    env = subprocess_env(**CONFIG, **{name: value for name, value in SECRET.items() if name not in URLS})
    env |= {name: os.environ[name] for name in URLS}
    env |= {
        "SECRET_KEY": "test-only-secret-key-not-for-any-deployment-0123456789",
        "GATEHOUSE_EVENTS_EXCHANGE": f"test-k8s-{uuid.uuid4().hex[:10]}.events",
        "GATEHOUSE_DATA_DIR": str(tmp_path / "var"),  # the image's /app/var
        # The image's PATH starts with its virtual environment: `python`, `gunicorn`, `celery`.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    return env


def container(overlay: str, name: str) -> dict:
    return by_kind(overlay, "Deployment")[name]["spec"]["template"]["spec"]["containers"][0]


def run_as_pod(command: list[str], tmp_path, **ports: str) -> list[str]:
    """A container's command with the pod's emptyDir (/tmp) and its listening address made local."""
    command = [part.replace("/tmp/", f"{tmp_path}/") for part in command]
    for address, local in ports.items():
        command = [part.replace(address, local) for part in command]
    return command


def stop_within(process: Process, seconds: float) -> float:
    started = time.monotonic()
    os.killpg(process.popen.pid, signal.SIGTERM)
    process.popen.wait(timeout=seconds + 5)
    took = time.monotonic() - started
    assert process.popen.returncode in (0, -signal.SIGTERM), process.output()[-2000:]
    assert took < seconds, f"{process.name} took {took:.1f}s to stop; its pod gives it {seconds}s"
    return took


def test_the_init_container_lets_a_migrated_database_through(pod_env):
    started = time.monotonic()
    result = subprocess.run(wait_for_migrations()["command"], env=pod_env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "waiting for the migrations" not in result.stdout
    assert time.monotonic() - started < 60


def get(port: int, path: str, host: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_web_pod_answers_its_probes_and_stops_within_its_grace(overlay, pod_env, tmp_path):
    web = container(overlay, "gatehouse-web")
    port = free_port()
    command = run_as_pod(web_command(overlay), tmp_path, **{"0.0.0.0:8000": f"127.0.0.1:{port}"})
    if overlay == "split":  # its readiness would ask the gRPC Services, which do not run here
        pod_env |= {f"{service}_GRPC_TARGET": "" for service in ("USERS", "AUTH", "PERMISSIONS", "NOTIFICATIONS")}
    env = pod_env | {item["name"]: item["value"] for item in web["env"]}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
    process = Process("web", command, env=env, log_dir=tmp_path)
    try:
        process.wait_until(lambda: port_open(port), timeout=60)
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            action = web[probe]["httpGet"]
            (header,) = action["httpHeaders"]
            host = CONFIG["ALLOWED_HOSTS"].split(",")[0] if header["value"] == "ALLOWED_HOST" else header["value"]
            assert get(port, action["path"], host) == 200, (probe, process.output()[-2000:])
        # The pod's own address, which the kubelet would send without the header, is refused.
        assert get(port, "/healthz", f"127.0.0.1:{port}") == 400
        grace, pre_stop, _ = shutdown(by_kind(overlay, "Deployment")["gatehouse-web"])
        stop_within(process, grace - pre_stop)
    finally:
        process.stop()


def test_the_grpc_pod_answers_its_probe_and_stops_within_its_grace(pod_env, tmp_path):
    deployment = by_kind("monolith", "Deployment")["gatehouse-grpc"]
    grpc_container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert grpc_container["livenessProbe"]["grpc"] == grpc_container["readinessProbe"]["grpc"] == {"port": 50051}
    port = free_port()
    command = run_as_pod(grpc_container["command"], tmp_path)
    command[command.index("--port") + 1] = str(port)
    command[command.index("--host") + 1] = "127.0.0.1"
    process = Process("grpc", command, env=pod_env, log_dir=tmp_path)
    try:

        def serving() -> bool:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
            return reply.status == health_pb2.HealthCheckResponse.SERVING

        process.wait_until(serving, timeout=60, what="SERVING")
        grace, pre_stop, _ = shutdown(deployment)
        stop_within(process, grace - pre_stop)
    finally:
        process.stop()


def test_the_relay_pod_stops_within_its_grace(pod_env, tmp_path):
    deployment = by_kind("monolith", "Deployment")["gatehouse-relay"]
    process = Process("relay", container("monolith", "gatehouse-relay")["command"], env=pod_env, log_dir=tmp_path)
    try:
        process.wait_until(lambda: "relaying outbox" in process.output(), timeout=60, what="relaying")
        grace, _, _ = shutdown(deployment)
        stop_within(process, grace)
    finally:
        process.stop()
