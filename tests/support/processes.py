"""Real processes for the tests: gRPC servers, Celery workers, relays, started as subprocesses
against the test database, and stopped (or killed) by the test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# How long a server a test starts may take to listen: start-up on a loaded 2-core CI machine.
LISTEN_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: this one's, pointed at the test database."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    env["GATEHOUSE_TEST_DATABASE_NAME"] = str(connection.settings_dict["NAME"])
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Process:
    """A child process with its output in a log file (printed if the test fails to start it)."""

    def __init__(self, name: str, args: list[str], *, env: dict[str, str], log_dir: Path, cwd: Path = ROOT):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until(self, ready: Callable[[], bool], *, timeout: float = 30.0, what: str = "ready") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.output()[-4000:]}")
            try:
                if ready():
                    return
            except Exception:  # not up yet
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not {what} within {timeout}s:\n{self.output()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, not a shutdown."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def manage(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def celery_worker(broker, consumer: str, *, log_dir: Path, name: str = "", pool: str = "solo", **env: str) -> Process:
    """A `celery worker` hosting the event consumer `consumer` and the tasks sent to the private task
    queue of `broker` (the fixture), on its private exchange; returned once it consumes both."""
    from project.events.topology import queue_name

    name = name or consumer
    args = [sys.executable, "-m", "celery", "-A", "project", "worker", "-l", "info", "-P", pool, "--concurrency", "1"]
    args += ["-Q", broker.task_queue, "-n", f"{broker.namespace}-{name}@%h", "--without-mingle", "--without-gossip"]
    env = subprocess_env(
        GATEHOUSE_EVENTS_EXCHANGE=broker.exchange_name,
        GATEHOUSE_EVENT_CONSUMERS=consumer,
        CELERY_SKIP_CHECKS="1",
        **env,
    )
    process = Process(f"{name}-{uuid.uuid4().hex[:6]}", args, env=env, log_dir=log_dir)
    try:
        process.wait_until(
            lambda: broker.consumer_count(queue_name(consumer)) >= 1 and broker.consumer_count(broker.task_queue) >= 1,
            timeout=30,
            what="consuming",
        )
    except BaseException:
        process.stop()
        raise
    return process
