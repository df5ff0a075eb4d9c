"""One registration's trace, received by a real OTLP/gRPC receiver (the collector's trace service
from `opentelemetry-proto`, served with grpcio by this test), in both deployment shapes: a real
gunicorn (alone, or over gRPC to a real `grpcserve` of every core service), `relay_outbox`, a
prefork `celery worker` whose pool child is recycled after every task, and an SMTP sink.

The spans must come from the web process, the relay hop, the worker and the SMTP delivery, all in
the trace of the registration request (docs/operations.md, "Tracing"), and nothing exported may
hold the password, the verification token or the mail's body.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from concurrent import futures

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from project.events.topology import queue_name
from tests.rpc.servers import start_grpcserve
from tests.support.processes import LISTEN_TIMEOUT, Process, free_port, manage, port_open, subprocess_env
from tests.support.smtp import smtp_sink

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

PASSWORD = "Tracing-Secret-Passw0rd-9f3c"


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """Keeps every export request it is sent, as sent."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(self, request, context):
        with self.lock:
            self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self) -> list[dict]:
        """Every span received, flattened: name, ids (hex), kind, the process that sent it."""
        with self.lock:
            requests = list(self.requests)
        found = []
        for request in requests:
            for resource_spans in request.resource_spans:
                resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        found.append(
                            {
                                "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_id": span.parent_span_id.hex(),
                                "links": [link.trace_id.hex() for link in span.links],
                                "service": resource.get("service.name"),
                                "attributes": {a.key: _value(a.value) for a in span.attributes},
                            }
                        )
        return found

    def raw(self) -> bytes:
        with self.lock:
            return b"".join(request.SerializeToString() for request in self.requests)


def _value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


@pytest.fixture
def receiver():
    servicer = Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    servicer.endpoint = f"http://127.0.0.1:{port}"
    yield servicer
    server.stop(0)


def tracing_env(broker, receiver, smtp) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "tests.notifications.worker_settings",
        "GATEHOUSE_TEST_TASK_QUEUE": broker.task_queue,
        "GATEHOUSE_EVENTS_EXCHANGE": broker.exchange_name,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
        "GATEHOUSE_FRONTEND_URL": "http://frontend.example",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # export within a fraction of a second
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
    }


@pytest.fixture(params=["monolith", "split"])
def stack(request, broker, receiver, tmp_path):
    with smtp_sink() as smtp:
        env = tracing_env(broker, receiver, smtp)
        started: list[Process] = []
        # The process that writes the outbox row (web, or grpcserve of the users service) cannot
        # reach the broker, so its after-commit fast path gives up and the relay process publishes
        # the row: the trace must cross processes through the row itself.
        no_broker = f"amqp://guest:guest@127.0.0.1:{free_port()}/nowhere"
        try:
            web_env = {**env, "CELERY_BROKER_URL": no_broker}
            if request.param == "split":
                grpc_server = start_grpcserve(tmp_path, name="grpc", **{**env, "CELERY_BROKER_URL": no_broker})
                started.append(grpc_server.process)
                for service in ("USERS", "AUTH", "PERMISSIONS", "NOTIFICATIONS"):
                    web_env[f"{service}_GRPC_TARGET"] = grpc_server.target
            port = free_port()
            web = Process(
                "web",
                [sys.executable, "-m", "gunicorn", "project.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"],
                env=subprocess_env(**web_env),
                log_dir=tmp_path,
            )
            started.append(web)
            relay = Process(
                "relay",
                manage("relay_outbox", "--interval", "0.2", "--min-age", "0"),
                env=subprocess_env(**env),
                log_dir=tmp_path,
            )
            started.append(relay)
            # Prefork, its one child replaced after every task: the delivery's spans must survive it.
            worker_args = [sys.executable, "-m", "celery", "-A", "project", "worker", "-l", "info", "-P", "prefork"]
            worker_args += ["--concurrency", "1", "--max-tasks-per-child", "1", "-Q", broker.task_queue]
            worker_args += ["-n", f"{broker.namespace}-trace@%h", "--without-mingle", "--without-gossip"]
            worker = Process(
                "worker",
                worker_args,
                env=subprocess_env(GATEHOUSE_EVENT_CONSUMERS="auth,notifications", CELERY_SKIP_CHECKS="1", **env),
                log_dir=tmp_path,
            )
            started.append(worker)
            web.wait_until(lambda: port_open(port), timeout=LISTEN_TIMEOUT, what="listening")
            worker.wait_until(
                lambda: (
                    all(broker.consumer_count(queue_name(c)) >= 1 for c in ("auth", "notifications"))
                    and broker.consumer_count(broker.task_queue) >= 1
                ),
                timeout=60,
                what="consuming",
            )
            yield request.param, f"http://127.0.0.1:{port}", smtp, receiver
        finally:
            for process in reversed(started):
                process.stop()


def post(url: str, body: dict) -> tuple[int, dict, str]:
    """(status, JSON body, X-Request-ID)."""
    request = urllib.request.Request(
        url, json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}"), response.headers["X-Request-ID"]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), error.headers["X-Request-ID"]


def wait_for(check, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    pytest.fail(f"{what} not within {timeout}s")


def register_and_trace(base, smtp, receiver) -> tuple[dict[str, set[str]], str, str]:
    """Register a new user; once the verification mail arrived and its SMTP span with it, the
    names of the spans in the registration's trace by service, the mail's text and its token."""
    email = f"trace-{uuid.uuid4().hex[:8]}@example.com"
    status, body, request_id = post(f"{base}/api/v1/auth/register", {"email": email, "password": PASSWORD})
    assert status == 201, body

    mail = wait_for(lambda: smtp.to(email), timeout=60, what="the verification mail")[0]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    link = next(line.strip() for line in text.splitlines() if line.strip().startswith("http"))
    token = re.split(r"[=/#]", link)[-1]
    assert len(token) >= 20, link

    def trace():
        spans = receiver.spans()
        # The registration's server span, in the web process, found by the request id it answered.
        roots = [s for s in spans if s["attributes"].get("gatehouse.request_id") == request_id]
        if len(roots) != 1 or roots[0]["parent_id"] or roots[0]["service"] != "gatehouse-web":
            return None
        trace_id = roots[0]["trace_id"]
        in_trace = [s for s in spans if s["trace_id"] == trace_id or trace_id in s["links"]]
        return in_trace if any(s["name"] == "smtp.send" for s in in_trace) else None

    in_trace = wait_for(trace, timeout=30, what="the SMTP delivery's span in the registration's trace")
    names_by_service = defaultdict(set)
    for s in in_trace:
        names_by_service[s["service"]].add(s["name"])
    return names_by_service, text, token


def test_one_registration_is_one_trace_from_the_web_process_through_the_relay_and_worker_to_smtp(stack):
    shape, base, smtp, receiver = stack
    names_by_service, text, token = register_and_trace(base, smtp, receiver)

    # The relay process published the row, as a child of the request that wrote it; the consumers
    # in the worker are children of that publish.
    assert "users.user_registered publish" in names_by_service["gatehouse-relay"], names_by_service
    assert "users.user_registered process" in names_by_service["gatehouse-worker"], names_by_service
    assert "auth.email_verification_requested process" in names_by_service["gatehouse-worker"], names_by_service
    # The delivery task ran in a pool child (recycled right after it), and mailed through SMTP.
    assert "smtp.send" in names_by_service["gatehouse-worker"], names_by_service
    assert any(n.startswith("run/") for n in names_by_service["gatehouse-worker"]), names_by_service
    # The database calls show (psycopg).
    assert any(
        n.startswith(("INSERT", "SELECT", "BEGIN", "postgresql")) for ns in names_by_service.values() for n in ns
    )
    if shape == "split":
        # The user was created over gRPC: the server span in the grpcserve process is in the trace.
        assert any(n.startswith("/gatehouse.users.v1.UserService/") for n in names_by_service["gatehouse-grpc"])
        assert any(n.startswith("/gatehouse.users.v1.UserService/") for n in names_by_service["gatehouse-web"])

    # Nothing exported holds a secret: not the password, not the token, not the mail's body.
    raw = receiver.raw()
    assert PASSWORD.encode() not in raw
    assert token.encode() not in raw
    for line in (line.strip() for line in text.splitlines()):
        if len(line) > 24:
            assert line.encode() not in raw, line

    # A second registration: its mail goes out from the pool child that replaced the first, forked
    # from a main process whose exporter had been sending meanwhile. Its spans arrive too.
    names_by_service, _, token = register_and_trace(base, smtp, receiver)
    assert "smtp.send" in names_by_service["gatehouse-worker"], names_by_service
    assert token.encode() not in receiver.raw()
