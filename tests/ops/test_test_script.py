"""`scripts/test --stack` fails, never skips, when a service of the stack does not answer."""

from __future__ import annotations

import os
import subprocess

from tests.support.processes import ROOT, free_port


def test_stack_mode_fails_naming_each_service_that_does_not_answer():
    closed = free_port()  # nothing listens there
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env |= {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed}/gatehouse",
        "REDIS_URL": f"redis://127.0.0.1:{closed}/15",
        "CELERY_BROKER_URL": f"amqp://guest:secret@127.0.0.1:{closed}//",
    }
    result = subprocess.run(
        [str(ROOT / "scripts" / "test"), "--stack", "tests/gateway"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    for service in ("PostgreSQL unreachable", "Redis unreachable", "RabbitMQ unreachable"):
        assert service in output
    assert "passed" not in output and "skipped" not in output
    assert "secret" not in output.split("scripts/test --stack:")[1].splitlines()[0]  # password hidden
