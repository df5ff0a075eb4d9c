"""POST /api/v1/orgs/{id}/notifications (docs/orgs.md, Notifications): an org's admins notify its
members, or the holders of a role among them; outsiders get 404, members 403, nothing is sent;
the same key sends once; a member removed before the fan-out reaches them gets nothing."""

from __future__ import annotations

import pytest

from notifications.core import queue
from notifications.interface import STATUS_SENT, STATUS_SKIPPED, notification_service
from notifications.models import Delivery, InAppMessage, Notification
from permissions.interface import permission_service
from tests.orgs.conftest import make_org
from tests.support.factories import RoleFactory, UserFactory
from tests.support.http import client_for, error_code, error_of
from users.interface.orgs import org_scope, org_service

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_process_tasks")]

HELLO = {"subject": "All hands", "body": "Friday at 10."}


def url(org) -> str:
    return f"/api/v1/orgs/{org.id}/notifications"


@pytest.fixture
def world():
    """Acme (owner, admin, two members) and Globex (its own owner and member)."""
    owner, admin, m1, m2 = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    acme = make_org(owner, "acme")
    org_service.add_member(actor_id=owner.id, org_id=acme.id, user_id=admin.id, role="admin")
    for member in (m1, m2):
        org_service.add_member(actor_id=owner.id, org_id=acme.id, user_id=member.id, role="member")
    g_owner, g_member = UserFactory(), UserFactory()
    globex = make_org(g_owner, "globex")
    org_service.add_member(actor_id=g_owner.id, org_id=globex.id, user_id=g_member.id, role="member")
    return {
        "acme": acme,
        "globex": globex,
        "owner": owner,
        "admin": admin,
        "m1": m1,
        "m2": m2,
        "g_owner": g_owner,
        "g_member": g_member,
    }


def recipients(notification_id) -> dict:
    return {d.user_id: d.status for d in notification_service.get_deliveries(notification_id=notification_id)}


def in_app_of(user) -> list[str]:
    return list(InAppMessage.objects.filter(user_id=user.id).values_list("subject", flat=True))


def test_an_admin_notifies_every_member_of_their_org_once(world):
    api = client_for(world["admin"])

    response = api.post(
        url(world["acme"]), {"type": "announcement", "context": HELLO, "channels": ["in_app"]}, format="json"
    )

    assert response.status_code == 202, response.content
    sent = recipients(response.json()["id"])
    members = {world[n].id for n in ("owner", "admin", "m1", "m2")}
    assert set(sent) == members  # nobody of Globex
    assert set(sent.values()) == {STATUS_SENT}
    for name in ("owner", "admin", "m1", "m2"):
        assert in_app_of(world[name]).count("All hands") == 1
    assert "All hands" not in in_app_of(world["g_member"])


def test_the_same_idempotency_key_sends_once(world):
    api = client_for(world["owner"])
    body = {"type": "announcement", "context": HELLO, "channels": ["in_app"]}

    first = api.post(url(world["acme"]), body, format="json", HTTP_IDEMPOTENCY_KEY="all-hands-1")
    again = api.post(url(world["acme"]), body, format="json", HTTP_IDEMPOTENCY_KEY="all-hands-1")
    other = api.post(url(world["acme"]), {**body, "role": "admin"}, format="json", HTTP_IDEMPOTENCY_KEY="all-hands-1")

    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["id"] == again.json()["id"]
    assert Notification.objects.filter(type="announcement").count() == 1
    assert in_app_of(world["m1"]).count("All hands") == 1
    assert (other.status_code, error_code(other)) == (409, "idempotency_key_reused")


@pytest.mark.parametrize(
    ("role", "expected"),
    [("owner", {"owner"}), ("admin", {"admin"}), ("member", {"m1", "m2"})],
)
def test_an_org_role_reaches_its_holders_only(world, role, expected):
    response = client_for(world["admin"]).post(
        url(world["acme"]),
        {"type": "announcement", "context": HELLO, "role": role, "channels": ["in_app"]},
        format="json",
    )

    assert response.status_code == 202, response.content
    assert set(recipients(response.json()["id"])) == {world[name].id for name in expected}


def test_a_custom_role_reaches_the_members_holding_it_in_the_org_scope_only(world):
    oncall = RoleFactory(name="oncall", permissions=["orgs.org.view"])
    # m1 holds it in Acme's scope; g_member in Globex's; m2 holds it globally (not granted in Acme).
    permission_service.grant_role(
        actor_id=None, role_id=oncall.id, user_id=world["m1"].id, scope=org_scope(world["acme"].id)
    )
    permission_service.grant_role(
        actor_id=None, role_id=oncall.id, user_id=world["g_member"].id, scope=org_scope(world["globex"].id)
    )
    permission_service.grant_role(actor_id=None, role_id=oncall.id, user_id=world["m2"].id)

    response = client_for(world["admin"]).post(
        url(world["acme"]),
        {"type": "announcement", "context": HELLO, "role": "oncall", "channels": ["in_app"]},
        format="json",
    )

    assert response.status_code == 202, response.content
    assert set(recipients(response.json()["id"])) == {world["m1"].id}


def test_a_role_nobody_holds_or_no_role_at_all_is_400_and_records_nothing(world):
    api = client_for(world["admin"])
    RoleFactory(name="idle", permissions=["orgs.org.view"])

    unknown = api.post(url(world["acme"]), {"type": "announcement", "context": HELLO, "role": "nope"}, format="json")
    nobody = api.post(url(world["acme"]), {"type": "announcement", "context": HELLO, "role": "idle"}, format="json")

    assert (unknown.status_code, error_code(unknown)) == (400, "validation_error")
    assert "role" in error_of(unknown)["details"]
    assert (nobody.status_code, error_code(nobody)) == (400, "validation_error")
    assert "role" in error_of(nobody)["details"]
    assert not Notification.objects.filter(type="announcement").exists()


def test_reserved_types_are_refused_here_too(world):
    response = client_for(world["owner"]).post(
        url(world["acme"]), {"type": "password_changed", "context": {}}, format="json"
    )

    assert (response.status_code, error_code(response)) == (400, "reserved_notification_type")
    assert not Notification.objects.filter(type="password_changed").exists()


@pytest.mark.parametrize("caller", ["outsider", "g_owner", "m1"])
def test_outsiders_get_404_members_403_and_nothing_is_sent(world, caller):
    person = UserFactory() if caller == "outsider" else world[caller]
    api = client_for(person)
    before = Notification.objects.count(), Delivery.objects.count(), InAppMessage.objects.count()

    response = api.post(url(world["acme"]), {"type": "announcement", "context": HELLO}, format="json")
    bad_body = api.post(url(world["acme"]), {"type": 7}, format="json")  # 404/403 before 400

    if caller == "m1":
        assert (response.status_code, error_code(response)) == (403, "org_permission_denied")
        assert error_of(response)["details"]["missing_permissions"] == ["orgs.notification.send"]
        assert (bad_body.status_code, error_code(bad_body)) == (403, "org_permission_denied")
    else:
        assert (response.status_code, error_code(response)) == (404, "org_not_found")
        assert (bad_body.status_code, error_code(bad_body)) == (404, "org_not_found")
    assert (Notification.objects.count(), Delivery.objects.count(), InAppMessage.objects.count()) == before


def test_an_unknown_org_is_404(world):
    import uuid

    response = client_for(world["admin"]).post(
        f"/api/v1/orgs/{uuid.uuid4()}/notifications", {"type": "announcement", "context": HELLO}, format="json"
    )

    assert (response.status_code, error_code(response)) == (404, "org_not_found")


def test_a_member_removed_between_the_request_and_the_fan_out_gets_nothing(world):
    """The broker holds the delivery jobs (as a busy queue would) while m2 is removed; when the
    real batch task runs, m2's delivery is skipped and the others are sent."""
    held: list[queue.Job] = []
    original = queue._enqueue
    queue.enqueue_register(held.append)
    try:
        response = client_for(world["admin"]).post(
            url(world["acme"]), {"type": "announcement", "context": HELLO, "channels": ["in_app"]}, format="json"
        )
        assert response.status_code == 202, response.content
        notification_id = response.json()["id"]
        assert world["m2"].id in recipients(notification_id)  # recorded: a member at the request
        org_service.remove_member(actor_id=world["owner"].id, org_id=world["acme"].id, user_id=world["m2"].id)
    finally:
        queue.enqueue_register(original)
    assert held
    for job in held:
        queue.enqueue(job)

    deliveries = {d.user_id: d for d in notification_service.get_deliveries(notification_id=notification_id)}
    assert deliveries[world["m2"].id].status == STATUS_SKIPPED
    assert "no longer a member" in deliveries[world["m2"].id].last_error
    assert "All hands" not in in_app_of(world["m2"])
    assert {deliveries[world[n].id].status for n in ("owner", "admin", "m1")} == {STATUS_SENT}
    assert in_app_of(world["m1"]).count("All hands") == 1


def test_a_single_delivery_retried_after_removal_is_skipped_too(world):
    """The one-delivery path (a retry, the sweeper, the admin's retry) checks membership as well."""
    from notifications.core.delivery import delivery_attempt

    held: list[queue.Job] = []
    original = queue._enqueue
    queue.enqueue_register(held.append)
    try:
        notification_id = notification_service.send_notification(
            type="announcement", context=HELLO, org_id=world["acme"].id, org_role="member", channels=["email"]
        )
    finally:
        queue.enqueue_register(original)
    org_service.remove_member(actor_id=world["m1"].id, org_id=world["acme"].id, user_id=world["m1"].id)  # leaves
    by_user = {d.user_id: d for d in notification_service.get_deliveries(notification_id=notification_id)}

    assert delivery_attempt(delivery_id=by_user[world["m1"].id].id) == STATUS_SKIPPED
    assert delivery_attempt(delivery_id=by_user[world["m2"].id].id) == STATUS_SENT


def test_a_custom_role_granted_to_a_group_in_the_org_scope_reaches_its_members_who_are_org_members(world):
    from tests.support.factories import GroupFactory

    pager = RoleFactory(name="pager", permissions=["orgs.org.view"])
    crew = GroupFactory(name="crew", members=[world["m2"].id, world["g_member"].id])
    permission_service.grant_role(actor_id=None, role_id=pager.id, group_id=crew.id, scope=org_scope(world["acme"].id))

    response = client_for(world["admin"]).post(
        url(world["acme"]),
        {"type": "announcement", "context": HELLO, "role": "pager", "channels": ["in_app"]},
        format="json",
    )

    assert response.status_code == 202, response.content
    assert set(recipients(response.json()["id"])) == {world["m2"].id}  # g_member is not in Acme
