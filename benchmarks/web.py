"""HTTP helpers for scenarios 2 and 3: wrk with a JSON POST, a plain client, Gatehouse's server."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
import time
import urllib.parse
import uuid

from benchmarks import stack

PASSWORD = "correct horse battery staple 42"


def wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    body: dict | None = None,
    token: str | None = None,
    form: dict | None = None,
    authorization: str | None = None,
) -> float:
    """Requests per second that wrk (1 thread) gets from `url`; a POST of `body` as JSON (or of
    `form` form-encoded) if given. Any non-2xx answer makes the figure meaningless, so it raises."""
    script = stack.LOG_DIR / f"wrk-{uuid.uuid4().hex}.lua"
    lines = []
    if body is not None:
        lines += ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(body))}"]
        lines += ['wrk.headers["Content-Type"] = "application/json"']
    if form is not None:
        lines += ['wrk.method = "POST"', f"wrk.body = {json.dumps(urllib.parse.urlencode(form))}"]
        lines += ['wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"']
    if token:
        authorization = f"Bearer {token}"
    if authorization:
        lines += [f'wrk.headers["Authorization"] = {json.dumps(authorization)}']
    stack.LOG_DIR.mkdir(parents=True, exist_ok=True)
    script.write_text("\n".join(lines) + "\n")
    try:
        out = subprocess.run(  # noqa: S603
            [
                shutil.which("wrk") or "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        ).stdout
    finally:
        script.unlink(missing_ok=True)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise RuntimeError(f"{url}: {bad.group(1)} non-2xx answers under wrk:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def post(port: int, path: str, body: dict, token: str | None = None) -> tuple[int, dict, float]:
    """One POST on a fresh connection: (status, JSON answer, seconds)."""
    headers = {"Content-Type": "application/json", "Host": "127.0.0.1"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    started = time.perf_counter()
    # A cold worker imports the whole app on its first request: on a loaded machine, tens of seconds.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    elapsed = time.perf_counter() - started
    try:
        answer = json.loads(data or b"{}")
    except ValueError:
        raise RuntimeError(f"POST {path} answered {response.status} with no JSON: {data[:500]!r}") from None
    return response.status, answer, elapsed


def gatehouse_server(ctx, name: str = "gatehouse-web", workers: int = 2):
    port = stack.free_port()
    return port, stack.gunicorn(name, "project.wsgi", env=stack.gatehouse_env(ctx.db), port=port, workers=workers)


def bench_user(email: str) -> uuid.UUID:
    """A verified, active user with the bench password (through the users service)."""
    from users.interface import user_service

    return user_service.create_user(email=email, password=PASSWORD, is_verified=True).id


def login(port: int, email: str) -> str:
    status, body, _ = post(port, "/api/v1/auth/token", {"email": email, "password": PASSWORD})
    if status != 200:
        raise RuntimeError(f"login answered {status}: {body}")
    return body["access_token"]
