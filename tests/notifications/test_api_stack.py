"""docs/notifications.md through the real stack: the API in this process over PostgreSQL and Redis, the
deliveries queued on RabbitMQ and sent by a `celery worker` process (stack mode only)."""

from __future__ import annotations

import time

import pytest

from notifications.models import Delivery, InAppMessage
from permissions.interface import permission_service
from tests.support.broker import wait_for
from tests.support.factories import GroupFactory, UserFactory
from tests.support.http import client_for

pytestmark = pytest.mark.stack

BASE = "/api/v1/notifications"
HELLO = {"subject": "Maintenance tonight", "body": "Down from 22:00 to 23:00."}


def a_user(email: str):
    return UserFactory(email=email, display_name=email.split("@")[0])


def all_sent(notification_id: str, expected: int) -> bool:
    deliveries = Delivery.objects.filter(notification_id=notification_id)
    return deliveries.count() == expected and not deliveries.exclude(status="sent").exists()


def test_a_send_to_a_group_over_http_is_delivered_by_the_worker_once_and_the_unread_count_follows(
    smtp,
    worker,
):
    ada, grace, ops = a_user("ada@example.com"), a_user("grace@example.com"), a_user("ops@example.com")
    notifier = permission_service.create_role(
        actor_id=None, name="notifier", permissions=["notifications.notification.send"]
    )
    permission_service.grant_role(actor_id=None, role_id=notifier.id, user_id=ops.id)
    staff = GroupFactory(name="staff", members=[user.id for user in (ada, grace)])
    sender, reader = client_for(ops), client_for(ada)
    # The welcome (in-app, sent by the worker from users.user_registered) lands first.
    wait_for(lambda: InAppMessage.objects.filter(user_id=ada.id).exists(), timeout=30, what="the welcome")
    assert reader.get(f"{BASE}/unread-count").json() == {"count": 1}  # now cached in Redis

    body = {"type": "announcement", "recipients": {"group_id": str(staff.id)}, "context": HELLO}
    first = sender.post(f"{BASE}/send", body, format="json", HTTP_IDEMPOTENCY_KEY="maintenance")
    again = sender.post(f"{BASE}/send", body, format="json", HTTP_IDEMPOTENCY_KEY="maintenance")

    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    notification_id = first.json()["id"]
    wait_for(lambda: all_sent(notification_id, 4), timeout=60, what="every delivery sent")
    wait_for(lambda: len([m for m in smtp.messages() if m[1]["Subject"] == "Maintenance tonight"]) == 2, timeout=30)
    time.sleep(1.5)  # the time a duplicate would need to show up
    announcements = [to for to, message in smtp.messages() if message["Subject"] == "Maintenance tonight"]
    assert sorted(announcements) == [["ada@example.com"], ["grace@example.com"]]

    # The worker's new message made the cached count stale: the next read is exact.
    assert reader.get(f"{BASE}/unread-count").json() == {"count": 2}
    deliveries = sender.get(f"{BASE}/deliveries/{notification_id}").json()
    assert deliveries["counts"] == {"pending": 0, "sent": 4, "failed": 0, "skipped": 0}
    assert {d["attempts"] for d in deliveries["results"]} == {1}

    [newest, _welcome] = reader.get(BASE).json()["results"]
    assert newest["notification_id"] == notification_id and newest["is_read"] is False
    assert reader.post(f"{BASE}/{newest['id']}/read").status_code == 204
    assert reader.get(f"{BASE}/unread-count").json() == {"count": 1}
    assert reader.post(f"{BASE}/read-all").status_code == 204
    assert reader.get(f"{BASE}/unread-count").json() == {"count": 0}
    assert client_for(grace).get(f"{BASE}/unread-count").json() == {"count": 2}


def test_a_role_granted_to_a_group_reaches_each_member_once_through_the_worker(worker):
    ada, grace = a_user("ada@example.com"), a_user("grace@example.com")
    staff = GroupFactory(name="staff", members=[user.id for user in (ada, grace)])
    viewer = permission_service.create_role(actor_id=None, name="viewer", permissions=[])

    # rbac.assignment_granted → the worker's consumer → the notifications.send task → deliveries.
    permission_service.grant_role(actor_id=None, role_id=viewer.id, group_id=staff.id, scope="org:acme")

    notices = InAppMessage.objects.filter(notification__type="role_assigned")
    wait_for(lambda: notices.count() == 2, timeout=30, what="both role notices")
    time.sleep(1.5)
    assert sorted(notices.values_list("user_id", flat=True)) == sorted([ada.id, grace.id])
    assert {m.body.strip() for m in notices} == {
        "You were given the viewer role in org:acme through a group you are in."
    }


def test_an_org_admins_send_to_the_members_is_delivered_by_the_worker_once(smtp, worker):
    """POST /api/v1/orgs/{id}/notifications (docs/orgs.md, Notifications) through the real stack:
    each member's mail arrives once, an outsider's never; a replay with the key sends nothing."""
    from users.interface.orgs import org_service

    owner, admin, member, outsider = (
        a_user("owner@example.com"),
        a_user("admin@example.com"),
        a_user("member@example.com"),
        a_user("outsider@example.com"),
    )
    org = org_service.create_org(actor_id=owner.id, name="Acme", slug="acme")
    org_service.add_member(actor_id=owner.id, org_id=org.id, user_id=admin.id, role="admin")
    org_service.add_member(actor_id=owner.id, org_id=org.id, user_id=member.id, role="member")
    api = client_for(admin)
    body = {"type": "announcement", "context": HELLO, "channels": ["email"]}

    first = api.post(f"/api/v1/orgs/{org.id}/notifications", body, format="json", HTTP_IDEMPOTENCY_KEY="acme-1")
    again = api.post(f"/api/v1/orgs/{org.id}/notifications", body, format="json", HTTP_IDEMPOTENCY_KEY="acme-1")
    refused = client_for(outsider).post(f"/api/v1/orgs/{org.id}/notifications", body, format="json")

    assert first.status_code == again.status_code == 202 and first.json() == again.json()
    assert refused.status_code == 404
    wait_for(lambda: all_sent(first.json()["id"], 3), timeout=60, what="every delivery sent")
    wait_for(lambda: len([m for m in smtp.messages() if m[1]["Subject"] == "Maintenance tonight"]) == 3, timeout=30)
    time.sleep(1.5)  # the time a duplicate would need to show up
    announcements = sorted(to for to, message in smtp.messages() if message["Subject"] == "Maintenance tonight")
    assert announcements == [["admin@example.com"], ["member@example.com"], ["owner@example.com"]]
