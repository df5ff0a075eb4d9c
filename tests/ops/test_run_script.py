"""`scripts/run`, the newcomer's first command, serves the API and the admin with nothing but Python:
no PostgreSQL, Redis or RabbitMQ, no variable set (SQLite, in-process cache and tasks)."""

from __future__ import annotations

import json
import os
import urllib.request

from tests.support.processes import ROOT, Process, free_port, port_open


def test_scripts_run_serves_api_and_admin_embedded(tmp_path):
    port = free_port()
    # Only what any shell has: the run must not depend on this test process's settings.
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'gatehouse.sqlite3'}"  # not the developer's own file
    run = Process("run", [str(ROOT / "scripts" / "run"), f"127.0.0.1:{port}"], env=env, log_dir=tmp_path)
    try:
        run.wait_until(lambda: port_open(port), timeout=120, what="listening")
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as response:
            assert response.status == 200
            assert json.loads(response.read()) == {"status": "ok"}
        with urllib.request.urlopen(f"{base}/readyz", timeout=10) as response:
            checks = json.loads(response.read())["checks"]
            assert checks["database"]["status"] == "ok"
            assert checks["broker"]["status"] == "embedded"
        with urllib.request.urlopen(f"{base}/admin/login/", timeout=10) as response:
            assert response.status == 200
            assert b"csrfmiddlewaretoken" in response.read()  # the login form itself
        with urllib.request.urlopen(f"{base}/api/schema/", timeout=10) as response:
            assert response.status == 200
    finally:
        run.stop()
    assert not port_open(port)
