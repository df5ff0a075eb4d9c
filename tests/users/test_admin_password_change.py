"""Issue 15 item 6: the admin's own password change goes through the auth service's one password
change: the API sessions end, `auth.password_changed` is recorded and the notice goes out."""

import pytest
from rest_framework.test import APIClient

from auth.interface import PASSWORD_CHANGED
from notifications.interface import TYPE_PASSWORD_CHANGED
from notifications.models import Notification
from project.events.models import OutboxEvent
from project.events.relay import relay_all
from tests.support.factories import PASSWORD, UserFactory
from users.models import User

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-Long-passphrase-77"


@pytest.fixture
def staff():
    return UserFactory(email="root@example.com", is_staff=True, is_superuser=True)


def api_access_token(password=PASSWORD) -> tuple[int, str]:
    response = APIClient().post(
        "/api/v1/auth/token", {"email": "root@example.com", "password": password}, format="json"
    )
    return response.status_code, response.json().get("access_token", "")


def me_status(access_token: str) -> int:
    return APIClient().get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {access_token}").status_code


def change(client, old=PASSWORD, new=NEW_PASSWORD):
    return client.post("/admin/password_change/", {"old_password": old, "new_password1": new, "new_password2": new})


def test_the_admin_password_change_ends_api_sessions_records_the_event_and_sends_the_notice(client, staff, settings):
    settings.CELERY_BROKER_URL = ""
    _, access_token = api_access_token()
    client.force_login(User.objects.get(id=staff.id))

    response = change(client)

    assert response.status_code == 302 and response["Location"].endswith("/admin/password_change/done/")
    assert me_status(access_token) == 401  # the API session ended
    assert [e.payload for e in OutboxEvent.objects.filter(type=PASSWORD_CHANGED)] == [{"user_id": str(staff.id)}]
    while relay_all():
        pass
    assert Notification.objects.filter(type=TYPE_PASSWORD_CHANGED).count() == 1
    assert api_access_token(NEW_PASSWORD)[0] == 200
    assert client.get("/admin/").status_code == 200  # the admin session itself goes on


def test_a_wrong_old_password_in_the_admin_changes_nothing(client, staff):
    _, access_token = api_access_token()
    client.force_login(User.objects.get(id=staff.id))
    before = User.objects.get(id=staff.id).password

    response = change(client, old="not-the-password-at-all")

    assert response.status_code == 200
    assert b"The password is not correct." in response.content
    assert User.objects.get(id=staff.id).password == before
    assert me_status(access_token) == 200
    assert not OutboxEvent.objects.filter(type=PASSWORD_CHANGED).exists()
