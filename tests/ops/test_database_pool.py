"""The database pool's health check (project/postgres/base.py): a quiet connection is handed out
without a round trip; one the server ended while it sat in the pool is still found and replaced,
so a request never gets it. Real PostgreSQL (stack mode): direct connections to the server on
127.0.0.1:5432 (through PgBouncer, ending a server connection leaves the client's standing)."""

from __future__ import annotations

import select
import time

import psycopg
import pytest
from django.db import connection
from psycopg_pool import ConnectionPool

from project.postgres.base import check_connection

pytestmark = pytest.mark.stack


def _direct() -> psycopg.Connection:
    return psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True)


def _end(conn: psycopg.Connection) -> None:
    """Ends `conn`'s server session from another session, as a restart or an operator would,
    and waits until its socket has heard of it."""
    pid = conn.info.backend_pid
    with _direct() as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
    deadline = time.monotonic() + 10
    while not select.select([conn.fileno()], [], [], 0.1)[0]:
        assert time.monotonic() < deadline, "the ended session's socket never became readable"


def test_a_quiet_connection_is_checked_without_a_round_trip(monkeypatch):
    round_trips = []
    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(lambda conn: round_trips.append(conn)))
    with _direct() as conn:
        conn.execute("SELECT 1")
        check_connection(conn)
        assert round_trips == []


def test_a_connection_the_server_ended_fails_the_check():
    with _direct() as conn:
        conn.execute("SELECT 1")
        _end(conn)
        with pytest.raises(psycopg.OperationalError):
            check_connection(conn)


def test_a_closed_connection_fails_the_check():
    conn = _direct()
    conn.close()
    with pytest.raises(psycopg.OperationalError):
        check_connection(conn)


def test_djangos_pool_uses_the_check(transactional_db):
    connection.ensure_connection()
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    assert connection.pool._check is check_connection


def test_a_pool_whose_connections_the_server_ended_replaces_them_and_every_request_succeeds():
    """The pool as settings.py configures it (its own, on the direct server): every connection it
    holds is ended while idle, and each next getconn still hands out a working one."""
    pool = ConnectionPool(
        "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
        min_size=3,
        max_size=3,
        check=check_connection,
        kwargs={"autocommit": True},
        open=True,
    )
    try:
        pool.wait(timeout=10)
        held = [pool.getconn() for _ in range(3)]
        pids = {conn.info.backend_pid for conn in held}
        for conn in held:
            pool.putconn(conn)
        for conn in held:
            _end(conn)
        for _ in range(6):
            with pool.connection(timeout=10) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
                assert conn.info.backend_pid not in pids
    finally:
        pool.close()
