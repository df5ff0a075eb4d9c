"""The revocation check with each process's copy of the session markers (project.mirror), against
the real Redis and another real process: a warm check makes no round trip, a logout here is seen
there at once, and a revoke that cannot reach Redis waits out the copies' lease."""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import transaction
from django.test import override_settings

from auth.core import sessions
from project import mirror as mirrors
from tests.support.children import COUNTING_REDIS_COMMANDS, LineChild
from tests.support.http import bearer, tokens_of
from tests.support.processes import free_port

from .conftest import sid_of

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

CHILD = (
    COUNTING_REDIS_COMMANDS
    + """
from auth.core.sessions import session_is_alive
from project.mirror import shared_mirror

for line in sys.stdin:
    command, argument = line.split()
    if command == "serving":
        print(shared_mirror().generation() is not None, flush=True)
        continue
    before = sent["n"]
    alive = session_is_alive(uuid.UUID(argument))
    print(f"{'yes' if alive else 'no'} {sent['n'] - before}", flush=True)
"""
)


class Child(LineChild):
    def __init__(self):
        super().__init__(CHILD)
        deadline = time.monotonic() + 15
        while self.ask("serving -") != ["True"]:
            assert time.monotonic() < deadline, "the child's copy never started serving"
            time.sleep(0.05)

    def alive(self, session_id: str) -> tuple[bool, int]:
        """The answer, and the Redis commands the check sent."""
        answer, sent = self.ask(f"alive {session_id}")
        return answer == "yes", int(sent)


@pytest.fixture
def child():
    process = Child()
    yield process
    process.stop()


def test_a_warm_session_check_makes_no_round_trip_and_a_logout_shows_at_once(api, ada, child):
    tokens = tokens_of(api)
    sid = sid_of(tokens["access_token"])
    assert child.alive(sid)[0]  # cold: the database answers and writes the marker
    assert child.alive(sid) == (True, 1)  # the marker from Redis, now copied
    warm = [child.alive(sid) for _ in range(20)]
    print(f"\nRedis commands per warm session check in the other process: {[sent for _, sent in warm]}")
    assert warm == [(True, 0)] * 20

    assert api.post("/api/v1/auth/logout", **bearer(tokens["access_token"])).status_code == 204

    assert child.alive(sid) == (False, 1)  # the copy dropped it: Redis says revoked
    assert child.alive(sid) == (False, 0)
    assert sessions.session_is_alive(uuid.UUID(sid)) is False


def copied_here(key: str, *, check, timeout: float = 15.0):
    """What this process's copy holds for `key`, once its copy serves (a copy that restarted, e.g.
    after another test's fault, serves again within a lease) and a check has filled it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        copy = mirrors.shared_mirror()
        if copy.generation() is not None:
            assert check()
            kept = copy.get(key)
            if kept is not None:
                return kept
        time.sleep(0.05)
    raise AssertionError("this process's copy never held the marker")


def test_an_alive_marker_is_copied_no_longer_than_the_cache_keeps_it(api, ada, monkeypatch):
    # Shorter than a lease, so that the copy is still served when its marker has run out.
    monkeypatch.setattr(sessions, "ALIVE_MARKER_SECONDS", 0.5)
    tokens = tokens_of(api)
    sid = uuid.UUID(sid_of(tokens["access_token"]))
    assert sessions.session_is_alive(sid)  # the database answers, the marker is written
    key = sessions._key(sid)
    original = sessions.redis_client.primary_get_many
    calls: list = []
    deadline = time.monotonic() + 15
    while True:
        drops = mirrors.shared_mirror().drops
        kept = copied_here(key, check=lambda: sessions.session_is_alive(sid))
        assert kept[0] == sessions.ALIVE
        assert 0 < kept[1] - time.monotonic() <= sessions.ALIVE_MARKER_SECONDS
        # Past the copy's limit, the check asks Redis again, though the copy is served.
        time.sleep(max(kept[1] - time.monotonic(), 0) + 0.05)
        calls.clear()
        with monkeypatch.context() as patched:
            patched.setattr(
                sessions.redis_client, "primary_get_many", lambda keys: calls.append(keys) or original(keys)
            )
            sessions.session_is_alive(sid)
        copy = mirrors.shared_mirror()
        if copy.generation() is not None and copy.drops == drops:
            break  # else the copy was emptied meanwhile (it rejoined after another test's Redis flush): again
        assert time.monotonic() < deadline, "this process's copy was not served long enough to tell"
    assert calls == [[key]]


def test_a_revoke_that_cannot_reach_redis_returns_after_a_lease(api, ada):
    tokens = tokens_of(api)
    sid = uuid.UUID(sid_of(tokens["access_token"]))
    dead = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    with override_settings(CACHES=dead):
        started = time.monotonic()
        with transaction.atomic():
            sessions.sessions_revoke(sessions.Session.objects.filter(id=sid), reason="test")
        took = time.monotonic() - started
    print(f"\nrevoke with Redis unreachable returned after {took:.2f}s (lease {mirrors.LEASE}s)")
    assert took >= mirrors.LEASE + mirrors.MARGIN
    assert sessions.session_is_alive(sid) is False  # from Redis now: the database's answer


def test_a_revoke_denies_in_its_own_process_before_its_commit_though_the_copy_held_alive(api, ada):
    tokens = tokens_of(api)
    sid = uuid.UUID(sid_of(tokens["access_token"]))
    assert sessions.session_is_alive(sid)  # the database answers, the marker is written
    assert copied_here(sessions._key(sid), check=lambda: sessions.session_is_alive(sid))[0] == sessions.ALIVE
    with transaction.atomic():
        sessions.sessions_revoke(sessions.Session.objects.filter(id=sid), reason="test")
        # Not committed yet, so no other copy has been told; this process's copy dropped it.
        assert sessions.session_is_alive(sid) is False
    assert sessions.session_is_alive(sid) is False
