"""The peers' HTTP endpoints (scenario 2), and the floors of a login (scenario 3)."""

import functools
import json
import os

from django.db import connection
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView


@csrf_exempt
def bare_check(request):
    """The ceiling: Django's request cycle, a JSON body parsed, a JSON answer, nothing else."""
    body = json.loads(request.body or b"{}")
    return JsonResponse({"allowed": bool(body.get("permission"))})


@functools.cache
def _argon2():
    """Gatehouse's Argon2id parameters (scenario 3 passes them as BENCH_ARGON2 = "t,m,p"), and a
    hash of the bench password made with them."""
    from argon2 import PasswordHasher

    time_cost, memory_cost, parallelism = (int(v) for v in os.environ["BENCH_ARGON2"].split(","))
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    return hasher, hasher.hash(os.environ["BENCH_PASSWORD"])


@functools.cache
def _redis():
    import redis

    return redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])


def _verified(request) -> bool:
    hasher, digest = _argon2()
    try:
        return hasher.verify(digest, json.loads(request.body)["password"])
    except Exception:  # a wrong password is a 401 here, like any other failure
        return False


def _round_trips(n: int) -> None:
    with connection.cursor() as cursor:
        for _ in range(n):
            cursor.execute("SELECT 1")
            cursor.fetchone()


@csrf_exempt
def bare_login(request):
    """A login's floor over HTTP: Django's request cycle, the JSON body, one Argon2id verify with
    Gatehouse's parameters, a JSON answer. Nothing else: no statement, no token."""
    if not _verified(request):
        return JsonResponse({"error": "invalid_credentials"}, status=401)
    return JsonResponse({"access_token": "-"})


@csrf_exempt
def skeleton_login(request):
    """`bare_login` with a Gatehouse login's round trips and nothing behind them, in the same order:
    one to Redis (the token route's per-IP bucket) and two to PostgreSQL before the verify (the
    attempt's INSERT with the failure count, the user's row), one after it (the session's write with
    the read of whether TOTP is on), each a `SELECT 1`."""
    _redis().get("bench:rtt")
    _round_trips(2)
    if not _verified(request):
        return JsonResponse({"error": "invalid_credentials"}, status=401)
    _round_trips(1)
    return JsonResponse({"access_token": "-"})


@functools.cache
def _essentials():
    """A table for the writes of `essential_login`, and an RSA key like Gatehouse's."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = "bigserial" if connection.vendor == "postgresql" else "integer"  # SQLite: the tests'
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS bench_login_floor (id {key} PRIMARY KEY, at timestamp)")
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


_INSERT = "INSERT INTO bench_login_floor (at) VALUES (CURRENT_TIMESTAMP)"


def _attempt() -> None:
    """The attempt's row committed, then a read: one round trip on PostgreSQL, the commit not
    waiting for the disk, as Gatehouse's (project.writes.insert_row_then_read)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"BEGIN; SET LOCAL synchronous_commit TO OFF; {_INSERT}; COMMIT; SELECT 1")
            while cursor.nextset():  # to the SELECT's result
                pass
        else:
            cursor.execute(_INSERT)
            cursor.execute("SELECT 1")
        cursor.fetchone()


def _durable_write() -> None:
    with connection.cursor() as cursor:  # autocommit: one statement, one durable commit
        cursor.execute(_INSERT)


@csrf_exempt
def essential_login(request):
    """`skeleton_login` with what any login that keeps Gatehouse's guarantees must do in those round
    trips: the attempt's row is written and committed before the count reads it, the session's
    row is written durably, and the access token is signed (RS256: an RSA-2048 signature). The
    reads stay `SELECT 1`."""
    key = _essentials()
    _redis().get("bench:rtt")
    _attempt()
    _round_trips(1)
    if not _verified(request):
        return JsonResponse({"error": "invalid_credentials"}, status=401)
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signature = key.sign(request.body, padding.PKCS1v15(), hashes.SHA256())
    _durable_write()
    return JsonResponse({"access_token": signature.hex()})


def hello(request):
    return JsonResponse({"hello": "world"})


class DrfCheck(APIView):
    """What users build today: DRF + simplejwt authentication + `user.has_perm` (ModelBackend)."""

    def post(self, request):
        permission = request.data.get("permission", "")
        return Response({"allowed": request.user.has_perm(permission)})


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    username = serializers.CharField()
    is_active = serializers.BooleanField()
    is_staff = serializers.BooleanField()
    date_joined = serializers.DateTimeField()


class DrfMe(APIView):
    """The same read as Gatehouse's GET /users/me, as users build it: simplejwt loads the user's row
    (one query) and a DRF serializer renders it. (Gatehouse also reads whether MFA is on.)"""

    def get(self, request):
        return Response(MeOutput(request.user).data)


urlpatterns = [
    path("bare/check", bare_check),
    path("hello", hello),
    path("bare/login", bare_login),
    path("skeleton/login", skeleton_login),
    path("essential/login", essential_login),
    path("drf/check", DrfCheck.as_view()),
    path("drf/me", DrfMe.as_view()),
]
