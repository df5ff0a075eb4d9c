"""Throwaway servers for the fault tests (issue 8): a RabbitMQ node and a PostgreSQL cluster that
the test owns, on their own loopback ports and in a temporary directory, so that stopping, killing
and restarting them disturbs nothing else on the machine. The machine's own services (RabbitMQ on
5672, PostgreSQL on 5432) are never touched; `machine_services_answer()` checks they still do.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.db.models import Count
from kombu import Connection

from tests.probe.models import Effect
from tests.support.processes import Process, free_port, port_open

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
RABBITMQ_HOME = "/var/lib/rabbitmq"  # the Erlang cookie rabbitmqctl shares with every local node
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
            os.chown(name, entry.pw_uid, entry.pw_gid)


def _owned_dir(name: str, user: str) -> Path:
    """A fresh directory right under the system temp dir, owned by `user` (the server runs as it).
    Not under pytest's tmp_path: pytest makes /tmp/pytest-of-<user> 0700 again whenever any session
    starts, and the server's user would lose its way to its files in the middle of a test."""
    directory = Path(tempfile.mkdtemp(prefix=f"gatehouse-{name}-"))
    _chown_tree(directory, user)
    return directory


class RabbitNode:
    """A RabbitMQ node of its own (name `gh-<port>@localhost`, AMQP and distribution ports of its
    own, Mnesia and logs in a temporary directory) run as the `rabbitmq` user; its output goes to a
    file in `log_dir`. What it holds (durable queues, persistent messages) survives `stop()`/`kill()` and `start()` again, as a real restart."""

    queue_type = "classic"  # the GATEHOUSE_EVENT_QUEUE_TYPE its clients use

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.dist_port = free_port()
        self.name = f"gh-{self.port}@localhost"
        self.directory = _owned_dir(f"rabbit-{self.port}", "rabbitmq")
        plugins = self.directory / "enabled_plugins"
        plugins.write_text("[].\n")
        self._configure()
        self.process: Process | None = None
        self._started_once = False
        self._log_dir = log_dir

    def _configure(self) -> None:
        # The machine's /etc/rabbitmq/rabbitmq.conf names port 5672: this node gets its own file.
        (self.directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        _chown_tree(self.directory, "rabbitmq")
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")}
        env.update(
            HOME=RABBITMQ_HOME,
            RABBITMQ_NODENAME=self.name,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.directory / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.directory / "log"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.directory / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(self.directory / "rabbitmq.conf"),
            RABBITMQ_PID_FILE=str(self.directory / "node.pid"),
            RABBITMQ_LOGS="-",  # to stdout, i.e. the process's log file
            ERL_CRASH_DUMP=str(self.directory / "erl_crash.dump"),
        )
        return env

    def start(self, timeout: float = 90.0) -> float:
        """Start the node; returns once it accepts AMQP connections (seconds taken).

        A port picked free may be taken by another process before the node binds it: the node is
        then started again on other ports (only the distribution port once it has served, since
        clients know its AMQP port)."""
        started = time.monotonic()
        for attempt in range(3):
            args = ["runuser", "-u", "rabbitmq", "--", RABBITMQ_SERVER]
            name = f"rabbit-{self.port}-{time.monotonic_ns()}"
            self.process = Process(name, args, env=self._env(), log_dir=self._log_dir)
            try:
                self.process.wait_until(self.answers, timeout=timeout, what="accepting AMQP connections")
            except RuntimeError as exc:  # it exited: a port taken in the meantime?
                if attempt == 2 or not any(sign in str(exc) for sign in ("already_used", "eaddrinuse")):
                    raise
                self.process.stop()  # closes its log
                self.dist_port = free_port()
                if not self._started_once:
                    self.port = free_port()
                    self._configure()
                continue
            self._started_once = True
            return time.monotonic() - started
        raise AssertionError("unreachable")

    def answers(self) -> bool:
        if not port_open(self.port):
            return False
        with Connection(self.url, connect_timeout=1) as conn:
            conn.ensure_connection(max_retries=1)
            return True

    def kill(self) -> None:
        """SIGKILL the node (its whole process group): the broker crashes."""
        if self.process is not None:
            self.process.kill()

    def stop(self) -> None:
        """A clean shutdown (SIGTERM: RabbitMQ stops its listeners and flushes its queues)."""
        if self.process is not None:
            self.process.stop(timeout=30)
        self._wait_port_closed()

    def _wait_port_closed(self) -> None:
        deadline = time.monotonic() + 15
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """`rabbitmqctl -n <this node> <args>` (as the `rabbitmq` user, whose Erlang cookie every
        local node shares); returns its output."""
        done = subprocess.run(
            ["runuser", "-u", "rabbitmq", "--", RABBITMQCTL, "-n", self.name, *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} on {self.name}: {done.stdout}{done.stderr}")
        return done.stdout

    def close(self) -> None:
        if self.process is not None and self.process.popen.poll() is None:
            self.process.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


class RabbitCluster:
    """Three RabbitMQ nodes of their own (RabbitNode: names, AMQP and distribution ports, data and
    logs apart) joined into one cluster, for quorum queues. Clients get every node's URL in kombu's
    failover form (`amqp://…;amqp://…`), the first node first."""

    queue_type = "quorum"

    def __init__(self, log_dir: Path, size: int = 3):
        self.nodes = [RabbitNode(log_dir) for _ in range(size)]

    @property
    def url(self) -> str:
        return ";".join(node.url for node in self.nodes)

    def start(self) -> float:
        """Start the nodes (at once: a cold start takes seconds) and join the others to the first.
        Returns the seconds taken."""
        started = time.monotonic()
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda node: node.start(), self.nodes))
        first = self.nodes[0]
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.name)
            node.ctl("start_app")
            node.process.wait_until(node.answers, timeout=60, what="accepting AMQP connections after joining")
        running = json.loads(first.ctl("cluster_status", "--formatter", "json"))["running_nodes"]
        assert sorted(running) == sorted(node.name for node in self.nodes), running
        return time.monotonic() - started

    def leader_of(self, queue: str, *, asking: RabbitNode | None = None) -> RabbitNode:
        """The node that leads quorum queue `queue` (vhost /), as the cluster says."""
        asking = asking or self.nodes[0]
        rows = json.loads(asking.ctl("list_queues", "name", "type", "leader", "--formatter", "json"))
        (row,) = [row for row in rows if row["name"] == queue]
        assert row["type"] == "quorum", row
        (leader,) = [node for node in self.nodes if node.name == row["leader"]]
        return leader

    def close(self) -> None:
        for node in self.nodes:
            node.close()


class PostgresCluster:
    """A PostgreSQL cluster of its own (initdb in a temporary directory, its own port, trust auth on
    loopback) run as the `postgres` user through pg_ctl. `stop(mode)` / `start()` restart it with
    its data; `stop("immediate")` is a crash for its clients (connections dropped, no checkpoint:
    the next start recovers from the WAL)."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self._log_dir = log_dir
        self.directory = _owned_dir(f"pg-{self.port}", "postgres")
        self.data = self.directory / "data"
        self.log = self.directory / "server.log"
        self._started_once = False
        self._run([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"])
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.directory}'\n"
                "fsync = off\nmax_connections = 60\nshared_buffers = 32MB\n"
            )

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True,
            capture_output=True,
            timeout=timeout,
            cwd=self.directory,
        )

    def start(self) -> float:
        """Start the cluster (seconds taken). If its port, picked free, was taken before the first
        start, it starts on another."""
        started = time.monotonic()
        for attempt in range(3):
            try:
                self._run(
                    [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"]
                )
                self._started_once = True
                return time.monotonic() - started
            except subprocess.CalledProcessError:
                log = self.log.read_text(errors="replace") if self.log.exists() else ""
                if attempt == 2 or self._started_once or "could not bind" not in log:
                    raise
                self.port = free_port()
                with open(self.data / "postgresql.conf", "a") as conf:
                    conf.write(f"port = {self.port}\n")
        raise AssertionError("unreachable")

    def stop(self, mode: str = "fast") -> None:
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"])

    def postmaster_pid(self) -> int | None:
        pid_file = self.data / "postmaster.pid"
        try:
            return int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def running(self) -> bool:
        return port_open(self.port)

    def create_database(self, name: str) -> None:
        self._run([str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-c", f'CREATE DATABASE "{name}"'])

    def close(self) -> None:
        if self.running():
            try:
                self.stop("immediate")
            except subprocess.SubprocessError:
                pid = self.postmaster_pid()
                if pid:
                    os.kill(pid, 9)
        if self.log.exists():
            shutil.copy(self.log, self._log_dir / f"postgres-{self.port}.log")
        shutil.rmtree(self.directory, ignore_errors=True)


def machine_services_answer() -> dict[str, bool]:
    """The machine's own RabbitMQ (5672) and PostgreSQL (5432) still accept connections."""
    answers = {}
    for name, port in (("rabbitmq:5672", 5672), ("postgresql:5432", 5432)):
        with socket.socket() as sock:
            sock.settimeout(2)
            answers[name] = sock.connect_ex(("127.0.0.1", port)) == 0
    return answers


def call(web, method: str, path: str, body: dict | None = None, *, token: str | None = None):
    """An HTTP call to a `Web` process: (status, JSON body, Retry-After header). A dropped connection
    or a timeout is status 0, so that a load thread counts it instead of dying."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(web.base_url + path, data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}"), response.headers.get("Retry-After", "")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"raw": raw.decode(errors="replace")[:200]}
        return error.code, parsed, error.headers.get("Retry-After", "")
    except OSError as error:
        return 0, {"raw": str(error)}, ""


def consumption(event_ids: list) -> dict[str, int]:
    """Events expected, seen once, seen twice (or more), lost: from the probe consumer's effects,
    one row per committed handling."""
    counts = dict(
        Effect.objects.filter(event_id__in=event_ids)
        .values_list("event_id")
        .annotate(n=Count("id"))
        .values_list("event_id", "n")
    )
    seen = Counter(counts.get(event_id, 0) for event_id in event_ids)
    return {
        "expected": len(event_ids),
        "seen once": seen[1],
        "seen twice": sum(n for times, n in seen.items() if times >= 2),
        "lost": seen[0],
    }
