"""The peers' HTTP endpoints (scenario 2), and the floors of a login (scenario 3)."""

import functools
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import uuid
from datetime import UTC, datetime, timedelta

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


def _signed(key, data: bytes) -> bytes:
    """An RS256 signature, as an access token's."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


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
    signature = _signed(key, request.body)
    _durable_write()
    return JsonResponse({"access_token": signature.hex()})


# The statements a Gatehouse login sends (auth.core.throttle, users, project.writes), as Django
# compiles them on PostgreSQL; tests/ops/test_bench_floors.py checks they are the login's own.
_LOGIN_ATTEMPT = (
    'BEGIN; SET LOCAL synchronous_commit TO OFF; INSERT INTO "gatehouse_auth_loginfailure" ("account_key", "ip", '
    '"created_at") VALUES (%s, %s, %s) RETURNING "gatehouse_auth_loginfailure"."id"; COMMIT; SELECT '
    'COUNT("gatehouse_auth_loginfailure"."id") FILTER (WHERE "gatehouse_auth_loginfailure"."account_key" = %s) AS '
    '"n_account", MIN("gatehouse_auth_loginfailure"."created_at") FILTER (WHERE '
    '"gatehouse_auth_loginfailure"."account_key" = %s) AS "first_account", COUNT("gatehouse_auth_loginfailure"."id") '
    'FILTER (WHERE "gatehouse_auth_loginfailure"."ip" = %s) AS "n_ip", MIN("gatehouse_auth_loginfailure"."created_at") '
    'FILTER (WHERE "gatehouse_auth_loginfailure"."ip" = %s) AS "first_ip" FROM "gatehouse_auth_loginfailure" WHERE '
    '(("gatehouse_auth_loginfailure"."account_key" = %s OR "gatehouse_auth_loginfailure"."ip" = %s) AND '
    '"gatehouse_auth_loginfailure"."created_at" >= %s)'
)
_LOGIN_USER = (
    'SELECT "users_user"."password" AS "password", "users_user"."last_login" AS "last_login", "users_user"."id" AS '
    '"id", "users_user"."email" AS "email", "users_user"."display_name" AS "display_name", "users_user"."is_active" '
    'AS "is_active", "users_user"."is_verified" AS "is_verified", "users_user"."pending_email" AS "pending_email", '
    '"users_user"."is_staff" AS "is_staff", "users_user"."is_superuser" AS "is_superuser", "users_user"."date_joined" '
    'AS "date_joined", "users_user"."updated_at" AS "updated_at" FROM "users_user" WHERE "users_user"."email" = %s '
    "LIMIT 1"
)
_LOGIN_WRITES = (
    'WITH guard AS (SELECT "gatehouse_auth_totpdevice"."user_id" AS "pk" FROM "gatehouse_auth_totpdevice" WHERE '
    '("gatehouse_auth_totpdevice"."confirmed_at" IS NOT NULL AND "gatehouse_auth_totpdevice"."user_id" = %s) LIMIT '
    '1), w0 AS (INSERT INTO "gatehouse_auth_session" ("id", "user_id", "created_at", "last_used_at", "expires_at", '
    '"ip", "user_agent", "revoked_at", "revoke_reason", "kind", "client_id", "scope", "parent_id", "auth_time") '
    "SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s WHERE NOT EXISTS (SELECT 1 FROM guard)), w1 AS "
    '(INSERT INTO "gatehouse_auth_refreshtoken" ("token_hash", "session_id", "created_at", "used_at", '
    '"replaced_by_id", "replays") SELECT %s, %s, %s, %s, %s, %s WHERE NOT EXISTS (SELECT 1 FROM guard)), w2 AS '
    '(DELETE FROM "gatehouse_auth_loginfailure" WHERE ("gatehouse_auth_loginfailure"."id" = %s) AND NOT EXISTS '
    "(SELECT 1 FROM guard)) SELECT NOT EXISTS (SELECT 1 FROM guard)"
)
# The edge's rate-limit script (gateway.edge._HIT): a sign-in counts against the client IP's bucket.
_RATE_LIMIT_HIT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {count, ttl}
"""


@functools.cache
def _account_hmac_key() -> bytes:
    """The floor's own key for the account's keyed hash (Gatehouse derives its own from SECRET_KEY)."""
    return hashlib.sha256(b"bench:login-account").digest()


@functools.cache
def _rate_limit():
    return _redis().register_script(_RATE_LIMIT_HIT)


def _results(cursor) -> list:
    """The first row of each result a multi-statement message returned."""
    rows = []
    while True:
        if cursor.description is not None:
            rows.append(cursor.fetchone())
        if not cursor.nextset():
            return rows


@csrf_exempt
def statements_login(request):
    """`essential_login` with a Gatehouse login's own work in place of its stand-ins, in plain code
    (PostgreSQL only): the rate limit's script on the client IP's bucket, the attempt's message
    with its failure counts, the user's row, and the session, refresh token and attempt's clean-up
    in one statement guarded by the TOTP read; the same SQL, with values of the same types. What it
    leaves out is Gatehouse's own Python: the edge, the API, the ORM, the token's claims."""
    key = _essentials()
    body = json.loads(request.body)
    ip = ipaddress.ip_address(request.META["REMOTE_ADDR"])
    _rate_limit()(keys=[f"bench:floor:rl:ip:{ip}"], args=[1, 60_000])
    account = hmac.new(_account_hmac_key(), body["email"].strip().lower().encode(), hashlib.sha256).hexdigest()
    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        params = [account, ip, now, account, account, ip, ip, account, ip, now - timedelta(minutes=15)]
        cursor.execute(_LOGIN_ATTEMPT, params)
        (attempt,), _counts = _results(cursor)
        cursor.execute(_LOGIN_USER, [body["email"]])
        user = cursor.fetchone()
    if user is None or not _verified(request):
        return JsonResponse({"error": "invalid_credentials"}, status=401)
    signature = _signed(key, request.body)
    session, user_id, refresh = uuid.uuid4(), user[2], secrets.token_urlsafe(32)
    at = datetime.now(UTC)
    with connection.cursor() as cursor:
        agent = request.headers.get("User-Agent", "")
        session_row = [session, user_id, at, at, at + timedelta(days=30), ip, agent, None, "", "api", "", "", None, at]
        refresh_row = [hashlib.sha256(refresh.encode()).hexdigest(), session, at, None, None, 0]
        cursor.execute(_LOGIN_WRITES, [user_id, *session_row, *refresh_row, attempt])
        cursor.fetchone()
    return JsonResponse({"access_token": signature.hex(), "refresh_token": refresh})


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
    path("statements/login", statements_login),
    path("drf/check", DrfCheck.as_view()),
    path("drf/me", DrfMe.as_view()),
]
