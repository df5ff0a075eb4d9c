"""nginx in front (issue 6): the configuration rendered from the route table, and the real thing
with two web processes behind it (stack mode: CI installs nginx)."""

from __future__ import annotations

import getpass
import http.client
import json
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from gateway.nginx import NginxSettings, pools_for, render
from gateway.routes import APP_SERVICES
from tests.support.processes import Process, free_port, port_open, subprocess_env


def test_each_app_service_gets_a_pool_and_its_locations():
    text = render(NginxSettings(pools={"gateway": ["10.0.0.1:8000", "10.0.0.2:8000"], "rbac": ["10.0.0.3:8000"]}))
    for service in APP_SERVICES:
        for location in service.locations:
            assert f"location {location} {{ proxy_pass http://gatehouse_{service.name}; }}" in text
    assert "location / { proxy_pass http://gatehouse_gateway; }" in text
    rbac = text.split("upstream gatehouse_rbac {")[1].split("}")[0]
    assert "least_conn;" in rbac
    assert "server 10.0.0.3:8000 max_fails=1 fail_timeout=10s;" in rbac
    assert "10.0.0.1" not in rbac
    # An app service without its own servers is served by every gateway instance (the monolith).
    users = text.split("upstream gatehouse_user_management {")[1].split("}")[0]
    assert "server 10.0.0.1:8000" in users and "server 10.0.0.2:8000" in users
    assert "keepalive 32;" in users
    assert "proxy_next_upstream error timeout http_502 http_504;" in text
    assert "proxy_set_header X-Request-ID $gatehouse_request_id;" in text
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in text


@pytest.mark.parametrize(
    ("pools", "message"),
    [
        ({}, "gateway"),
        ({"gateway": ["10.0.0.1:8000"], "billing": ["10.0.0.2:8000"]}, "unknown pools"),
        ({"gateway": ["10.0.0.1:8000; include /etc/passwd"]}, "not host:port"),
        ({"gateway": ["10.0.0.1"]}, "not host:port"),
    ],
)
def test_bad_pools_are_refused(pools, message):
    with pytest.raises(ValueError, match=message):
        pools_for(NginxSettings(pools=pools))


def test_the_command_renders_from_options_and_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GATEHOUSE_UPSTREAM_RBAC", "10.0.0.9:8000")
    out = tmp_path / "nginx.conf"
    call_command("gateway", "nginx-config", "--upstream", "gateway=10.0.0.1:8000,10.0.0.2:8000", "-o", str(out))
    text = out.read_text()
    assert "server 10.0.0.9:8000" in text.split("upstream gatehouse_rbac {")[1].split("}")[0]
    assert "client_max_body_size 1048576;" in text
    with pytest.raises(CommandError, match="POOL=HOST:PORT"):
        call_command("gateway", "nginx-config", "--upstream", "gateway")


# --- The real nginx ------------------------------------------------------------------------------


class Client:
    """HTTP to nginx from 127.0.0.2, so that the client is not the (trusted) proxy's address."""

    def __init__(self, port: int):
        self.port = port

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15, source_address=("127.0.0.2", 0))
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            raw = response.read()
            return response.status, dict(response.getheaders()), raw
        finally:
            connection.close()


class Stack:
    def __init__(self, tmp_path: Path, *, ratelimit: str = "1000000/min"):
        self.tmp = tmp_path
        self.webs: list[tuple[Process, int]] = []
        env = subprocess_env(
            DEBUG="0",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="false",
            GATEHOUSE_TRUSTED_PROXIES="127.0.0.1",
            GATEHOUSE_RATELIMIT_ANON=ratelimit,
        )
        for name in ("web-a", "web-b"):
            port = free_port()
            args = [sys.executable, "-m", "gunicorn", "project.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2"]
            process = Process(name, args, env=env, log_dir=tmp_path)
            self.webs.append((process, port))
        for process, port in self.webs:
            process.wait_until(lambda port=port: port_open(port), timeout=60)
        self.port = free_port()
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        self.conf = prefix / "nginx.conf"
        servers = ",".join(f"127.0.0.1:{port}" for _, port in self.webs)
        subprocess.run(
            [sys.executable, "manage.py", "gateway", "nginx-config", "--listen", f"127.0.0.1:{self.port}",
             "--upstream", f"gateway={servers}", "--prefix", str(prefix), "--worker-processes", "1",
             "--user", getpass.getuser(), "-o", str(self.conf)],
            env=env, check=True, cwd=Path(__file__).resolve().parents[2], capture_output=True,
        )  # fmt: skip
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        test = subprocess.run([nginx, "-t", "-p", str(prefix), "-c", str(self.conf)], capture_output=True, text=True)
        assert test.returncode == 0, test.stderr
        self.nginx = Process(
            "nginx", [nginx, "-p", str(prefix), "-c", str(self.conf), "-g", "daemon off;"], env=env, log_dir=tmp_path
        )
        self.access_log = prefix / "access.log"
        self.client = Client(self.port)
        self.nginx.wait_until(lambda: self.client.call("GET", "/healthz")[0] == 200, timeout=30)

    def stop(self):
        self.nginx.stop()
        for process, _ in self.webs:
            process.stop()


@pytest.fixture
def stack(tmp_path, transactional_db):
    if not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is not installed (CI installs it; apt-get install nginx-light)")
    started = Stack(tmp_path)
    yield started
    started.stop()


@pytest.mark.stack
def test_the_request_id_survives_nginx_and_reaches_the_web_process_log(stack):
    request_id = f"e2e-{uuid.uuid4().hex}"
    status, headers, _body = stack.client.call("GET", "/api/v1/users/me", headers={"X-Request-ID": request_id})
    assert status == 401
    assert headers["X-Request-ID"] == request_id
    time.sleep(0.3)  # logs are written after the response
    nginx_lines = [json.loads(line) for line in stack.access_log.read_text().splitlines()]
    assert any(line["request_id"] == request_id and line["status"] == 401 for line in nginx_lines)
    web_logs = "".join(process.output() for process, _ in stack.webs)
    assert request_id in web_logs
    # No sane id from the client: nginx makes one, and the web process uses the same one.
    status, headers, _ = stack.client.call("GET", "/api/v1/users/me", headers={"X-Request-ID": "bad id!"})
    made = headers["X-Request-ID"]
    assert made != "bad id!"
    time.sleep(0.3)
    assert any(json.loads(line)["request_id"] == made for line in stack.access_log.read_text().splitlines())


def _stream_while(stack, action, *, workers: int = 4) -> tuple[list[int], list[str], int]:
    """GETs from `workers` threads before, during and after `action()`; returns the statuses,
    the transport errors and how many requests were made after the action."""
    results: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def stream():
        while not stop.is_set():
            try:
                results.append(stack.client.call("GET", "/api/v1/users/me")[0])
            except Exception as exc:  # a failed request
                errors.append(repr(exc))

    threads = [threading.Thread(target=stream) for _ in range(workers)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    before = len(results) + len(errors)
    action()
    time.sleep(2.0)
    stop.set()
    for thread in threads:
        thread.join(timeout=20)
    return results, errors, len(results) + len(errors) - before


@pytest.mark.stack
def test_stopping_one_web_instance_during_a_stream_of_gets_fails_no_request(stack):
    """`kill` (SIGTERM): the instance finishes what it has and stops accepting; nginx sends the
    rest to the other instance, and retries any GET it could not connect for."""
    victim = stack.webs[0][0]
    results, errors, after = _stream_while(stack, lambda: victim.popen.send_signal(15))
    failed = len(errors) + sum(status != 401 for status in results)
    print(
        f"\n{len(results) + len(errors)} GETs ({after} after SIGTERM): {len(results) - failed} answered, {failed} failed"
    )
    assert after > 20
    assert errors == []
    assert set(results) == {401}, sorted(set(results))


@pytest.mark.stack
def test_crashing_one_web_instance_loses_at_most_the_responses_it_was_writing(stack):
    """SIGKILL: a GET the dead instance had not answered is retried on the other; one whose
    headers had already gone out cannot be (nginx has relayed them), so at most one request per
    worker of the killed instance (2) can fail. Every request after the crash is answered."""
    victim = stack.webs[0][0]
    results, errors, after = _stream_while(stack, victim.kill)
    failed = len(errors) + sum(status != 401 for status in results)
    print(f"\n{len(results) + len(errors)} GETs ({after} after SIGKILL): {len(results) - failed} answered, "
          f"{failed} failed {errors}")  # fmt: skip
    assert after > 20
    assert failed <= 2
    assert set(results) == {401}, sorted(set(results))


@pytest.mark.stack
def test_the_rate_limit_holds_across_two_instances_and_forwarded_headers_cannot_spoof_it(tmp_path, transactional_db):
    limited = Stack(tmp_path, ratelimit="20/min")
    try:
        statuses = [
            # A client that claims a new address on every call: nginx appends the one it saw.
            limited.client.call("GET", "/api/v1/users/me", headers={"X-Forwarded-For": f"198.51.100.{i}"})[0]
            for i in range(50)
        ]
        passed = sum(status != 429 for status in statuses)
        print(f"\n50 calls through nginx to 2 instances, limit 20: {passed} passed, {50 - passed} refused")
        assert passed == 20
        assert set(statuses) == {401, 429}
    finally:
        limited.stop()


@pytest.mark.stack
def test_nginx_answers_its_own_errors_in_the_contract_envelope(stack):
    status, headers, body = stack.client.call(
        "POST", "/api/v1/auth/register", body=b"x" * (1048576 + 10), headers={"Content-Type": "application/json"}
    )
    assert status == 413
    assert json.loads(body)["error"]["code"] == "request_too_large"
    for process, _ in stack.webs:
        process.kill()
    status, headers, body = stack.client.call("GET", "/api/v1/users/me")
    assert status == 503
    assert json.loads(body)["error"]["code"] == "service_unavailable"
    assert headers["Retry-After"] == "5"
