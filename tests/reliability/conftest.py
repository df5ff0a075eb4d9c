"""Shared pieces of the reliability and security suite (issue #8): principals, a real web server,
and a tally that every test prints (requests made / succeeded / failed)."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from kombu import Connection

from permissions.interface import ADMIN_ROLE
from project.events.relay import resume_fast_path
from project.events.topology import queue_name
from tests.probe.handlers import CONSUMER as PROBE
from tests.support.factories import SessionFactory, UserFactory
from tests.support.processes import Process, free_port, manage, port_open, subprocess_env


@dataclass
class Tally:
    """What a test measured: requests made, and how many answered as expected."""

    name: str
    made: int = 0
    succeeded: int = 0
    failed: int = 0
    statuses: Counter = field(default_factory=Counter)

    def record(self, ok: bool, status: int | None = None) -> None:
        self.made += 1
        if ok:
            self.succeeded += 1
        else:
            self.failed += 1
        if status is not None:
            self.statuses[status] += 1

    def report(self) -> str:
        by_status = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return f"[{self.name}] requests made {self.made}, succeeded {self.succeeded}, failed {self.failed}" + (
            f" (statuses {by_status})" if by_status else ""
        )


@pytest.fixture
def tally(request):
    measured = Tally(request.node.name)
    yield measured
    print("\n" + measured.report())


def new_user(*, admin: bool = False, email: str | None = None):
    return UserFactory(**({"email": email} if email else {}), roles=[ADMIN_ROLE] if admin else [])


def access_token_for(user) -> str:
    """A fresh session for the user, opened through the auth service (as POST /auth/token does)."""
    return SessionFactory(user=user).access_token


class Web:
    """A gunicorn process serving the project as deployed (DEBUG off), on a free port, with its JSON
    log in a file the test can read. `gunicorn_args` are added to its command line (e.g.
    `("--threads", "4")` for gthread workers)."""

    def __init__(self, name: str, *, log_dir: Path, gunicorn_args: tuple[str, ...] = (), **env: str):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        environment = subprocess_env(
            DEBUG="0",
            SECRET_KEY=django_settings.SECRET_KEY,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            **({"SECURE_SSL_REDIRECT": "false"} | env),
        )
        args = [sys.executable, "-m", "gunicorn", "project.wsgi", "-b", f"127.0.0.1:{self.port}", "-w", "2"]
        args += gunicorn_args
        self.process = Process(name, args, env=environment, log_dir=log_dir)
        try:
            self.process.wait_until(lambda: port_open(self.port) and self.call("GET", "/healthz")[0] == 200, timeout=60)
        except BaseException:
            self.process.stop()  # a server that never came up is not left running
            raise

    def call(
        self,
        method: str,
        path: str,
        body: dict | bytes | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict]:
        sent = {"Content-Type": "application/json"} | (headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data, headers=sent, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                return error.code, json.loads(raw) if raw else {}
            except ValueError:
                return error.code, {"raw": raw.decode(errors="replace")}

    def stop(self) -> None:
        self.process.stop()


@pytest.fixture
def stack(rabbit, tmp_path, settings):
    """Start processes against the throwaway broker (`rabbit`, the test module's fixture: a
    RabbitNode or a RabbitCluster, whose `queue_type` they declare), with a private events exchange."""
    exchange = exchange_name = f"fault-{uuid.uuid4().hex[:8]}.events"
    settings.CELERY_BROKER_URL = rabbit.url
    settings.GATEHOUSE_EVENTS_EXCHANGE = exchange
    settings.GATEHOUSE_EVENT_QUEUE_TYPE = rabbit.queue_type
    env = {
        "CELERY_BROKER_URL": rabbit.url,
        "GATEHOUSE_EVENTS_EXCHANGE": exchange,
        "GATEHOUSE_EVENT_QUEUE_TYPE": rabbit.queue_type,
        "GATEHOUSE_OUTBOX_SWEEP_AGE": "1",
        "CELERY_SKIP_CHECKS": "1",
    }
    started: list = []

    class Stack:
        exchange = exchange_name

        def web(self):
            web = Web("web", log_dir=tmp_path, **env)
            started.append(web.process)
            return web

        def relay(self, *, interval: float = 0.5, min_age: float = 1.0):
            args = manage("relay_outbox", "--interval", str(interval), "--min-age", str(min_age))
            process = Process(f"relay-{len(started)}", args, env=subprocess_env(**env), log_dir=tmp_path)
            started.append(process)
            process.wait_until(lambda: "relaying outbox" in process.output(), timeout=60, what="relaying")
            return process

        def worker(self):
            args = [
                *(sys.executable, "-m", "celery", "-A", "project", "worker", "-l", "info", "-P", "solo"),
                *("-Q", f"{exchange}.tasks", "-n", f"fault-{len(started)}@%h", "--without-mingle", "--without-gossip"),
            ]
            process = Process(
                f"worker-{len(started)}",
                args,
                env=subprocess_env(GATEHOUSE_EVENT_CONSUMERS=PROBE, **env),
                log_dir=tmp_path,
            )
            started.append(process)
            process.wait_until(lambda: consumers_of(rabbit, queue_name(PROBE)) >= 1, timeout=60, what="consuming")
            return process

    yield Stack()
    for process in started:
        process.stop(timeout=10)
    resume_fast_path()  # this process's fast path paused itself when the broker was down


def consumers_of(rabbit, queue: str) -> int:
    with Connection(rabbit.url, connect_timeout=1) as conn:
        return conn.default_channel.queue_declare(queue=queue, passive=True)[2]
