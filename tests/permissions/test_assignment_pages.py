"""Assignments come in keyset pages: newest first on (created_at, id), an opaque cursor, no shifting."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from permissions.interface import MAX_PAGE_SIZE, AssignmentPage, InvalidRbacInput, permission_service
from permissions.models import Assignment, Role
from tests.support.rbac import new_user

from .conftest import grant, role
from .test_api import RBAC, account

pytestmark = pytest.mark.django_db


def walk(limit: int, **filters) -> list[uuid.UUID]:
    ids, cursor = [], None
    while True:
        page = permission_service.list_assignments(limit=limit, cursor=cursor, **filters)
        assert isinstance(page, AssignmentPage) and len(page.results) <= limit
        ids.extend(a.id for a in page.results)
        if page.next is None:
            return ids
        assert len(page.results) == limit
        cursor = page.next


def newest_first(rows) -> list[uuid.UUID]:
    return [a.id for a in sorted(rows, key=lambda a: (a.created_at, a.id), reverse=True)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    # Few distinct instants, so that many assignments share created_at and the id breaks the tie.
    instants=st.lists(st.integers(min_value=0, max_value=3), max_size=25),
    owners=st.data(),
    limit=st.integers(min_value=1, max_value=8),
)
def test_pages_in_a_row_are_every_assignment_newest_first_exactly_once(codes, instants, owners, limit):
    reader = role("pager", ["docs.page.read"])
    users = [new_user(), new_user()]
    base = timezone.now()
    try:
        for instant in instants:
            user = owners.draw(st.sampled_from(users))
            assignment = grant(reader, user_id=user)
            Assignment.objects.filter(id=assignment.id).update(created_at=base - timedelta(seconds=instant))
        rows = list(Assignment.objects.filter(role=reader))
        assert walk(limit) == newest_first(rows)
        assert walk(limit, user_id=users[0]) == newest_first(r for r in rows if r.user_id == users[0])
        assert walk(limit, role_id=reader.id) == newest_first(rows)
    finally:
        Role.objects.filter(id=reader.id).delete()


def test_assignments_granted_while_paging_do_not_shift_the_pages(codes):
    reader = role("reader", ["docs.page.read"])
    first = [grant(reader, user_id=new_user()).id for _ in range(5)]
    page = permission_service.list_assignments(role_id=reader.id, limit=2)
    seen = [a.id for a in page.results]
    for _ in range(3):
        grant(reader, user_id=new_user())  # newer than everything already listed
    while page.next:
        page = permission_service.list_assignments(role_id=reader.id, limit=2, cursor=page.next)
        seen.extend(a.id for a in page.results)
    assert seen == list(reversed(first))


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1])
def test_a_limit_out_of_range_is_invalid_input(limit):
    with pytest.raises(InvalidRbacInput) as raised:
        permission_service.list_assignments(limit=limit)
    assert raised.value.code == "validation_error" and "limit" in raised.value.details


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        "bm90IGpzb24",
        "WzFd",
        "WyJ4IiwgInkiXQ",
        "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwgIjEyMyJd",
        "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwgIjAwMDAwMDAwLTAwMDAtNDAwMC04MDAwLTAwMDAwMDAwMDAwMCJd",
    ],
    ids=["not-base64", "not-json", "one-item", "not-a-time", "naive-time-bad-id", "naive-time"],
)
def test_a_cursor_that_is_not_ours_is_invalid_input(cursor):
    with pytest.raises(InvalidRbacInput) as raised:
        permission_service.list_assignments(cursor=cursor)
    assert raised.value.details == {"cursor": ["Invalid cursor."]}


@pytest.mark.urls("tests.permissions.urls")
def test_the_rest_list_pages_with_the_cursor_and_answers_400_with_details_for_bad_input(codes):
    client, user_id = account("pager@example.com")
    admin = permission_service.get_role_by_name(name="admin")
    permission_service.grant_role(actor_id=None, role_id=admin.id, user_id=user_id)
    reader = role("reader", ["docs.page.read"])
    granted = [grant(reader, user_id=new_user()).id for _ in range(3)]

    first = client.get(f"{RBAC}/assignments", {"role": "reader", "limit": 2}).json()
    second = client.get(f"{RBAC}/assignments", {"role": "reader", "limit": 2, "cursor": first["next"]}).json()
    assert [a["id"] for a in first["results"] + second["results"]] == [str(i) for i in reversed(granted)]
    assert second["next"] is None

    everything = client.get(f"{RBAC}/assignments").json()
    assert len(everything["results"]) == 4 and everything["next"] is None  # with the admin's own

    for params, field in [({"cursor": "%%%"}, "cursor"), ({"limit": 0}, "limit"), ({"limit": "x"}, "limit")]:
        response = client.get(f"{RBAC}/assignments", params)
        assert response.status_code == 400, params
        assert field in response.json()["error"]["details"], response.json()
    assert Assignment.objects.count() == 4
