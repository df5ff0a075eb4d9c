"""Managing users in the Django admin: writes go through the users service."""

import pytest

from permissions.interface import ADMIN_ROLE
from tests.support.factories import PASSWORD, AssignmentFactory, GroupFactory, RoleFactory, UserFactory
from tests.support.rbac import grant_role
from users.interface import user_service

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    # The admin role: is_superuser grants nothing.
    UserFactory(email="root@example.com", is_staff=True, roles=[ADMIN_ROLE])
    assert client.login(username="root@example.com", password=PASSWORD)
    return client


def test_a_user_added_in_the_admin_is_created_by_the_service(admin_client):
    response = admin_client.post(
        "/admin/users/user/add/",
        {"email": "Grace@Example.com", "password": PASSWORD, "display_name": "Grace"},
    )
    assert response.status_code == 302, response.content[:2000]
    user = user_service.get_user_by_email(email="grace@example.com")
    assert user.display_name == "Grace"
    assert user_service.verify_password(email="grace@example.com", password=PASSWORD) == user


def test_a_weak_password_in_the_admin_shows_the_services_error_and_creates_nothing(admin_client):
    response = admin_client.post("/admin/users/user/add/", {"email": "grace@example.com", "password": "password"})
    assert response.status_code == 200
    assert b"too common" in response.content
    assert user_service.list_users(search="grace").results == ()


def test_a_user_edited_in_the_admin_is_updated_by_the_service(admin_client):
    grace = UserFactory(email="grace@example.com")
    response = admin_client.post(
        f"/admin/users/user/{grace.id}/change/",
        {"email": "grace@example.com", "display_name": "Grace H.", "is_verified": "on"},
    )
    assert response.status_code == 302, response.content[:2000]
    updated = user_service.get_user(user_id=grace.id)
    assert (updated.display_name, updated.is_verified) == ("Grace H.", True)


def test_deactivating_in_the_admin_revokes_access(admin_client):
    grace = UserFactory(email="grace@example.com")
    response = admin_client.post("/admin/users/user/", {"action": "deactivate", "_selected_action": [str(grace.id)]})
    assert response.status_code == 302
    assert user_service.get_user(user_id=grace.id).is_active is False


def test_a_users_page_shows_their_roles_groups_and_permissions_with_the_explain_tool_a_click_away(admin_client):
    from html import unescape

    from permissions.interface import permission_service

    grace = UserFactory(email="grace@example.com")
    reader = permission_service.create_role(actor_id=None, name="reader", permissions=["users.user.view"])
    permission_service.create_role(actor_id=None, name="auditor", permissions=["rbac.audit.view"])
    direct = grant_role(grace.id, "reader", scope="org:acme")
    grant_role(grace.id, "auditor")
    editors = GroupFactory(name="editors", members=[grace.id])
    permission_service.grant_role(actor_id=None, role_id=reader.id, group_id=editors.id)

    page = unescape(admin_client.get(f"/admin/users/user/{grace.id}/change/").content.decode())
    assert "Access (RBAC)" in page
    assert f'<a href="/admin/permissions/assignment/{direct.id}/change/">reader</a> in org:acme' in page
    assert "auditor</a> in global" in page and "reader</a> in global, through group editors" in page
    assert f'<a href="/admin/permissions/group/{editors.id}/change/">editors</a>' in page
    # Effective (global): the auditor's and the group's reader's; each a link to its explanation.
    explain = "/admin/permissions/assignment/explain/"
    assert f'href="{explain}?email=grace%40example.com&permission=users.user.view"' in page
    assert f'href="{explain}?email=grace%40example.com&permission=rbac.audit.view"' in page
    assert f'href="{explain}?email=grace%40example.com" id="explain-user"' in page

    why = admin_client.get(explain, {"email": "grace@example.com", "permission": "users.user.view"})
    assert (why.context["explanation"].allowed, why.context["explanation"].group_id) == (True, editors.id)
    prefilled = admin_client.get(explain, {"email": "grace@example.com"})
    assert prefilled.context["explanation"] is None and not prefilled.context["form"].errors
    assert 'value="grace@example.com"' in prefilled.content.decode()


def test_a_users_page_shows_only_the_access_its_viewer_may_see(client):
    from users.models import User

    viewer = UserFactory(email="viewer@example.com", is_staff=True)
    AssignmentFactory(role=RoleFactory(name="user-viewer", permissions=["users.user.view"]), user_id=viewer.id)
    grace = UserFactory(email="grace@example.com")
    grant_role(grace.id, "user-viewer")
    client.force_login(User.objects.get(id=viewer.id))
    page = client.get(f"/admin/users/user/{grace.id}/change/")
    assert page.status_code == 200 and b"grace@example.com" in page.content
    assert b"Access (RBAC)" not in page.content and b"user-viewer" not in page.content
