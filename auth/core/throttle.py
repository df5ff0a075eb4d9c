"""Brute-force limits on logins: per account and per client IP, over a sliding window."""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from auth.interface import TooManyAttempts
from auth.models import LoginFailure

from .crypto import keyed_hash

WINDOW = timedelta(minutes=15)


def account_key(email: str) -> str:
    return keyed_hash(email.strip().lower(), purpose="login-account")


def _raise_if_over(count: int, first, limit: int) -> None:
    if count >= limit:
        retry_after = math.ceil((first + WINDOW - timezone.now()).total_seconds())
        raise TooManyAttempts(details={"retry_after": max(retry_after, 1)})


def login_allowed_or_raise(*, email: str, ip: str) -> int:
    """Raise TooManyAttempts while the account or the client IP is over its limit; otherwise
    return the account's recent failures (0: a successful login has nothing to clear).

    One query counts both (a login's PostgreSQL round trips are most of what it costs beyond the
    password hash: docs/benchmarks.md, scenario 3)."""
    account = Q(account_key=account_key(email))
    # Aliases differ from the field names: an alias named `ip` would shadow the field in the filters.
    counts = {"n_account": Count("id", filter=account), "first_account": Min("created_at", filter=account)}
    matching = account
    if ip:
        by_ip = Q(ip=ip)
        counts |= {"n_ip": Count("id", filter=by_ip), "first_ip": Min("created_at", filter=by_ip)}
        matching |= by_ip
    stats = LoginFailure.objects.filter(matching, created_at__gte=timezone.now() - WINDOW).aggregate(**counts)
    _raise_if_over(stats["n_account"], stats["first_account"], settings.GATEHOUSE_LOGIN_MAX_FAILURES)
    if ip:
        _raise_if_over(stats["n_ip"], stats["first_ip"], settings.GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP)
    return stats["n_account"]


def login_failure_record(*, email: str, ip: str) -> None:
    LoginFailure.objects.create(account_key=account_key(email), ip=ip or None)


def login_failures_clear(*, email: str) -> None:
    LoginFailure.objects.filter(account_key=account_key(email)).delete()


def login_failures_prune() -> int:
    deleted, _ = LoginFailure.objects.filter(created_at__lt=timezone.now() - WINDOW).delete()
    return deleted
