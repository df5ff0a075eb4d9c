"""Behind PgBouncer in transaction mode (CI's stack run, GATEHOUSE_TEST_PGBOUNCER=1): each client's
server connection is its own for one transaction only. What lives longer than a transaction in a
server connection, a server-side cursor or a prepared statement, is then lost to the next client.
Gatehouse's settings keep both off; the controls show that each would break here, so the tests
would catch a setting that turned one back on. The rest (SKIP LOCKED in the relay, SET LOCAL, row
locks) is proved by the whole stack suite running through the same PgBouncer."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from tests.support.factories import UserFactory
from users.models import User

pytestmark = [pytest.mark.stack, pytest.mark.pgbouncer]


def _other_client() -> psycopg.Connection:
    """A second client of the same PgBouncer and database, outside Django's pool."""
    db = connection.settings_dict
    return psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"])


def _take_the_idle_server_connection(other: psycopg.Connection) -> None:
    # PgBouncer reuses the most recently released server connection first: the one this process
    # just gave back. An open transaction keeps it from this process until `other` ends it.
    other.execute("SELECT 1")


def test_a_queryset_iterated_outside_a_transaction_survives_another_client_taking_its_server_connection(
    transactional_db,
):
    UserFactory.create_batch(4)
    with _other_client() as other:
        rows = User.objects.order_by("id").values_list("id", flat=True).iterator(chunk_size=1)
        first = next(rows)
        _take_the_idle_server_connection(other)
        rest = list(rows)
    assert [first, *rest] == list(User.objects.order_by("id").values_list("id", flat=True))


def test_control_a_server_side_cursor_is_lost_when_another_client_takes_its_server_connection(
    transactional_db,
):
    UserFactory.create_batch(4)
    connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = False
    try:
        with _other_client() as other:
            rows = User.objects.order_by("id").values_list("id", flat=True).iterator(chunk_size=1)
            next(rows)
            _take_the_idle_server_connection(other)
            with pytest.raises(Exception, match=r"cursor .* does not exist"):
                list(rows)
    finally:
        connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = True
        connection.close()


def test_a_query_repeated_across_server_connections_needs_no_prepared_statement(transactional_db):
    user = UserFactory()
    with _other_client() as other:
        # Django binds parameters on the client and sets prepare_threshold=None: nothing is prepared,
        # however often a query repeats (psycopg 3 alone would prepare it after 5 uses).
        for _ in range(6):
            assert User.objects.filter(id=user.id).count() == 1
            _take_the_idle_server_connection(other)
            assert User.objects.filter(id=user.id).count() == 1  # on another server connection
            other.rollback()


def test_control_a_prepared_statement_is_lost_when_another_client_takes_its_server_connection(transactional_db):
    db = connection.settings_dict
    with (
        psycopg.connect(
            host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True, prepare_threshold=0
        ) as preparing,
        _other_client() as other,
    ):
        preparing.execute("SELECT %s::int", [1])  # prepared on the server connection it ran on
        _take_the_idle_server_connection(other)
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):
            preparing.execute("SELECT %s::int", [1])
