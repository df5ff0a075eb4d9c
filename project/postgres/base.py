"""Django's PostgreSQL backend (settings ENGINE "project.postgres"), with one change: the pool's
health check costs no round trip while a connection is quiet.

Django's pool (CONN_HEALTH_CHECKS) checks every connection it hands out with an empty query: a
round trip before the request's first statement, which cost `GET /users/me` about as much as one
of its two queries (docs/benchmarks.md, issue 24). The check exists for connections the server
ended while they sat in the pool: a restart, `pg_terminate_backend`, an idle timeout, a pooler
that went away. Each of those sends an error message and closes the socket, which makes the
socket readable; a healthy idle connection in autocommit has nothing to read. So the pool's own
check runs only when the socket is readable (or the connection is known to be closed): it fails
on an ended connection and the pool replaces it, exactly as before. Anything else that can be
waiting on a quiet connection (a notice, a changed server parameter) also takes the full check,
which reads it. Not caught, as before: a peer that vanished without closing (a network
partition), which the empty query would not have found quickly either.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import Connection
from psycopg_pool import ConnectionPool


def check_connection(conn: Connection) -> None:
    """The pool's `check`: returns quietly for a connection fit to hand out, raises otherwise."""
    if conn.closed or select.select([conn.fileno()], [], [], 0)[0]:
        ConnectionPool.check_connection(conn)


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> ConnectionPool | None:
        pool = super().pool
        # Django passes psycopg_pool's own check when CONN_HEALTH_CHECKS is on, and gives no way
        # to name another (OPTIONS["pool"]["check"] would be a second `check` argument).
        if pool is not None and pool._check is ConnectionPool.check_connection:
            pool._check = check_connection
        return pool
