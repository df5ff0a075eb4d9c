"""A live Gatehouse under gunicorn for the tests that talk to it as an outsider would (SCIM
clients, OpenID Connect clients): the monolith, or the split shape where the web process reaches
some core services over their real gRPC servers."""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.rpc.servers import start_grpcserve
from tests.support.processes import Process, free_port, port_open, subprocess_env


@contextmanager
def live_gatehouse(log_dir: Path, *, split: tuple[str, ...] = (), workers: int = 2) -> Iterator[str]:
    """Start gunicorn on a free port against the test database and yield its base URL, once
    `/healthz` answers. Each service named in `split` runs as its own `grpcserve` (no broker),
    and the web process reaches it through `<SERVICE>_GRPC_TARGET`. Every process has the base
    URL as its issuer, as a deployment's processes share one (docs/oidc.md)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env, servers = {"GATEHOUSE_ISSUER": base}, []
    try:
        for service in split:
            server = start_grpcserve(log_dir, service, name=service, CELERY_BROKER_URL="", GATEHOUSE_ISSUER=base)
            servers.append(server)
            env[f"{service.upper()}_GRPC_TARGET"] = server.target
        args = [sys.executable, "-m", "gunicorn", "project.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers)]
        process = Process("gatehouse", args, env=subprocess_env(**env), log_dir=log_dir)
        try:
            process.wait_until(lambda: port_open(port), timeout=60, what="listening")
            # Workers boot after the port opens: on a busy machine the first answer takes seconds.
            urllib.request.urlopen(f"{base}/healthz", timeout=60).close()
            yield base
        except BaseException:
            print(f"--- the last of {process.log_path}:\n{process.output()[-6000:]}")  # shown with the failure
            raise
        finally:
            process.stop()
    finally:
        for server in servers:
            server.process.stop()
