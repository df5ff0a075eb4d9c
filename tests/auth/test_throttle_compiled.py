"""The lockout count as a compiled statement (issue 24): it answers as the ORM's aggregate did,
with and without the client IP, on SQLite and PostgreSQL."""

from datetime import timedelta

import pytest
from django.db.models import Count, Min, Q
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auth.core import throttle
from auth.models import LoginFailure

pytestmark = pytest.mark.django_db

KEYS = ["a" * 64, "b" * 64]
IPS = ["203.0.113.5", "2001:db8::1", None]

rows = st.lists(
    st.tuples(st.sampled_from(KEYS), st.sampled_from(IPS), st.integers(0, 30)),  # minutes ago
    max_size=8,
)


def orm_counts(key, ip, since):
    """What the lockout count asked the ORM before the statement was compiled."""
    account = Q(account_key=key)
    counts = {"n_account": Count("id", filter=account), "first_account": Min("created_at", filter=account)}
    matching = account
    if ip:
        by_ip = Q(ip=ip)
        counts |= {"n_ip": Count("id", filter=by_ip), "first_ip": Min("created_at", filter=by_ip)}
        matching |= by_ip
    return tuple(LoginFailure.objects.filter(matching, created_at__gte=since).aggregate(**counts).values())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows, key=st.sampled_from(KEYS), ip=st.sampled_from(["203.0.113.5", "2001:db8::1", "198.51.100.7", ""]))
def test_the_compiled_count_answers_as_the_orm_aggregate(rows, key, ip):
    LoginFailure.objects.all().delete()
    now = timezone.now()
    for row_key, row_ip, minutes in rows:
        failure = LoginFailure.objects.create(account_key=row_key, ip=row_ip)
        LoginFailure.objects.filter(id=failure.id).update(created_at=now - timedelta(minutes=minutes))
    since = now - throttle.WINDOW
    if ip:
        compiled = throttle._COUNTS_BY_ACCOUNT_AND_IP.first(key, ip, since)
    else:
        compiled = throttle._COUNTS_BY_ACCOUNT.first(key, since)
    assert compiled == orm_counts(key, ip, since)


def test_a_compiled_read_with_several_values_checks_how_often_the_query_uses_each():
    from project.compiled import CompiledRead

    wrong = CompiledRead(
        LoginFailure,
        ("account_key", "created_at"),
        lambda key, since: throttle._window_counts(key, None, since),
        ("stand-in key", timezone.now()),
        uses=(2, 1),
    )
    with pytest.raises(ValueError, match="account_key: the query must use its value exactly 2 times"):
        wrong.first("a" * 64, timezone.now())


@pytest.mark.parametrize("others", [0, 2])
def test_the_compiled_delete_of_a_successful_attempt_deletes_the_rows_the_orm_would(others):
    email, other = "ada@example.com", "bob@example.com"
    for _ in range(others):
        throttle.login_failure_record(email=email, ip="203.0.113.5")
    throttle.login_failure_record(email=other, ip="203.0.113.5")
    attempt = throttle.attempt_begin(email=email, ip="203.0.113.5")
    assert attempt.others == others
    # What the ORM deleted before: every row of the account (with others), else the attempt's own.
    expected = set(LoginFailure.objects.exclude(account_key=throttle.account_key(email)).values_list("id", flat=True))
    statement = throttle.attempt_success_delete(attempt)
    assert statement.alias == "default"
    statement.run()
    assert set(LoginFailure.objects.values_list("id", flat=True)) == expected
    assert len(expected) == 1  # the other account's failure
