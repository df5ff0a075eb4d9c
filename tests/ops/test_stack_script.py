"""`scripts/stack` starts the whole stack without Docker, and it works end to end.

One run: the five Procfile processes (web, grpc, worker, beat, relay) against the test database,
Redis and RabbitMQ. The web process is ready, the gRPC process is healthy, a user created over gRPC
has its event published and consumed by a worker, an outbox row left to the relay is published, and
SIGTERM stops every process. Events go to an exchange of this test's own, deleted afterwards.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import timedelta

import grpc
import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kombu import Connection

from project.events.models import OutboxEvent
from tests.probe.handlers import CONSUMER, PROBE_EVENT
from tests.probe.models import Effect
from tests.support.processes import ROOT, Process, free_port, subprocess_env
from users.interface import USER_REGISTERED

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

PROCESSES = {"web", "grpc", "worker", "beat", "relay"}
STARTED = re.compile(r"^\S+ system\s+\| (\w+)\.1 started \(pid=(\d+)\)", re.MULTILINE)


def eventually(check: Callable[[], object], *, timeout: float, what: str, stack: Process):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if stack.popen.poll() is not None:
            pytest.fail(f"scripts/stack exited with {stack.popen.returncode}:\n{stack.output()[-6000:]}")
        try:
            result = check()
        except Exception as exc:  # not there yet
            last = exc
        else:
            if result:
                return result
        time.sleep(0.25)
    pytest.fail(f"{what} not within {timeout}s (last error: {last!r}):\n{stack.output()[-6000:]}")


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def grpc_serving(target: str, service: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def children(stack: Process) -> dict[str, int]:
    return {name: int(pid) for name, pid in STARTED.findall(stack.output())}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def delete_exchange_and_queues(exchange: str) -> None:
    from project.events.topology import all_queues

    with override_settings(GATEHOUSE_EVENTS_EXCHANGE=exchange), Connection(settings.CELERY_BROKER_URL) as conn:
        channel = conn.channel()
        for queue in all_queues():
            channel.queue_delete(queue.name)
        channel.exchange_delete(exchange)


@pytest.fixture
def stack(tmp_path):
    web_port, grpc_port = free_port(), free_port()
    exchange = f"gatehouse.events.test-{uuid.uuid4().hex[:12]}"
    env = subprocess_env(
        GATEHOUSE_ENV_FILE=str(tmp_path / "absent.env"),
        GATEHOUSE_STATE_DIR=str(tmp_path / "state"),
        GATEHOUSE_WEB_BIND=f"127.0.0.1:{web_port}",
        GATEHOUSE_GRPC_PORT=str(grpc_port),
        GATEHOUSE_EVENTS_EXCHANGE=exchange,
        GATEHOUSE_OUTBOX_SWEEP_AGE="0.5",
        WEB_CONCURRENCY="1",
        CELERY_CONCURRENCY="1",
        # Static files as deployed (tests.settings): from the manifest scripts/stack's collectstatic writes.
        GATEHOUSE_TEST_DEPLOYED_STATIC="1",
        GATEHOUSE_STATIC_ROOT=str(tmp_path / "static"),
    )
    env.pop("DEBUG", None)
    process = Process("stack", [str(ROOT / "scripts" / "stack")], env=env, log_dir=tmp_path)
    process.web = f"http://127.0.0.1:{web_port}"
    process.static_root = tmp_path / "static"
    process.grpc_target = f"127.0.0.1:{grpc_port}"
    try:
        yield process
    finally:
        pids = children(process)
        process.stop(timeout=30)
        for pid in pids.values():  # honcho gives each child its own session: a killed honcho leaves them
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)
        delete_exchange_and_queues(exchange)


def test_scripts_stack_runs_every_process_and_events_flow_end_to_end(stack):
    from users.rpc.client import GrpcUserService

    status = eventually(
        lambda: get_json(f"{stack.web}/readyz")[0] == 200 and get_json(f"{stack.web}/readyz")[1],
        timeout=120,
        what="web /readyz 200",
        stack=stack,
    )
    assert {name: check["status"] for name, check in status["checks"].items()} == {
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
    }
    # Issue 16 item 4: the web process (gunicorn, DEBUG off) serves the admin's static files, which
    # scripts/stack collected, under their hashed names and cached for good.
    hashed = json.loads((stack.static_root / "staticfiles.json").read_text())["paths"]["admin/css/base.css"]
    with urllib.request.urlopen(f"{stack.web}/static/{hashed}", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "max-age=315360000, public, immutable"
    eventually(lambda: grpc_serving(stack.grpc_target, ""), timeout=60, what="gRPC health", stack=stack)
    assert grpc_serving(stack.grpc_target, "gatehouse.users.v1.UserService")
    assert set(children(stack)) == PROCESSES

    # A write through the gRPC process: its event leaves through the outbox and reaches a consumer
    # hosted by the worker, over RabbitMQ.
    user = GrpcUserService(target=stack.grpc_target).create_user(email=f"stack-{uuid.uuid4().hex[:8]}@example.com")
    event = eventually(
        lambda: OutboxEvent.objects.filter(type=USER_REGISTERED, payload__user_id=str(user.id)).first(),
        timeout=10,
        what="the outbox row of the registration",
        stack=stack,
    )
    eventually(
        lambda: OutboxEvent.objects.get(id=event.id).published_at,
        timeout=30,
        what="the registration published",
        stack=stack,
    )
    eventually(
        lambda: Effect.objects.filter(consumer=CONSUMER, event_id=event.id).exists(),
        timeout=60,
        what="the worker consuming the registration",
        stack=stack,
    )

    # A row nobody published after commit: the relay process (or beat's sweeper) picks it up.
    stray = OutboxEvent.objects.create(
        type=PROBE_EVENT,
        producer="tests",
        occurred_at=timezone.now() - timedelta(seconds=10),
        payload={"marker": uuid.uuid4().hex},
    )
    eventually(
        lambda: OutboxEvent.objects.get(id=stray.id).published_at,
        timeout=30,
        what="the stray outbox row published by the relay",
        stack=stack,
    )
    eventually(
        lambda: Effect.objects.filter(consumer=CONSUMER, event_id=stray.id).count() == 1,
        timeout=60,
        what="the stray event consumed",
        stack=stack,
    )
    assert stack.popen.poll() is None, "a process of the stack died (honcho stops all when one exits)"

    pids = children(stack)
    stack.stop(timeout=30)
    assert stack.popen.returncode is not None
    assert not [name for name, pid in pids.items() if alive(pid)], stack.output()[-4000:]
