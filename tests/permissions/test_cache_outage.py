"""The shared cache down: checks answer from the database, revokes go ahead with their
invalidation pending (issue 14, item 2), writes that would grant are refused, and an invalidation
lost after a commit is retried until the cache is back.

The cache here is a real django-redis client aimed at a port nothing listens on (every call is a
refused connection); tests/reliability/test_fault_redis.py does the same with a real Redis server
that is killed and restarted under a web process."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache
from django.test import override_settings

from permissions.core import cache as rbac_cache
from permissions.core import engine, selectors, services
from permissions.models import Assignment
from project.kernel.errors import ServiceUnavailable
from tests.support.processes import free_port
from tests.support.rbac import new_user

from .conftest import grant, role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cache_layers")]


def dead_cache():
    return override_settings(
        CACHES={
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
                "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
            }
        }
    )


def reference(user_id, permission, scope):
    """The database's answer, with every cache layer out of the way."""
    return engine.compile_user(user_id, engine.load_graph(), engine.now()).holds(permission, scope)


def test_checks_answer_from_the_database_while_the_cache_is_down(codes):
    reader, writer, nobody = new_user(), new_user(), new_user()
    grant(role("reader", ["docs.page.read"]), user_id=reader, scope="org:acme")
    grant(role("writer", ["docs.page.write", "docs.page.read"]), user_id=writer)
    questions = [
        (user, permission, scope)
        for user in (reader, writer, nobody)
        for permission in ("docs.page.read", "docs.page.write")
        for scope in (None, "org:acme", "org:acme/project:1", "org:other")
    ]
    warm = [selectors.check(user_id=u, permission=p, scope=s) for u, p, s in questions]
    with dead_cache():
        during = [selectors.check(user_id=u, permission=p, scope=s) for u, p, s in questions]
        assert during == [reference(u, p, s) for u, p, s in questions]
        assert selectors.check_many(user_id=reader, checks=[(p, s) for _, p, s in questions[:8]]) == during[:8]
        assert selectors.effective_permissions(user_id=writer, scope=None) == {"docs.page.read", "docs.page.write"}
        assert rbac_cache.local.get("anything") is None
    assert during == warm
    assert sum(during) > 0 and not all(during)


def test_while_the_cache_is_down_nothing_is_cached_in_the_process_either(codes):
    user = new_user()
    grant(role("reader", ["docs.page.read"]), user_id=user)
    rbac_cache.local.clear()
    with dead_cache():
        assert selectors.check(user_id=user, permission="docs.page.read")
    assert rbac_cache.local._entries == {}


def test_a_revoke_while_the_cache_is_down_goes_ahead_with_its_invalidation_pending(codes):
    from permissions.models import PendingInvalidation
    from project.events.models import OutboxEvent

    user = new_user()
    assignment = grant(role("reader", ["docs.page.read"]), user_id=user)
    assert selectors.check(user_id=user, permission="docs.page.read")  # cached: the grant is warm
    with dead_cache():
        services.revoke_assignment(actor_id=None, assignment_id=assignment.id)
        assert not Assignment.objects.filter(id=assignment.id).exists()
        assert not selectors.check(user_id=user, permission="docs.page.read")  # the database answers
    [pending] = PendingInvalidation.objects.all()
    assert (pending.user_ids, pending.everyone) == ([str(user)], False)
    assert OutboxEvent.objects.filter(type="rbac.cache_invalidation_pending").count() == 1
    # Back, with the old tokens still in it: applying the pending invalidation (the consumer of the
    # event, the writer's retry, or a process's next cold read does it) replaces them.
    assert rbac_cache.apply_pending() == 1
    assert not selectors.check(user_id=user, permission="docs.page.read")
    assert not PendingInvalidation.objects.exists()


def test_every_write_that_only_takes_access_away_goes_ahead_while_the_cache_is_down(codes):
    from permissions.models import PendingInvalidation

    user = new_user()
    reader = role("reader", ["docs.page.read", "docs.page.write"])
    doomed = role("doomed", ["docs.page.read"])
    group = services.create_group(actor_id=None, name="staff")
    services.add_group_member(actor_id=None, group_id=group.id, user_id=user)
    with dead_cache():
        services.update_role(actor_id=None, role_id=reader.id, permissions=["docs.page.read"])  # loses one
        services.remove_group_member(actor_id=None, group_id=group.id, user_id=user)
        services.delete_group(actor_id=None, group_id=group.id)
        services.delete_role(actor_id=None, role_id=doomed.id)
        services.user_deactivation_record(user_id=user)
    assert PendingInvalidation.objects.count() == 5
    assert sorted(reader.permissions.values_list("code", flat=True)) == ["docs.page.read"]


def test_every_write_that_could_grant_is_refused_while_the_cache_is_down(codes):
    user = new_user()
    reader = role("reader", ["docs.page.read"])
    group = services.create_group(actor_id=None, name="staff")
    with dead_cache():
        for write in (
            lambda: services.create_role(actor_id=None, name="writer", permissions=["docs.page.write"]),
            lambda: services.update_role(actor_id=None, role_id=reader.id, permissions=["docs.page.write"]),
            lambda: services.grant_role(actor_id=None, role_id=reader.id, user_id=user),
            lambda: services.add_group_member(actor_id=None, group_id=group.id, user_id=user),
        ):
            with pytest.raises(ServiceUnavailable):
                write()
    assert not selectors.check(user_id=user, permission="docs.page.read")
    assert sorted(reader.permissions.values_list("code", flat=True)) == ["docs.page.read"]


def test_an_invalidation_lost_after_the_commit_is_retried_until_the_cache_answers(
    codes, monkeypatch, django_capture_on_commit_callbacks
):
    user = new_user()
    assignment = grant(role("reader", ["docs.page.read"]), user_id=user)
    before = rbac_cache.versions(user)
    real_bump = rbac_cache._bump
    calls = {"n": 0}
    bumped = threading.Event()

    def flaky_bump(user_ids, everyone, **options):
        calls["n"] += 1
        if calls["n"] in (2, 3, 4):  # the first (before the commit) works; the cache dies after it
            raise ConnectionError("cache down")
        real_bump(user_ids, everyone, **options)
        if calls["n"] > 4:
            bumped.set()

    monkeypatch.setattr(rbac_cache, "_bump", flaky_bump)
    monkeypatch.setattr(rbac_cache, "RETRY_DELAYS", (0.01,))
    with django_capture_on_commit_callbacks(execute=True):
        services.revoke_assignment(actor_id=None, assignment_id=assignment.id)
    assert bumped.wait(5), "the invalidation was never retried"
    assert calls["n"] == 5
    assert rbac_cache.versions(user)[1] != before[1]
    assert not selectors.check(user_id=user, permission="docs.page.read")
    assert cache.get(f"rbac:uv:{user}") == rbac_cache.versions(user)[1]
