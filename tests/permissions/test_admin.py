"""The Django admin writes through the services, as the signed-in user."""

import pytest

from permissions.core import selectors
from permissions.interface import ADMIN_ROLE
from permissions.models import Assignment, AuditEntry, Role
from users.interface import user_service

from .conftest import grant, new_user, role

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = user_service.create(email="root@example.com", is_staff=True, is_superuser=True, is_verified=True)
    from users.models import User

    client.force_login(User.objects.get(id=user.id))
    return user


def test_a_role_added_in_the_admin_is_audited_with_its_actor(client, staff, codes):
    grant(Role.objects.get(name=ADMIN_ROLE), user_id=staff.id)
    response = client.post(
        "/admin/permissions/role/add/",
        {"name": "reader", "description": "Reads.", "permissions": ["docs.page.read"], "parents": []},
    )
    assert response.status_code == 302, response.content[:2000]
    reader = Role.objects.get(name="reader")
    assert list(reader.permissions.values_list("code", flat=True)) == ["docs.page.read"]
    assert AuditEntry.objects.get(action="role.created").actor_id == staff.id


def test_the_admin_refuses_escalation_like_the_api(client, staff, codes):
    response = client.post("/admin/permissions/role/add/", {"name": "reader", "permissions": ["docs.page.read"]})
    assert response.status_code == 200
    assert b"escalation" in response.content or b"do not hold" in response.content
    assert not Role.objects.filter(name="reader").exists()


def test_revoking_from_the_admin_goes_through_the_service(client, staff, codes):
    user = new_user()
    assignment = grant(role("reader", ["docs.page.read"]), user_id=user)
    response = client.post(
        "/admin/permissions/assignment/",
        {"action": "revoke", "_selected_action": [str(assignment.id)]},
    )
    assert response.status_code == 302
    assert not Assignment.objects.exists()
    assert not selectors.check(user_id=user, permission="docs.page.read")
    assert AuditEntry.objects.get(action="assignment.revoked").actor_id == staff.id


@pytest.mark.parametrize("model", ["role", "group", "assignment", "permission", "auditentry"])
def test_every_rbac_list_opens(client, staff, codes, model):
    role("reader", ["docs.page.read"])
    assert client.get(f"/admin/permissions/{model}/").status_code == 200


def test_a_role_deleted_in_the_admin_goes_through_the_service(client, staff, codes):
    reader = role("reader", ["docs.page.read"])
    response = client.post(f"/admin/permissions/role/{reader.id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Role.objects.filter(name="reader").exists()
    assert AuditEntry.objects.get(action="role.deleted").actor_id == staff.id
