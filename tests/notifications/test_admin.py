"""The Django admin of notifications: the types (from the code's registry), deliveries, preferences."""

from __future__ import annotations

import pytest
from django.urls import reverse

from notifications.interface import Preference, notification_service
from permissions.interface import ADMIN_ROLE
from tests.support.factories import UserFactory
from users.models import User

from .conftest import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("embedded")]


@pytest.fixture
def operator(client):
    # The admin role: is_superuser grants nothing.
    admin = UserFactory(email="ops@example.com", password="a-long-admin-password", is_staff=True, roles=[ADMIN_ROLE])
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
    staff = UserFactory(email="staff@example.com", password="a-long-staff-password", is_staff=True)
    client.force_login(User.objects.get(id=staff.id))

    assert client.get(reverse("admin:notifications_notification_types")).status_code == 403


def test_preferences_are_listed_and_filtered_read_only(operator, embedded):
    ada = make_user("ada@example.com")
    notification_service.set_preferences(
        user_id=ada.id, preferences=[Preference(type="announcement", channel="email", enabled=False)]
    )

    listing = operator.get(reverse("admin:notifications_preference_changelist"), {"enabled__exact": "0"})

    assert listing.status_code == 200
    assert "ada@example.com (Ada)" in listing.content.decode() and str(ada.id) not in listing.content.decode()
    assert operator.get(reverse("admin:notifications_preference_add")).status_code == 403


HELLO = {"subject": "Maintenance tonight", "body": "Down from 22:00 to 23:00."}


def test_deliveries_name_their_user_and_are_found_by_email(operator, embedded):
    ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
    notification_id = notification_service.send_notification(
        type="announcement", user_ids=[ada.id, bob.id], context=HELLO, channels=["email"]
    )
    listing = operator.get(reverse("admin:notifications_delivery_changelist"))
    content = listing.content.decode()
    assert "ada@example.com (Ada)" in content and "bob@example.com (Bob)" in content
    assert str(ada.id) not in content and str(bob.id) not in content

    found = operator.get(reverse("admin:notifications_delivery_changelist"), {"q": "bob@example.com"})
    assert {d.user_id for d in found.context["cl"].result_list} == {bob.id}
    assert (
        list(
            operator.get(reverse("admin:notifications_delivery_changelist"), {"q": "nobody@x.org"})
            .context["cl"]
            .result_list
        )
        == []
    )

    [delivery] = [d for d in found.context["cl"].result_list if d.notification_id == notification_id]
    page = operator.get(reverse("admin:notifications_delivery_change", args=[delivery.id])).content.decode()
    assert "bob@example.com (Bob)" in page and str(bob.id) not in page  # the field, the title, the breadcrumbs
    notification = operator.get(reverse("admin:notifications_notification_change", args=[notification_id]))
    inline = notification.content.decode()  # its deliveries, inline
    assert "ada@example.com (Ada)" in inline and "bob@example.com (Bob)" in inline and str(ada.id) not in inline
