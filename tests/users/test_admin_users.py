"""Managing users in the Django admin: writes go through the users service."""

import pytest

from tests.support.rbac import grant_role
from users.interface import user_service

pytestmark = pytest.mark.django_db

PASSWORD = "a-Long-unguessable-passphrase-42"


@pytest.fixture
def admin_client(client):
    root = user_service.create(email="root@example.com", password=PASSWORD, is_staff=True)
    grant_role(root.id)  # the admin role: is_superuser grants nothing
    assert client.login(username="root@example.com", password=PASSWORD)
    return client


def test_a_user_added_in_the_admin_is_created_by_the_service(admin_client):
    response = admin_client.post(
        "/admin/users/user/add/",
        {"email": "Grace@Example.com", "password": PASSWORD, "display_name": "Grace"},
    )
    assert response.status_code == 302, response.content[:2000]
    user = user_service.get_by_email(email="grace@example.com")
    assert user.display_name == "Grace"
    assert user_service.verify_password(email="grace@example.com", password=PASSWORD) == user


def test_a_weak_password_in_the_admin_shows_the_services_error_and_creates_nothing(admin_client):
    response = admin_client.post("/admin/users/user/add/", {"email": "grace@example.com", "password": "password"})
    assert response.status_code == 200
    assert b"too common" in response.content
    assert user_service.list(search="grace").results == ()


def test_a_user_edited_in_the_admin_is_updated_by_the_service(admin_client):
    grace = user_service.create(email="grace@example.com")
    response = admin_client.post(
        f"/admin/users/user/{grace.id}/change/",
        {"email": "grace@example.com", "display_name": "Grace H.", "is_verified": "on"},
    )
    assert response.status_code == 302, response.content[:2000]
    updated = user_service.get(user_id=grace.id)
    assert (updated.display_name, updated.is_verified) == ("Grace H.", True)


def test_deactivating_in_the_admin_revokes_access(admin_client):
    grace = user_service.create(email="grace@example.com")
    response = admin_client.post("/admin/users/user/", {"action": "deactivate", "_selected_action": [str(grace.id)]})
    assert response.status_code == 302
    assert user_service.get(user_id=grace.id).is_active is False
