"""The revocation check with the cache (Redis) unreachable: the database answers, and a revoked
session stays revoked. Runs in both modes: the outage is a Redis client pointed at a closed port."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.test import override_settings

from auth.core import sessions
from auth.core.sessions import REVOKED, session_is_alive
from auth.interface import SESSION_REVOKED
from tests.support.http import bearer, tokens_of
from tests.support.processes import free_port

from .conftest import events, sid_of, status_of_me

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cache_counts_as_shared(settings):
    # Without REDIS_URL (embedded mode) the check skips the cache altogether; here the local cache
    # stands in for Redis, so that both modes take the cached path these tests are about.
    if not settings.REDIS_URL:
        settings.REDIS_URL = "redis://stand-in-for-the-local-cache"


def redis_down():
    return override_settings(
        CACHES={
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
                "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
            }
        }
    )


def test_with_the_cache_down_the_database_answers_and_a_revoked_session_is_denied(api, ada, deliver_events):
    tokens, other = tokens_of(api), tokens_of(api)
    assert status_of_me(api, tokens["access_token"]) == 200  # the cache now says "alive"

    with redis_down():
        with pytest.raises(Exception):  # noqa: B017 - whatever the client raises: it is down
            cache.get("anything")
        assert status_of_me(api, tokens["access_token"]) == 200
        assert api.post("/api/v1/auth/logout", **bearer(tokens["access_token"])).status_code == 204
        assert status_of_me(api, tokens["access_token"]) == 401
        assert status_of_me(api, other["access_token"]) == 200
        # Logging in and refreshing need no cache either.
        fresh = tokens_of(api)
        assert status_of_me(api, fresh["access_token"]) == 200
        refreshed = api.post("/api/v1/auth/token/refresh", {"refresh_token": fresh["refresh_token"]}, format="json")
        assert refreshed.status_code == 200

    # The cache is back, still holding the "alive" marker written before the outage: the
    # auth.session_revoked event's handler writes the revocation there (with retries in a worker).
    [revoked] = [e for e in events(SESSION_REVOKED) if e["reason"] == "logout"]
    assert revoked["session_ids"] == [sid_of(tokens["access_token"])]
    deliver_events()
    assert cache.get(f"auth:sid:{sid_of(tokens['access_token'])}") == REVOKED
    assert status_of_me(api, tokens["access_token"]) == 401
    assert status_of_me(api, other["access_token"]) == 200


def test_a_check_that_read_the_database_before_a_revoke_cannot_mark_the_session_alive_after_it(api, ada):
    """The race the cache markers are built for: process B reads "alive" from the database, process
    A revokes (writing "revoked" to the cache), then B writes its stale answer. B's write is an
    `add`, which never overwrites, so the revocation stands."""
    tokens = tokens_of(api)
    session_id = uuid.UUID(sid_of(tokens["access_token"]))
    cache.delete(f"auth:sid:{session_id}")

    real_alive_in_database = sessions._alive_in_database

    def revoke_right_after_reading(sid):
        alive = real_alive_in_database(sid)
        logout = api.post("/api/v1/auth/logout", {"refresh_token": tokens["refresh_token"]}, format="json")
        assert logout.status_code == 204
        return alive

    sessions._alive_in_database = revoke_right_after_reading
    try:
        assert session_is_alive(session_id) is True  # the stale answer of that one check
    finally:
        sessions._alive_in_database = real_alive_in_database
    assert cache.get(f"auth:sid:{session_id}") == REVOKED
    assert status_of_me(api, tokens["access_token"]) == 401
