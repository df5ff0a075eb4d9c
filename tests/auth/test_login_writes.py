"""A password login's writes (issue 24): its session, its refresh token and the clean-up of its
brute-force attempt are one transaction, and on PostgreSQL one statement (project.writes)."""

import pytest
from django.db import IntegrityError, connection, transaction
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


def test_a_login_runs_four_reads_then_writes_its_rows_in_one_statement_on_postgresql(ada):
    sign_in()  # the first login makes the signing key
    with CaptureQueriesContext(connection) as captured:
        pair = sign_in()
    statements = [query["sql"] for query in captured.captured_queries]
    # The attempt, the lockout count, the user, the TOTP device; then the writes.
    if connection.vendor == "postgresql":
        assert len(statements) == 5, statements
        assert statements[-1].startswith('WITH w0 AS (INSERT INTO "gatehouse_auth_session"'), statements[-1]
    else:  # one transaction: a savepoint inside the test's own
        assert len(statements) == 9, statements
        assert statements[4].startswith("SAVEPOINT") and statements[-1].startswith("RELEASE SAVEPOINT"), statements
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
