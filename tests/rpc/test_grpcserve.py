"""`manage.py grpcserve`: what it serves, where, and how it starts and stops."""

import signal
import socket
import subprocess
import time
import urllib.request
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.processes import ROOT, free_port, manage, subprocess_env


def test_without_service_names_it_serves_every_core_service_with_a_servicer_and_says_where(start_server):
    server = start_server()
    with grpc.insecure_channel(server.target) as channel:
        for service in ("gatehouse.users.v1.UserService", "gatehouse.permissions.v1.PermissionService"):
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
    [started] = [r for r in server.log_records() if r["message"].startswith("grpcserve: serving")]
    assert started["address"] == server.target
    assert started["services"] == ["auth", "notifications", "permissions", "users"]
    assert "gatehouse.users.v1.UserService" in started["message"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_shuts_the_server_down_gracefully(start_server, signum):
    server = start_server("users")
    started = time.monotonic()
    server.process.popen.send_signal(signum)
    assert server.process.popen.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    messages = [r["message"] for r in server.log_records()]
    assert "grpcserve: stopped" in messages


def _grpcserve(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        manage("grpcserve", *args),
        cwd=ROOT,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_refuses_to_start_without_a_service_token():
    result = _grpcserve("users", "--port", str(free_port()), GATEHOUSE_GRPC_TOKEN="")
    assert result.returncode != 0
    assert "GATEHOUSE_GRPC_TOKEN is not set" in result.stderr


def test_it_refuses_a_service_that_has_no_servicer():
    result = _grpcserve("users", "nonsense", "--port", str(free_port()))
    assert result.returncode != 0
    assert "no gRPC servicer for 'nonsense'" in result.stderr


def test_it_refuses_a_port_that_is_taken():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = _grpcserve("users", "--port", str(taken.getsockname()[1]))
    assert result.returncode != 0
    assert "cannot serve on" in result.stderr


def test_it_counts_calls_per_method_and_status_for_prometheus(users_server, remote_users):
    from users.interface import UserNotFound

    with pytest.raises(UserNotFound):
        remote_users.get_user(user_id=uuid.uuid4())
    with urllib.request.urlopen(f"http://127.0.0.1:{users_server.metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    assert (
        'gatehouse_grpc_server_handled_total{grpc_code="NOT_FOUND",grpc_method="GetUser",'
        'grpc_service="gatehouse.users.v1.UserService"}' in text
    )
    assert 'gatehouse_grpc_server_handling_seconds_count{grpc_method="GetUser"' in text
