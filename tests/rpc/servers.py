"""`manage.py grpcserve` as the tests run it: a real server on a free port, on the test database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from project.rpc.health import grpc_target_health
from tests.support.processes import Process, free_port, manage, subprocess_env


@dataclass
class GrpcServe:
    process: Process
    port: int
    metrics_port: int | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log_records(self) -> list[dict[str, Any]]:
        """The server's JSON log lines so far (anything else it printed is left out)."""
        records = []
        for line in self.process.output().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records


def start_grpcserve(log_dir: Path, *args: str, name: str = "grpcserve", metrics: bool = False, **env: str) -> GrpcServe:
    """Start `grpcserve *args` on a free port and wait until its health service says SERVING.

    Needs the test database to exist (depend on django_db_setup): the child opens it.
    """
    port = free_port()
    metrics_port = free_port() if metrics else None
    extra = ["--metrics-port", str(metrics_port)] if metrics_port else []
    process = Process(
        name,
        manage("grpcserve", *args, "--port", str(port), "--grace", "2", *extra),
        env=subprocess_env(**env),
        log_dir=log_dir,
    )
    server = GrpcServe(process=process, port=port, metrics_port=metrics_port)
    try:
        process.wait_until(lambda: grpc_target_health(server.target, timeout=0.5) == "ok", what="serving")
    except BaseException:
        process.stop()
        raise
    return server
