"""Brute-force limits on logins: per account and per client IP, over a sliding window."""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone

from auth.interface import TooManyAttempts
from auth.models import LoginFailure

from .crypto import keyed_hash

WINDOW = timedelta(minutes=15)


def account_key(email: str) -> str:
    return keyed_hash(email.strip().lower(), purpose="login-account")


def _raise_if_over(failures, limit: int) -> None:
    stats = failures.aggregate(first=Min("created_at"), count=Count("id"))
    if stats["count"] >= limit:
        retry_after = math.ceil((stats["first"] + WINDOW - timezone.now()).total_seconds())
        raise TooManyAttempts(details={"retry_after": max(retry_after, 1)})


def login_allowed_or_raise(*, email: str, ip: str) -> None:
    since = timezone.now() - WINDOW
    recent = LoginFailure.objects.filter(created_at__gte=since)
    _raise_if_over(recent.filter(account_key=account_key(email)), settings.GATEHOUSE_LOGIN_MAX_FAILURES)
    if ip:
        _raise_if_over(recent.filter(ip=ip), settings.GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP)


def login_failure_record(*, email: str, ip: str) -> None:
    LoginFailure.objects.create(account_key=account_key(email), ip=ip or None)


def login_failures_clear(*, email: str) -> None:
    LoginFailure.objects.filter(account_key=account_key(email)).delete()


def login_failures_prune() -> int:
    deleted, _ = LoginFailure.objects.filter(created_at__lt=timezone.now() - WINDOW).delete()
    return deleted
