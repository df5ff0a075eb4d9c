"""The login's floors of scenario 3 (benchmarks/peer/urls.py) do what their rows say: a bare view
that verifies the password with Gatehouse's Argon2id parameters, the same with a login's round
trips, with its essential writes and signature, and with the login's own statements. A floor that
skipped the hash or a round trip, or sent lighter statements, would flatter every login row."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from benchmarks.peer import urls as floors
from users.hashers import GatehouseArgon2Hasher

PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def gatehouse_argon2(monkeypatch):
    h = GatehouseArgon2Hasher
    monkeypatch.setenv("BENCH_ARGON2", f"{h.time_cost},{h.memory_cost},{h.parallelism}")
    monkeypatch.setenv("BENCH_PASSWORD", PASSWORD)
    floors._argon2.cache_clear()
    yield
    floors._argon2.cache_clear()


def login_request(password: str):
    body = json.dumps({"email": "floor@example.com", "password": password})
    return RequestFactory().post("/bare/login", body, content_type="application/json")


def test_the_bare_floor_hashes_with_gatehouses_parameters(gatehouse_argon2):
    _, digest = floors._argon2()
    h = GatehouseArgon2Hasher
    assert digest.startswith(f"$argon2id$v=19$m={h.memory_cost},t={h.time_cost},p={h.parallelism}$")


@pytest.mark.parametrize(("password", "status"), [(PASSWORD, 200), (PASSWORD + "!", 401), ("", 401)])
def test_the_bare_floor_verifies_the_password(gatehouse_argon2, password, status):
    assert floors.bare_login(login_request(password)).status_code == status


class CountingRedis:
    def __init__(self):
        self.calls = 0

    def get(self, key):
        self.calls += 1


@pytest.mark.django_db
@pytest.mark.parametrize(("password", "status", "statements"), [(PASSWORD, 200, 3), ("wrong", 401, 2)])
def test_the_skeleton_makes_a_logins_round_trips_around_the_verify(
    gatehouse_argon2, monkeypatch, password, status, statements
):
    redis = CountingRedis()
    monkeypatch.setattr(floors, "_redis", lambda: redis)
    with CaptureQueriesContext(connection) as captured:
        response = floors.skeleton_login(login_request(password))
    assert response.status_code == status
    assert redis.calls == 1
    assert [q["sql"] for q in captured] == ["SELECT 1"] * statements


@pytest.mark.django_db(transaction=True)  # the floor commits, as a login does: not in a test's transaction
@pytest.mark.parametrize(("password", "status", "after"), [(PASSWORD, 200, [floors._INSERT]), ("wrong", 401, [])])
def test_the_essential_floor_writes_and_signs_around_the_verify(gatehouse_argon2, monkeypatch, password, status, after):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    redis = CountingRedis()
    monkeypatch.setattr(floors, "_redis", lambda: redis)
    floors._essentials.cache_clear()
    key = floors._essentials()
    request = login_request(password)
    with CaptureQueriesContext(connection) as captured:
        response = floors.essential_login(request)
    assert response.status_code == status
    assert redis.calls == 1
    statements = [q["sql"] for q in captured]
    if connection.vendor == "postgresql":  # the attempt: written, committed and read in one round trip
        attempt = [f"BEGIN; SET LOCAL synchronous_commit TO OFF; {floors._INSERT}; COMMIT; SELECT 1"]
    else:
        attempt = [floors._INSERT, "SELECT 1"]
    assert statements == [*attempt, "SELECT 1", *after]
    if status == 200:  # an RS256 signature of the request, which the key's public half verifies
        signature = bytes.fromhex(json.loads(response.content)["access_token"])
        key.public_key().verify(signature, request.body, padding.PKCS1v15(), hashes.SHA256())


class CountingScripts:
    """A Redis client whose scripts count their calls."""

    def __init__(self):
        self.sources, self.calls = [], []

    def register_script(self, source):
        self.sources.append(source)
        return lambda keys, args: self.calls.append((keys, args)) or [1, 60_000]


class Sent:
    """The statements a block sends, with their parameters (Django's execute_wrapper)."""

    def __init__(self):
        self.statements = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append((sql, [_kind(value) for value in params or ()]))
        return execute(sql, params, many, context)


def _kind(value) -> str:
    """A parameter's type, as the database receives it (psycopg's Int2 is an int)."""
    return "int" if isinstance(value, int) else type(value).__name__


@pytest.mark.stack  # the floor speaks PostgreSQL only
@pytest.mark.django_db(transaction=True)  # both commit, as a login does
def test_the_statements_floor_sends_a_logins_own_statements_and_script(gatehouse_argon2, monkeypatch):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from auth.core import services
    from auth.interface import ClientInfo
    from auth.models import LoginFailure, RefreshToken, Session
    from gateway.edge import _HIT
    from tests.support.factories import PASSWORD as ADAS_PASSWORD
    from tests.support.factories import UserFactory

    ada = UserFactory(email="ada@example.com")
    client = ClientInfo(ip="127.0.0.1", user_agent="bench")
    services.login(email=ada.email, password=ADAS_PASSWORD, otp=None, client=client)  # makes the signing key
    login = Sent()
    with connection.execute_wrapper(login):
        services.login(email=ada.email, password=ADAS_PASSWORD, otp=None, client=client)
    redis = CountingScripts()
    monkeypatch.setattr(floors, "_redis", lambda: redis)
    floors._rate_limit.cache_clear()
    floors._essentials.cache_clear()
    key = floors._essentials()  # its table and key, made once per process, as for the essential floor
    body = json.dumps({"email": ada.email, "password": PASSWORD})
    request = RequestFactory().post("/statements/login", body, content_type="application/json", HTTP_USER_AGENT="bench")
    sessions = Session.objects.count()
    floor = Sent()
    with connection.execute_wrapper(floor):
        response = floors.statements_login(request)
    floors._rate_limit.cache_clear()
    assert response.status_code == 200
    assert floor.statements == login.statements  # the same SQL, with values of the same types
    assert len(floor.statements) == 3
    assert redis.sources == [_HIT] and len(redis.calls) == 1
    answer = json.loads(response.content)
    key.public_key().verify(bytes.fromhex(answer["access_token"]), request.body, padding.PKCS1v15(), hashes.SHA256())
    refresh = answer["refresh_token"]
    session = Session.objects.get(refresh_tokens__token_hash=hashlib.sha256(refresh.encode()).hexdigest())
    assert session.user_id == ada.id and Session.objects.count() == sessions + 1
    assert RefreshToken.objects.filter(session=session).count() == 1
    assert not LoginFailure.objects.exists()  # the attempt's row, deleted with the writes
