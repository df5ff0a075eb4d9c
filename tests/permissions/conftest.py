from __future__ import annotations

import time

import pytest

from permissions.core import cache as rbac_cache
from permissions.core import services
from permissions.interface import permission_service
from tests.support.factories import PermissionFactory, UserFactory
from tests.support.http import client_for
from tests.support.rbac import grant_role

CODES = ["docs.page.read", "docs.page.write", "docs.page.delete", "billing.invoice.read", "billing.invoice.pay"]


@pytest.fixture(autouse=True)
def _clear_local_layer():
    rbac_cache.local.clear()
    yield
    rbac_cache.local.clear()


@pytest.fixture
def codes(db):
    """A few permissions besides the contract's, straight into the synced table."""
    for code in CODES:
        PermissionFactory(code=code)
    rbac_cache.invalidate(everyone=True)
    return CODES


def role(name, permissions=(), parents=(), actor_id=None):
    return services.create_role(
        actor_id=actor_id, name=name, permissions=list(permissions), parents=[p.id for p in parents]
    )


def grant(role_, *, user_id=None, group=None, scope=None, expires_at=None, actor_id=None):
    return services.grant_role(
        actor_id=actor_id,
        role_id=role_.id,
        user_id=user_id,
        group_id=group.id if group else None,
        scope=scope,
        expires_at=expires_at,
    )


@pytest.fixture
def cache_layers(settings):
    """These tests are about the cache layers; embedded mode bypasses them (a revoke made in
    another process could not reach a process-local cache: issue 14, item 5, and
    tests/permissions/test_embedded_cross_process.py). With a shared cache's setting, the layers run
    over whatever cache backend the run has (Redis in stack mode, this process's memory embedded)."""
    if not settings.REDIS_URL:
        settings.REDIS_URL = "redis://process-local-cache-under-test"
        return
    _wait_for_the_mirror_to_rejoin()


def _wait_for_the_mirror_to_rejoin(timeout: float = 10.0) -> None:
    """Each test starts with a flushed Redis (tests/conftest.py), which evicts this process from the
    token mirror (project.mirror): it stops serving its copy at its next renewal and joins again
    after a backoff. A test that counts queries must start once it has rejoined, or the drop would
    land inside the counted block (one pending-invalidation query per check, and flaky counts)."""
    copy = rbac_cache.mirror()
    if copy is None:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        member = copy.member_id
        registered = member and copy._client.zscore(copy._members_key, member) is not None
        if registered and copy.generation() is not None and copy.member_id == member:
            return
        time.sleep(0.02)
    raise AssertionError(f"the token mirror did not rejoin within {timeout}s of the test's Redis flush")


@pytest.fixture
def acme_viewer(db):
    """A user who may view users in org:acme and below, and nothing else: their signed-in client
    and id (the check endpoint's tests)."""
    user = UserFactory(email="ada@example.com")
    permission_service.create_role(actor_id=None, name="viewer", permissions=["users.user.view"], parents=[])
    grant_role(user.id, "viewer", scope="org:acme")
    return client_for(user), user.id
