"""docs/auth.md on the real stack: two web processes (gunicorn) on PostgreSQL, Redis and RabbitMQ,
and a Celery worker hosting the auth consumer. Stack mode only.

The point of two processes: a revocation made through one must be seen by the other on its very
next request, with nothing shared between them but the database and the cache.
"""

from __future__ import annotations

import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from auth.interface import EMAIL_VERIFICATION_REQUESTED
from auth.models import RefreshToken, Session
from project.events.models import OutboxEvent
from tests.support.broker import Broker, wait_for
from tests.support.factories import PASSWORD, UserFactory
from tests.support.http import call, tokens_from
from tests.support.processes import Process, celery_worker, free_port, port_open, subprocess_env
from tests.support.rbac import grant_role
from users.interface import user_service

from .conftest import sealed_token

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "another-Long-passphrase-77"


class Web:
    """A gunicorn process serving the project, as deployed: DEBUG off, its own memory."""

    def __init__(self, name: str, *, broker: Broker, log_dir: Path):
        self.port = free_port()
        env = subprocess_env(
            DEBUG="0",
            SECRET_KEY=django_settings.SECRET_KEY,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="false",
            GATEHOUSE_EVENTS_EXCHANGE=broker.exchange_name,
        )
        args = [sys.executable, "-m", "gunicorn", "project.wsgi", "-b", f"127.0.0.1:{self.port}", "-w", "1"]
        self.process = Process(name, args, env=env, log_dir=log_dir)
        self.process.wait_until(lambda: port_open(self.port) and self.call("GET", "/healthz")[0] == 200)

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
        return call(method, f"http://127.0.0.1:{self.port}{path}", body, token)

    def login(self, email="ada@example.com", password=PASSWORD) -> dict:
        return tokens_from(f"http://127.0.0.1:{self.port}", email, password)

    def me(self, token: str) -> int:
        return self.call("GET", "/api/v1/users/me", token=token)[0]


@pytest.fixture
def webs(broker, tmp_path):
    started = [Web(name, broker=broker, log_dir=tmp_path) for name in ("web-a", "web-b")]
    yield started
    for web in started:
        web.process.stop()


@pytest.fixture
def ada_user(transactional_db):
    return UserFactory(email="ada@example.com")


def test_logout_through_one_process_stops_the_token_on_the_next_request_to_another(webs, ada_user):
    a, b = webs
    tokens = a.login()
    assert b.me(tokens["access_token"]) == 200  # b has now seen (and cached) the session alive
    assert b.me(tokens["access_token"]) == 200

    assert a.call("POST", "/api/v1/auth/logout", token=tokens["access_token"])[0] == 204

    assert b.me(tokens["access_token"]) == 401
    assert b.call("POST", "/api/v1/auth/token/refresh", {"refresh_token": tokens["refresh_token"]})[0] == 401


def test_logout_with_the_refresh_token_through_one_process_stops_the_token_on_another(webs, ada_user):
    a, b = webs
    tokens = b.login()
    assert b.me(tokens["access_token"]) == 200
    assert a.call("POST", "/api/v1/auth/logout", {"refresh_token": tokens["refresh_token"]})[0] == 204
    assert b.me(tokens["access_token"]) == 401


def test_a_password_change_through_one_process_stops_other_sessions_on_another(webs, ada_user):
    a, b = webs
    other, current = a.login(), a.login()
    assert b.me(other["access_token"]) == 200

    status, _ = a.call(
        "POST",
        "/api/v1/auth/password/change",
        {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
        token=current["access_token"],
    )
    assert status == 204

    assert b.me(other["access_token"]) == 401
    assert b.me(current["access_token"]) == 200
    b.login(password=NEW_PASSWORD)


def test_refresh_reuse_detected_by_one_process_stops_the_session_on_another(webs, ada_user, settings):
    a, b = webs
    tokens = a.login()
    status, fresh = b.call("POST", "/api/v1/auth/token/refresh", {"refresh_token": tokens["refresh_token"]})
    assert status == 200
    assert a.me(fresh["access_token"]) == 200
    # Outside the grace window (the setting is read by the serving process: move the clock instead).
    RefreshToken.objects.filter(used_at__isnull=False).update(
        used_at=timezone.now() - timedelta(seconds=settings.GATEHOUSE_REFRESH_REUSE_GRACE + 1)
    )
    assert a.call("POST", "/api/v1/auth/token/refresh", {"refresh_token": tokens["refresh_token"]})[0] == 401
    assert b.me(fresh["access_token"]) == 401


def test_two_processes_refreshing_the_same_token_at_once_both_succeed_and_leave_one_usable_token(webs, ada_user):
    """Two tabs refresh at the same moment through different processes: the row lock serialises
    them, the second one takes the grace path, and the session survives with exactly one usable
    refresh token."""
    a, b = webs
    for _ in range(3):
        tokens = a.login()
        body = {"refresh_token": tokens["refresh_token"]}
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(web.call, "POST", "/api/v1/auth/token/refresh", body) for web in (a, b)]
            results = [future.result() for future in futures]
        assert [status for status, _ in results] == [200, 200], results
        sid = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]
        assert Session.objects.get(id=sid).revoked_at is None
        assert RefreshToken.objects.filter(session_id=sid, used_at__isnull=True).count() == 1
        usable = [body for _, body in results if a.me(body["access_token"]) == 200]
        assert len(usable) == 2


def test_deleting_a_user_through_one_process_stops_its_tokens_on_another(webs, ada_user):
    a, b = webs
    grant_role(UserFactory(email="root@example.com").id)  # the admin role
    root = a.login(email="root@example.com")
    tokens = b.login()
    assert b.me(tokens["access_token"]) == 200
    assert a.call("DELETE", f"/api/v1/users/{ada_user.id}", token=root["access_token"])[0] == 204
    assert b.me(tokens["access_token"]) == 401


def test_the_signing_key_one_process_creates_verifies_on_another(webs, ada_user):
    a, b = webs
    tokens = a.login()
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    assert kid in {key["kid"] for key in b.call("GET", "/.well-known/jwks.json")[1]["keys"]}
    assert b.me(tokens["access_token"]) == 200


def test_processes_making_the_first_key_at_once_make_one_and_all_sign_with_it():
    """A fresh deployment: every web worker meets "no signing key" on its first login at the same
    moment. On PostgreSQL, with real concurrent transactions (one connection per thread, each
    thread a process's key cache), exactly one key is made and every cache signs with it and
    knows it; two keys left a token of one worker unknown, for up to a second, to the other (401s
    under tests/reliability/test_load.py)."""
    from django.db import connection

    from auth.core import keys
    from auth.models import SigningKey

    callers = 8
    barrier = threading.Barrier(callers)

    def first_login():
        cache = keys._KeyCache()
        try:
            barrier.wait(timeout=30)
            return cache.signing_key()[0], set(cache._public)
        finally:
            connection.close()

    with ThreadPoolExecutor(callers) as pool:
        results = list(pool.map(lambda _: first_login(), range(callers)))
    [key] = SigningKey.objects.all()
    assert key.retired_at is None
    assert {kid for kid, _ in results} == {key.kid}
    assert all(known == {key.kid} for _, known in results)


# --- with a worker hosting the auth consumer ------------------------------------------------------


@pytest.fixture
def auth_worker(broker, tmp_path):
    worker = celery_worker(broker, "auth", log_dir=tmp_path, GATEHOUSE_OUTBOX_SWEEP_AGE="0")
    yield worker
    worker.stop(timeout=10)


def test_registration_through_http_leads_to_a_mailed_token_that_verifies_the_email(webs, auth_worker):
    a, b = webs
    status, user = a.call("POST", "/api/v1/auth/register", {"email": "grace@example.com", "password": PASSWORD})
    assert status == 201

    # users.user_registered → RabbitMQ → the worker's auth consumer → auth.email_verification_requested.
    row = wait_for(
        lambda: OutboxEvent.objects.filter(type=EMAIL_VERIFICATION_REQUESTED).first(),
        what="the verification event",
    )
    assert row.payload["user_id"] == user["id"]
    token = sealed_token(row.payload)

    assert b.call("POST", "/api/v1/auth/verify-email", {"token": token})[0] == 200
    assert user_service.get_user(user_id=uuid.UUID(user["id"])).is_verified
    assert a.call("POST", "/api/v1/auth/verify-email", {"token": token})[0] == 400


def test_a_deactivation_outside_the_api_revokes_the_sessions_through_the_worker(webs, ada_user, auth_worker):
    a, b = webs
    tokens = a.login()
    assert b.me(tokens["access_token"]) == 200

    user_service.deactivate_user(user_id=ada_user.id)  # as the admin or a gRPC caller would

    wait_for(
        lambda: Session.objects.filter(user_id=ada_user.id, revoked_at__isnull=False).exists(),
        what="the users.user_deactivated handler",
    )
    assert b.me(tokens["access_token"]) == 401
    assert a.me(tokens["access_token"]) == 401
