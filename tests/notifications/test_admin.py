"""The Django admin of notifications: the types (from the code's registry), deliveries, preferences."""

from __future__ import annotations

import pytest
from django.urls import reverse

from notifications.interface import Preference, notification_service
from tests.support.rbac import grant_role
from users.interface import user_service
from users.models import User

from .conftest import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("embedded")]


@pytest.fixture
def operator(client):
    admin = user_service.create(email="ops@example.com", password="a-long-admin-password", is_staff=True)
    grant_role(admin.id)  # the admin role: is_superuser grants nothing
    client.force_login(User.objects.get(id=admin.id))
    return client


def test_the_types_page_lists_every_declared_type_with_its_channels_and_whether_it_is_mandatory(operator):
    response = operator.get(reverse("admin:notifications_notification_types"))

    assert response.status_code == 200
    page = response.content.decode()
    for definition in notification_service.list_types():
        assert f'id="type-{definition.code}"' in page
    assert "role_assigned" in page and "welcome" in page
    index = operator.get(reverse("admin:app_list", kwargs={"app_label": "notifications"}))
    assert reverse("admin:notifications_notification_types") in index.content.decode()


def test_staff_without_the_right_permissions_do_not_see_the_types(client):
    staff = user_service.create(email="staff@example.com", password="a-long-staff-password", is_staff=True)
    client.force_login(User.objects.get(id=staff.id))

    assert client.get(reverse("admin:notifications_notification_types")).status_code == 403


def test_preferences_are_listed_and_filtered_read_only(operator, embedded):
    ada = make_user("ada@example.com")
    notification_service.set_preferences(
        user_id=ada.id, preferences=[Preference(type="announcement", channel="email", enabled=False)]
    )

    listing = operator.get(reverse("admin:notifications_preference_changelist"), {"enabled__exact": "0"})

    assert listing.status_code == 200
    assert str(ada.id) in listing.content.decode()
    assert operator.get(reverse("admin:notifications_preference_add")).status_code == 403
