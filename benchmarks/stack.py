"""What the benchmarks run against: dedicated PostgreSQL databases (`bench_*`, created and dropped
here), a Redis database and a RabbitMQ vhost of their own, and the servers (gunicorn, grpcserve,
Celery, nginx) started as subprocesses on free ports and stopped by process id afterwards.

Settings come from the environment: BENCH_PG (a libpq URL of the server, default
postgres://postgres@127.0.0.1:5432), BENCH_REDIS_URL (default redis://127.0.0.1:6379/7),
BENCH_BROKER_URL (default amqp://guest:guest@127.0.0.1:5672/h6), BENCH_DB_SUFFIX (appended to the
database names, so that two runs on one PostgreSQL server do not drop each other's databases).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/h6")
DB_SUFFIX = os.environ.get("BENCH_DB_SUFFIX", "")
GATEHOUSE_DB = f"bench_gatehouse{DB_SUFFIX}"
PEER_DB = f"bench_peer{DB_SUFFIX}"
LOG_DIR = ROOT / "var" / "bench"

_SECRET = secrets.token_urlsafe(50)
_GRPC_TOKEN = secrets.token_urlsafe(32)


def database_url(name: str) -> str:
    return f"{PG}/{name}"


def create_database(name: str) -> str:
    assert name.startswith("bench_"), name
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(name)


def drop_database(name: str) -> None:
    assert name.startswith("bench_"), name
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def gatehouse_env(db_name: str, **extra: str) -> dict[str, str]:
    """Production-like settings for Gatehouse on the bench's own database, cache and vhost."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_GRPC_TARGET")}
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings",
        DATABASE_URL=database_url(db_name),
        REDIS_URL=REDIS_URL,
        CELERY_BROKER_URL=BROKER_URL,
        SECRET_KEY=_SECRET,
        GATEHOUSE_GRPC_TOKEN=_GRPC_TOKEN,
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="0",
        LOG_LEVEL="WARNING",
        # The edge's rate limits would cap a load generator at a few requests a second.
        GATEHOUSE_RATELIMIT_ANON="100000000/min",
        GATEHOUSE_RATELIMIT_USER="100000000/min",
        GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP="100000000",
        GATEHOUSE_ACCESS_TOKEN_TTL="3600",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def use_gatehouse_settings(db_name: str, **extra: str) -> None:
    """Configure this process as Gatehouse (before django.setup())."""
    os.environ.update(gatehouse_env(db_name, **extra))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


@contextlib.contextmanager
def process(name: str, args: list[str], *, env: dict[str, str], port: int | None = None, cwd: Path = ROOT):
    """Run `args` for the duration of the block; its output goes to var/bench/<name>.log."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = open(LOG_DIR / f"{name}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
    try:
        if port is not None:
            wait_for_port(port, proc=proc)
        yield proc
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        # The process group this module started (start_new_session): gunicorn's and Celery's children too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def gunicorn(name: str, app: str, *, env: dict[str, str], port: int, workers: int = 2):
    return process(
        name,
        [
            PY,
            "-m",
            "gunicorn",
            app,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--no-control-socket",
            "--log-level",
            "warning",
        ],
        env=env,
        port=port,
    )


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PY, "manage.py", *args], env=env, cwd=ROOT, check=True, capture_output=True)  # noqa: S603


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def peer_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="benchmarks.peer.settings",
        BENCH_PEER_DATABASE_URL=database_url(PEER_DB),
        SECRET_KEY=_SECRET,
        PYTHONUNBUFFERED="1",
    )
    return env


class PeerWorker:
    """The peers' process (benchmarks.peer.worker) on a fresh `bench_peer` database."""

    def __init__(self) -> None:
        create_database(PEER_DB)
        self.proc = subprocess.Popen(  # noqa: S603
            [PY, "-m", "benchmarks.peer.worker"],
            env=peer_env(),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def call(self, **request) -> dict:
        import json

        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the peer worker exited ({self.proc.wait()}); see its stderr above")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        stop(self.proc)
        drop_database(PEER_DB)

    def __enter__(self) -> PeerWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
