"""Fixtures of the event tests.

Stack tests get their own events exchange (and so their own queues) per test, deleted afterwards:
nothing leaks between tests, and nothing is taken from, or left for, other processes sharing
the broker. Workers are real `celery worker` subprocesses on the test database.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from project.events.relay import resume_fast_path
from tests.support.processes import Process, celery_worker


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
        process = celery_worker(
            broker, "probe", log_dir=tmp_path, name=name, pool=pool, GATEHOUSE_OUTBOX_SWEEP_AGE="0", **env
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop(timeout=10)
