"""PgBouncer in transaction mode in front of the test database (`GATEHOUSE_TEST_PGBOUNCER=1`).

Debian's `pgbouncer`, started by the test session on a port of its own with a configuration in a
temporary directory. The test database is created and dropped directly on PostgreSQL (CREATE and
DROP DATABASE need no pooler, and a pooler's idle server connections would block the DROP); in
between, this process and every process a test starts connect through PgBouncer."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

BINARY_CANDIDATES = ("pgbouncer", "/usr/sbin/pgbouncer")
RUN_AS = "postgres"  # when started by root


def binary() -> str | None:
    for candidate in BINARY_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def version() -> str:
    out = subprocess.run([binary() or "pgbouncer", "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"PgBouncer (\S+)", out)
    return match.group(1) if match else out.strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgBouncer:
    """One PgBouncer in transaction mode forwarding every database name to one PostgreSQL server."""

    def __init__(self, *, server_host: str, server_port: int, user: str, password: str = ""):
        self.port = _free_port()
        self.user = user
        self.dir = Path(tempfile.mkdtemp(prefix="gh-pgbouncer-"))
        quoted_password = password.replace('"', '""')
        (self.dir / "userlist.txt").write_text(f'"{user}" "{quoted_password}"\n')
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={server_host} port={server_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            f"auth_type = {'md5' if password else 'trust'}\n"
            f"auth_file = {self.dir / 'userlist.txt'}\n"
            f"admin_users = {user}\n"
            # The mode under test: a server connection belongs to a client for one transaction only.
            "pool_mode = transaction\n"
            "max_client_conn = 2000\n"
            # Server connections per database: enough for the tests that hold several transactions
            # at once (row locks met by concurrent callers), few enough for a shared PostgreSQL.
            "default_pool_size = 25\n"
            "server_idle_timeout = 30\n"
            "stats_period = 1\n"
            f"logfile = {self.dir / 'pgbouncer.log'}\n"
            f"pidfile = {self.dir / 'pgbouncer.pid'}\n"
        )
        self.popen: subprocess.Popen | None = None

    def start(self) -> PgBouncer:
        args = [binary() or "pgbouncer", str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root: it drops to Debian's `postgres` user
            owner = pwd.getpwnam(RUN_AS)
            for path in [self.dir, *self.dir.iterdir()]:
                os.chown(path, owner.pw_uid, owner.pw_gid)
            args[1:1] = ["-u", RUN_AS]
        self.popen = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while True:
            if self.popen.poll() is not None:
                raise RuntimeError(f"pgbouncer exited with {self.popen.returncode}:\n{self.log()[-3000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer does not listen on {self.port}:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()  # SIGTERM: immediate shutdown, server connections closed
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        path = self.dir / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def admin(self, command: str) -> list[dict[str, object]]:
        """A `SHOW …` on the admin console (simple query protocol: the console knows no other)."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname="pgbouncer", autocommit=True
        ) as conn:
            cursor = psycopg.ClientCursor(conn)
            cursor.execute(command)
            names = [column.name for column in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def transactions(self, database: str) -> int:
        """Transactions PgBouncer has passed to `database` since it started."""
        return sum(int(row["total_xact_count"]) for row in self.admin("SHOW STATS") if row["database"] == database)


@contextlib.contextmanager
def route_through(bouncer: PgBouncer) -> Iterator[None]:
    """Point this process's default database, and the DATABASE_URL its children inherit, at
    `bouncer`; restore the direct route afterwards (with every connection to the bouncer closed)."""
    from django.conf import settings
    from django.db import connection, connections

    def reconnect(host: str, port: int | str) -> None:
        connections.close_all()
        connection.close_pool()
        for settings_dict in {id(d): d for d in (settings.DATABASES["default"], connection.settings_dict)}.values():
            settings_dict["HOST"], settings_dict["PORT"] = host, port

    db = settings.DATABASES["default"]
    direct = (db["HOST"], db["PORT"])
    direct_url = os.environ["DATABASE_URL"]
    reconnect("127.0.0.1", bouncer.port)
    routed_url, found = re.subn(r"@[^/@]*/", f"@127.0.0.1:{bouncer.port}/", direct_url, count=1)
    if not found:
        raise RuntimeError("DATABASE_URL names no user@host: write it as postgres://user@host:port/name")
    os.environ["DATABASE_URL"] = routed_url
    try:
        yield
    finally:
        os.environ["DATABASE_URL"] = direct_url
        reconnect(*direct)
