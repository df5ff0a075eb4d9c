"""A password login's writes (issue 24): its session, its refresh token and the clean-up of its
brute-force attempt are one transaction, and on PostgreSQL one statement (project.writes)."""

import psycopg
import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from auth.core import services
from auth.core.crypto import token_hash
from auth.interface import ClientInfo
from auth.models import LoginFailure, RefreshToken, Session
from tests.support.factories import PASSWORD

pytestmark = pytest.mark.django_db

CLIENT = ClientInfo(ip="203.0.113.5", user_agent="test")


def sign_in():
    return services.login(email="ada@example.com", password=PASSWORD, otp=None, client=CLIENT)


def test_a_login_runs_three_reads_then_reads_totp_and_writes_its_rows_in_one_statement_on_postgresql(ada):
    sign_in()  # the first login makes the signing key
    with CaptureQueriesContext(connection) as captured:
        pair = sign_in()
    statements = [query["sql"] for query in captured.captured_queries]
    # The attempt, the lockout count, the user; then the TOTP device's read with the writes.
    if connection.vendor == "postgresql":
        assert len(statements) == 4, statements
        assert statements[-1].startswith('WITH guard AS (SELECT "gatehouse_auth_totpdevice"'), statements[-1]
        assert 'w0 AS (INSERT INTO "gatehouse_auth_session"' in statements[-1], statements[-1]
    else:  # one transaction: a savepoint inside the test's own, the read first
        assert len(statements) == 9, statements
        assert statements[3].startswith("SAVEPOINT") and statements[-1].startswith("RELEASE SAVEPOINT"), statements
        assert statements[4].startswith('SELECT "gatehouse_auth_totpdevice"'), statements
    assert Session.objects.filter(id=pair.session_id, user_id=ada.id).exists()
    assert RefreshToken.objects.filter(session_id=pair.session_id, token_hash=token_hash(pair.refresh_token)).exists()
    assert not LoginFailure.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_login_whose_rows_cannot_be_written_writes_none_and_its_attempt_stays_a_failure(ada, monkeypatch):
    first = sign_in()
    # The next refresh token hashes like the first one's: its row breaks a unique constraint.
    monkeypatch.setattr(services, "new_token", lambda: first.refresh_token)
    with pytest.raises(IntegrityError):
        sign_in()
    assert list(Session.objects.values_list("id", flat=True)) == [first.session_id]
    assert RefreshToken.objects.count() == 1
    assert LoginFailure.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_login_does_not_write_inside_a_callers_transaction(ada):
    with pytest.raises(RuntimeError), transaction.atomic():
        sign_in()
    assert not Session.objects.exists()


def test_an_insert_compiled_once_binds_each_rows_values_as_the_orm_compiles_them():
    import uuid
    from datetime import timedelta

    from django.db.models.sql import InsertQuery
    from django.utils import timezone

    from project.writes import _INSERTS, _insert_sql

    def orm_sql(obj, fields):
        query = InsertQuery(type(obj))
        query.insert_values(fields, [obj], raw=True)  # the values pre_save left on the row (created_at)
        ((sql, params),) = query.get_compiler(connection=connection).as_sql()
        return sql, tuple(params)

    now = timezone.now()
    for n, ip in enumerate(["203.0.113.5", None, "2001:db8::1"]):
        session = Session(user_id=uuid.uuid4(), last_used_at=now, expires_at=now + timedelta(days=n), ip=ip)
        sql, params = _insert_sql(session, connection)
        fields = [field for field in Session._meta.local_concrete_fields if not field.generated]
        assert (sql, params) == orm_sql(session, fields)
        key = (Session, tuple(field.attname for field in fields), connection.alias, False)
        assert _INSERTS[key] == sql


def test_a_row_inserted_by_its_compiled_statement_reads_back_its_key():
    from project.writes import insert_row

    first, second = LoginFailure(account_key="a" * 64, ip="203.0.113.5"), LoginFailure(account_key="b" * 64)
    insert_row(first)
    insert_row(second)
    assert first.pk and second.pk and first.pk != second.pk
    assert not first._state.adding and first._state.db == "default"
    stored = LoginFailure.objects.get(pk=second.pk)
    assert (stored.account_key, stored.ip, stored.created_at) == ("b" * 64, None, second.created_at)


@pytest.mark.django_db(transaction=True)
def test_an_attempt_and_its_count_are_one_round_trip_on_postgresql_the_count_seeing_the_committed_attempt():
    from auth.core import throttle

    throttle.login_failure_record(email="ada@example.com", ip="203.0.113.5")
    with CaptureQueriesContext(connection) as captured:
        attempt = throttle.attempt_begin(email="ada@example.com", ip="203.0.113.5")
    statements = [query["sql"] for query in captured.captured_queries]
    assert attempt.others == 1  # the earlier failure; the attempt's own row is not counted as one
    assert LoginFailure.objects.filter(id=attempt.id).exists()
    if connection.vendor == "postgresql":
        assert len(statements) == 1, statements
        assert statements[0].startswith(
            'BEGIN; SET LOCAL synchronous_commit TO OFF; INSERT INTO "gatehouse_auth_loginfailure"'
        ), statements[0]
        assert "; COMMIT; SELECT COUNT(" in statements[0], statements[0]
        assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    else:
        assert len(statements) == 2, statements


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("others", [0, 4])
def test_an_insert_then_read_sees_its_row_and_the_rows_committed_before_it(others):
    from auth.core import throttle
    from project.writes import insert_row_then_read

    for _ in range(others):
        throttle.login_failure_record(email="ada@example.com", ip=None)
    row = LoginFailure(account_key=throttle.account_key("ada@example.com"), ip=None)
    read, values = throttle._window_read("ada@example.com", "")
    n_account, first = insert_row_then_read(row, read, *values)
    assert row.pk and not row._state.adding
    assert n_account == others + 1
    assert first == LoginFailure.objects.order_by("created_at").first().created_at


@pytest.mark.django_db(transaction=True)
def test_an_insert_that_fails_in_the_round_trip_leaves_no_open_transaction_behind():
    from auth.core import throttle
    from project.writes import insert_row_then_read

    read, values = throttle._window_read("ada@example.com", "")
    no_key = LoginFailure(account_key=None, ip=None)  # the column is NOT NULL
    with pytest.raises(DatabaseError):
        insert_row_then_read(no_key, read, *values, durable=False)
    if connection.vendor == "postgresql":
        assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert not LoginFailure.objects.exists()  # and the connection answers


@pytest.mark.django_db(transaction=True)
def test_an_insert_then_read_with_autocommit_off_leaves_the_callers_transaction_open():
    from auth.core import throttle
    from project.writes import insert_row_then_read

    read, values = throttle._window_read("ada@example.com", "")
    transaction.set_autocommit(False)
    try:
        with CaptureQueriesContext(connection) as captured:
            counts = insert_row_then_read(
                LoginFailure(account_key=throttle.account_key("ada@example.com")), read, *values
            )
        assert counts[0] == 1
        assert not any("COMMIT" in query["sql"] for query in captured.captured_queries)
        transaction.rollback()  # the caller's transaction was still its own to end
    finally:
        transaction.set_autocommit(True)
    assert not LoginFailure.objects.exists()
