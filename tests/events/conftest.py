"""Fixtures of the event tests.

Stack tests get their own events exchange (and so their own queues) per test, deleted afterwards:
nothing leaks between tests, and nothing is taken from, or left for, other processes sharing
the broker. Workers are real `celery worker` subprocesses on the test database.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from project.events.relay import resume_fast_path
from project.events.topology import queue_name
from tests.support.processes import Process, subprocess_env


@pytest.fixture(autouse=True)
def _fast_path_not_paused():
    resume_fast_path()
    yield
    resume_fast_path()


@pytest.fixture
def start_worker(broker, tmp_path: Path):
    """Start a `celery worker` hosting the probe consumer (and tasks sent to `broker.task_queue`);
    returns once it consumes the probe queue. Workers still running at the end are stopped."""
    started: list[Process] = []

    def start(name: str = "worker", *, pool: str = "solo", **env: str) -> Process:
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "project",
            "worker",
            "-l",
            "info",
            "-P",
            pool,
            "--concurrency",
            "1",
            "-Q",
            broker.task_queue,
            "-n",
            f"{broker.namespace}-{name}@%h",
            "--without-mingle",
            "--without-gossip",
        ]
        worker_env = subprocess_env(
            GATEHOUSE_EVENTS_EXCHANGE=broker.exchange_name,
            GATEHOUSE_EVENT_CONSUMERS="probe",
            GATEHOUSE_OUTBOX_SWEEP_AGE="0",
            CELERY_SKIP_CHECKS="1",
            **env,
        )
        process = Process(f"{name}-{len(started)}", args, env=worker_env, log_dir=tmp_path)
        started.append(process)
        process.wait_until(
            lambda: broker.consumer_count(queue_name("probe")) >= 1 and broker.consumer_count(broker.task_queue) >= 1,
            timeout=30,
            what="consuming",
        )
        return process

    yield start
    for process in started:
        process.stop(timeout=10)
