"""Concurrent SCIM writes of one resource, over HTTP to a live gunicorn with several workers
(scim/leases.py, docs/scim.md "Concurrent writes"). A PATCH is a read, a change and a write through
other services' interfaces: without one write per resource at a time, two PATCHes adding members
to one group each write back the set they read, and one member is lost; and an `If-Match` would
guard the read, not the write."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from scim.models import ScimWriteLease
from scim.tokens import token_create
from tests.scim.conftest import GROUP_SCHEMA, PATCH_SCHEMA, SCIM
from tests.support.factories import UserFactory
from tests.support.live import live_gatehouse

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 6


@pytest.fixture
def scim(tmp_path, transactional_db):
    _, secret = token_create(name="Okta")
    with live_gatehouse(tmp_path, workers=WRITERS) as base:
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {secret}", "Content-Type": SCIM})
        yield base + "/scim/v2", session


def _patch_add_member(scim, group_id: str, user_id: str, **headers) -> requests.Response:
    base, session = scim
    body = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}]}
    return session.patch(f"{base}/Groups/{group_id}", json=body, headers=headers, timeout=60)


def _group(scim) -> dict:
    base, session = scim
    created = session.post(f"{base}/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "Engineering"}, timeout=60)
    assert created.status_code == 201, created.text
    return created.json()


def _members(scim, group_id: str) -> set[str]:
    base, session = scim
    return {
        member["value"] for member in session.get(f"{base}/Groups/{group_id}", timeout=60).json().get("members", [])
    }


def test_concurrent_patches_adding_members_to_one_group_lose_none(scim):
    group = _group(scim)
    users = [str(UserFactory().id) for _ in range(WRITERS)]
    with ThreadPoolExecutor(WRITERS) as pool:
        responses = list(pool.map(lambda user_id: _patch_add_member(scim, group["id"], user_id), users))
    assert [r.status_code for r in responses] == [204] * WRITERS, [r.text for r in responses]
    assert _members(scim, group["id"]) == set(users)
    assert not ScimWriteLease.objects.exists()  # every write let go of its lease


def test_of_concurrent_patches_with_the_same_if_match_exactly_one_applies(scim):
    group = _group(scim)
    users = [str(UserFactory().id) for _ in range(WRITERS)]
    etag = group["meta"]["version"]
    with ThreadPoolExecutor(WRITERS) as pool:
        responses = list(
            pool.map(lambda user_id: _patch_add_member(scim, group["id"], user_id, **{"If-Match": etag}), users)
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [204] + [412] * (WRITERS - 1), [r.text for r in responses]
    winner = next(user for user, r in zip(users, responses, strict=True) if r.status_code == 204)
    assert _members(scim, group["id"]) == {winner}
