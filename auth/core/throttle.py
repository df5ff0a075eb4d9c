"""Brute-force limits on logins: per account and per client IP, over a sliding window."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, Q
from django.db.models.sql import Query
from django.utils import timezone
from prometheus_client import Counter

from auth.interface import TooManyAttempts
from auth.models import LoginFailure
from project.compiled import CompiledDelete, CompiledRead, Statement
from project.writes import insert_row_then_read

from .crypto import keyed_hash

WINDOW = timedelta(minutes=15)

LOCKOUTS = Counter(
    "gatehouse_login_lockouts_total",
    "Sign-in attempts refused because the account or the client IP was over its failure limit.",
    ["limit"],
)


def account_key(email: str) -> str:
    return keyed_hash(email.strip().lower(), purpose="login-account")


def _raise_if_over(count: int, first, limit: int) -> None:
    if count >= limit:
        LOCKOUTS.labels("account" if limit == settings.GATEHOUSE_LOGIN_MAX_FAILURES else "ip").inc()
        retry_after = math.ceil((first + WINDOW - timezone.now()).total_seconds())
        raise TooManyAttempts(details={"retry_after": max(retry_after, 1)})


def _window_counts(key: str, ip: str | None, since) -> Query:
    """The failures since `since`, of the account and (with `ip`) of the client IP: their counts
    and their oldest, in one row, as `aggregate()` would ask for them."""
    account = Q(account_key=key)
    # Aliases differ from the field names: an alias named `ip` would shadow the field in the filters.
    counts = {"n_account": Count("id", filter=account), "first_account": Min("created_at", filter=account)}
    matching = account
    if ip:
        by_ip = Q(ip=ip)
        counts |= {"n_ip": Count("id", filter=by_ip), "first_ip": Min("created_at", filter=by_ip)}
        matching |= by_ip
    query = LoginFailure.objects.filter(matching, created_at__gte=since).query
    for name, aggregate in counts.items():
        query.add_annotation(aggregate, name)
    query.default_cols = False  # the aggregates alone, without a GROUP BY: one row
    return query


# Compiled once (project/compiled.py): building and compiling this aggregate through the ORM cost
# ~1.3 ms a login, its run in PostgreSQL 0.07 ms (docs/benchmarks.md, issue 24). One statement per
# shape; the account key (and the IP) are used three times each, in both FILTERs and the WHERE.
_STAND_IN_TIME = datetime(2000, 1, 1, tzinfo=UTC)
_COUNTS_BY_ACCOUNT = CompiledRead(
    LoginFailure,
    ("account_key", "created_at"),
    lambda key, since: _window_counts(key, None, since),
    ("stand-in key", _STAND_IN_TIME),
    uses=(3, 1),
)
_COUNTS_BY_ACCOUNT_AND_IP = CompiledRead(
    LoginFailure,
    ("account_key", "ip", "created_at"),
    _window_counts,
    ("stand-in key", "192.0.2.1", _STAND_IN_TIME),
    uses=(3, 3, 1),
)


def _window_read(email: str, ip: str) -> tuple[CompiledRead, tuple]:
    """The count of the account's (and the IP's) failures in the window, and its values.

    One query counts both (a login's PostgreSQL round trips are most of what it costs beyond the
    password hash: docs/benchmarks.md, scenario 3)."""
    since = timezone.now() - WINDOW
    if ip:
        return _COUNTS_BY_ACCOUNT_AND_IP, (account_key(email), ip, since)
    return _COUNTS_BY_ACCOUNT, (account_key(email), since)


def _allowed_or_raise(counts: tuple, *, own: int) -> int:
    """Raise TooManyAttempts if the counts (a row of `_window_read`) are over a limit; otherwise
    return the account's failures. `own` (0 or 1) is the caller's own attempt, already written,
    which is not a past failure."""
    n_account, first_account = counts[:2]
    _raise_if_over(n_account - own, first_account, settings.GATEHOUSE_LOGIN_MAX_FAILURES)
    if len(counts) > 2:
        n_ip, first_ip = counts[2:]
        _raise_if_over(n_ip - own, first_ip, settings.GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP)
    return n_account - own


class Attempt:
    """A sign-in or re-authentication attempt, counted before its password or code is checked."""

    __slots__ = ("email", "id", "others")

    def __init__(self, email: str, row_id: int, others: int):
        self.email, self.id, self.others = email, row_id, others


def attempt_begin(*, email: str, ip: str) -> Attempt:
    """Count the attempt *before* the password hash is verified, so that parallel guesses cannot
    all slip under the limit (issue 15, item 4): the attempt is written first, then the window is
    counted with it. Whatever the interleaving, the attempt written k-th sees at least k rows, so at
    most GATEHOUSE_LOGIN_MAX_FAILURES attempts of one account are ever checked in a window. The row
    stays as the failure if the attempt fails; `attempt_succeeded` or `attempt_void` removes it.
    Raises TooManyAttempts (and writes nothing) while the account or the client IP is locked."""
    # Its own statement, committed before the count's: the count, a later statement, sees it and
    # every attempt committed before it (one statement with both would not: issue 24). On
    # PostgreSQL both go in one round trip, and the attempt's commit does not wait for the disk
    # (project.writes.insert_row_then_read): a crash of the database server may forget the
    # attempts of its last fraction of a second (docs/auth.md, "Brute force").
    row = LoginFailure(account_key=account_key(email), ip=ip or None)
    read, values = _window_read(email, ip)
    counts = insert_row_then_read(row, read, *values, durable=False)
    try:
        others = _allowed_or_raise(counts, own=1)
    except TooManyAttempts:
        LoginFailure.objects.filter(id=row.id).delete()
        raise
    return Attempt(email, row.id, others)


def attempt_void(attempt: Attempt) -> None:
    """Neither a success nor a failure (the code is missing, the account is inactive)."""
    LoginFailure.objects.filter(id=attempt.id).delete()


def attempt_succeeded(attempt: Attempt) -> None:
    """The right answer: the account's failures are forgotten (only this attempt when there were none)."""
    attempt_success_delete(attempt).run()


# A login deletes its attempt's rows on every success: statements compiled once (project/compiled.py).
_DELETE_ACCOUNTS = CompiledDelete(
    LoginFailure, "account_key", lambda key: LoginFailure.objects.filter(account_key=key), "stand-in key"
)
_DELETE_ATTEMPT = CompiledDelete(LoginFailure, "id", lambda row_id: LoginFailure.objects.filter(id=row_id), -1)


def attempt_success_delete(attempt: Attempt) -> Statement:
    """The DELETE of a successful attempt's rows: the account's failures, or only the attempt's
    own row when its count (`others`) found none, so no statement is spent finding out. Run by
    `attempt_succeeded`, or by a caller with its own writes (a login: with its session, in one
    statement, `project.writes.write_together`)."""
    if attempt.others:
        return _DELETE_ACCOUNTS.statement(account_key(attempt.email))
    return _DELETE_ATTEMPT.statement(attempt.id)


def login_failure_record(*, email: str, ip: str) -> None:
    LoginFailure.objects.create(account_key=account_key(email), ip=ip or None)


def login_failures_recent() -> int:
    """Failed sign-in attempts within the window, every account (the login-failure metric)."""
    return LoginFailure.objects.filter(created_at__gte=timezone.now() - WINDOW).count()


def login_failures_prune() -> int:
    deleted, _ = LoginFailure.objects.filter(created_at__lt=timezone.now() - WINDOW).delete()
    return deleted
