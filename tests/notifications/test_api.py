"""docs/notifications.md over HTTP (embedded mode): the inbox, its unread count, preferences, send, deliveries."""

from __future__ import annotations

import uuid

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from notifications.interface import STATUS_SENT, STATUS_SKIPPED, notification_service
from notifications.models import Delivery, InAppMessage, Notification
from notifications.models import Preference as PreferenceModel
from permissions.interface import permission_service
from tests.support.factories import AssignmentFactory, GroupFactory, RoleFactory
from tests.support.http import client_for, error_of

from .conftest import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("embedded")]

BASE = "/api/v1/notifications"
N_RECIPIENTS = 10_000
HELLO = {"subject": "Maintenance tonight", "body": "Down from 22:00 to 23:00."}


@pytest.fixture
def sender(embedded):
    """Holds notifications.notification.send globally, through a role."""
    user = make_user("ops@example.com")
    AssignmentFactory(
        role=RoleFactory(name="notifier", permissions=["notifications.notification.send"]), user_id=user.id
    )
    return user


def announce(user_ids, **kwargs) -> uuid.UUID:
    return notification_service.send_notification(type="announcement", user_ids=list(user_ids), context=HELLO, **kwargs)


def inbox_of(api, **params) -> dict:
    response = api.get(BASE, params)
    assert response.status_code == 200, response.content
    return response.json()


# --- The inbox -------------------------------------------------------------------------------------


def test_the_inbox_lists_the_callers_own_messages_newest_first_with_cursor_pages(ada, grace):
    ids = [announce([ada.id], channels=["in_app"]) for _ in range(5)]
    announce([grace.id], channels=["in_app"])
    api = client_for(ada)

    first = inbox_of(api, limit=2)
    assert [item["notification_id"] for item in first["results"]] == [str(i) for i in reversed(ids[-2:])]
    item = first["results"][0]
    assert set(item) == {"id", "notification_id", "type", "subject", "body", "created_at", "read_at", "is_read"}
    assert (item["type"], item["subject"], item["is_read"], item["read_at"]) == (
        "announcement",
        "Maintenance tonight",
        False,
        None,
    )
    assert item["created_at"].endswith("Z")
    seen = [entry["id"] for entry in first["results"]]
    cursor = first["next"]
    while cursor:
        page = inbox_of(api, limit=2, cursor=cursor)
        seen += [entry["id"] for entry in page["results"]]
        cursor = page["next"]
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == {str(m.id) for m in InAppMessage.objects.filter(user_id=ada.id)}


def test_the_inbox_defaults_to_50_and_caps_the_limit_at_200(ada):
    api = client_for(ada)
    assert inbox_of(api) == {"results": [], "next": None}
    announce([ada.id], channels=["in_app"])
    InAppMessage.objects.bulk_create(  # 205 in all: one message per notification and user
        InAppMessage(
            notification=Notification.objects.create(type="announcement", request_hash="x"),
            user_id=ada.id,
            subject="s",
            body="b",
        )
        for _ in range(204)
    )
    default, widest = inbox_of(api), inbox_of(api, limit=200)
    assert (len(default["results"]), len(widest["results"])) == (50, 200)
    assert default["next"] and widest["next"]
    assert len(inbox_of(api, limit=200, cursor=widest["next"])["results"]) == 5
    assert len(inbox_of(api, limit=5000)["results"]) == 200  # clamped, not refused (issue 16, item 13)
    for bad in ({"limit": 0}, {"limit": "x"}, {"cursor": "not-a-cursor"}, {"unread": "maybe"}):
        response = api.get(BASE, bad)
        assert response.status_code == 400, bad
        assert set(error_of(response)["details"]) == set(bad)


def test_unread_filters_the_inbox_and_reading_one_updates_it(ada):
    first, second = announce([ada.id], channels=["in_app"]), announce([ada.id], channels=["in_app"])
    api = client_for(ada)
    message = InAppMessage.objects.get(notification_id=first)

    assert api.post(f"{BASE}/{message.id}/read").status_code == 204
    assert api.post(f"{BASE}/{message.id}/read").status_code == 204  # idempotent

    unread = inbox_of(api, unread="true")["results"]
    assert [item["notification_id"] for item in unread] == [str(second)]
    everything = {item["notification_id"]: item for item in inbox_of(api)["results"]}
    assert everything[str(first)]["is_read"] is True and everything[str(first)]["read_at"].endswith("Z")


def test_one_user_can_neither_read_nor_mark_another_users_notification(ada, grace):
    announce([grace.id], channels=["in_app"])
    graces = InAppMessage.objects.get(user_id=grace.id)
    api = client_for(ada)

    response = api.post(f"{BASE}/{graces.id}/read")
    assert response.status_code == 404
    assert error_of(response)["code"] == "notification_not_found"
    assert api.post(f"{BASE}/{uuid.uuid4()}/read").status_code == 404
    assert api.post(f"{BASE}/read-all").status_code == 204
    assert inbox_of(api)["results"] == []
    graces.refresh_from_db()
    assert graces.read_at is None
    assert client_for(grace).get(f"{BASE}/unread-count").json() == {"count": 1}


def test_the_unread_count_is_exact_through_new_messages_read_and_read_all(ada, grace):
    api = client_for(ada)
    count = lambda: api.get(f"{BASE}/unread-count").json()["count"]  # noqa: E731

    assert count() == 0
    announce([ada.id, grace.id], channels=["in_app"])
    assert count() == 1
    for _ in range(3):
        announce([ada.id], channels=["in_app"])
    assert count() == 4
    message = InAppMessage.objects.filter(user_id=ada.id).first()
    api.post(f"{BASE}/{message.id}/read")
    assert count() == 3
    assert api.post(f"{BASE}/read-all").status_code == 204
    assert count() == 0
    assert client_for(grace).get(f"{BASE}/unread-count").json() == {"count": 1}


def test_a_repeated_unread_count_is_served_from_the_cache(ada):
    announce([ada.id], channels=["in_app"])
    api = client_for(ada)
    assert api.get(f"{BASE}/unread-count").json() == {"count": 1}

    with CaptureQueriesContext(connection) as queries:
        assert api.get(f"{BASE}/unread-count").json() == {"count": 1}
    assert not [q for q in queries.captured_queries if "notifications_inappmessage" in q["sql"]]


def test_the_inbox_needs_a_signed_in_user(ada):
    anonymous = APIClient()
    for method, path in (("get", BASE), ("get", f"{BASE}/unread-count"), ("post", f"{BASE}/read-all")):
        response = getattr(anonymous, method)(path)
        assert response.status_code == 401, path
        assert error_of(response)["code"] == "not_authenticated"


# --- Preferences -----------------------------------------------------------------------------------


def test_preferences_list_every_type_and_channel_with_mandatory_ones_always_on(ada):
    body = client_for(ada).get(f"{BASE}/preferences").json()

    entries = {(p["type"], p["channel"]): p for p in body["preferences"]}
    assert entries[("announcement", "email")] == {
        "type": "announcement",
        "channel": "email",
        "enabled": True,
        "mandatory": False,
    }
    assert entries[("password_changed", "email")]["mandatory"] is True
    assert all(p["enabled"] for p in body["preferences"])


def test_an_opted_out_channel_is_recorded_skipped_and_the_others_still_go_out(ada, grace):
    api = client_for(ada)
    response = api.put(
        f"{BASE}/preferences",
        {"preferences": [{"type": "announcement", "channel": "email", "enabled": False}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    entries = {(p["type"], p["channel"]): p["enabled"] for p in response.json()["preferences"]}
    assert entries[("announcement", "email")] is False and entries[("announcement", "in_app")] is True

    notification_id = announce([ada.id, grace.id])

    outcome = {
        (d.user_id, d.channel): (d.status, d.last_error)
        for d in Delivery.objects.filter(notification_id=notification_id)
    }
    assert outcome[(ada.id, "email")] == (STATUS_SKIPPED, "The recipient turned this channel off for this type.")
    assert outcome[(ada.id, "in_app")][0] == STATUS_SENT
    assert outcome[(grace.id, "email")][0] == STATUS_SENT
    assert [m.to for m in mail.outbox] == [["grace@example.com"]]

    # Turned on again, it goes out again.
    api.put(
        f"{BASE}/preferences",
        {"preferences": [{"type": "announcement", "channel": "email", "enabled": True}]},
        format="json",
    )
    mail.outbox.clear()
    announce([ada.id])
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]


def test_a_mandatory_type_cannot_be_turned_off_and_ignores_stored_opt_outs(ada):
    api = client_for(ada)
    response = api.put(
        f"{BASE}/preferences",
        {
            "preferences": [
                {"type": "announcement", "channel": "email", "enabled": False},
                {"type": "password_changed", "channel": "email", "enabled": False},
            ]
        },
        format="json",
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_preferences"
    assert error["details"] == {
        "preferences": {"password_changed.email": ["A mandatory notification cannot be turned off."]}
    }
    assert not PreferenceModel.objects.exists()  # all or nothing

    # Even an opt-out stored behind the API's back does not stop a security notice.
    PreferenceModel.objects.create(user_id=ada.id, type="password_changed", channel="email", enabled=False)
    # (Sent as Gatehouse sends it, from its own event: send() refuses the type.)
    from notifications.core.sending import send_notification

    send_notification(type="password_changed", user_ids=[ada.id], context={})
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]


@pytest.mark.parametrize(
    "body, field",
    [
        pytest.param({"preferences": [{"type": "nope", "channel": "email", "enabled": False}]}, "nope.email"),
        pytest.param(
            {"preferences": [{"type": "email_verification", "channel": "in_app", "enabled": True}]},
            "email_verification.in_app",
        ),
        pytest.param(
            {"preferences": [{"type": "announcement", "channel": "email", "enabled": False}] * 2}, "announcement.email"
        ),
        pytest.param({"preferences": [{"type": "announcement", "channel": "email"}]}, "0"),
        pytest.param({"preferences": [{"type": "announcement", "channel": "email", "enabled": "perhaps"}]}, "0"),
        pytest.param({"preferences": "all off"}, None),
        pytest.param({}, None),
    ],
)
def test_bad_preferences_are_refused_with_details_and_change_nothing(ada, body, field):
    response = client_for(ada).put(f"{BASE}/preferences", body, format="json")

    assert response.status_code == 400
    details = error_of(response)["details"]
    assert "preferences" in details
    if field is not None:
        assert field in details["preferences"]
    assert not PreferenceModel.objects.exists()


# --- Sending ---------------------------------------------------------------------------------------


def send(api, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(f"{BASE}/send", body, format="json", **headers)


def test_send_answers_202_with_the_id_and_the_recipients_get_it(sender, ada, grace):
    response = send(
        client_for(sender),
        {"type": "announcement", "recipients": {"user_ids": [str(ada.id), str(grace.id)]}, "context": HELLO},
    )

    assert response.status_code == 202, response.content
    notification_id = uuid.UUID(response.json()["id"])
    assert set(response.json()) == {"id"}
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "grace@example.com"]
    assert InAppMessage.objects.filter(notification_id=notification_id).count() == 2


def test_sending_needs_the_send_permission(ada, grace):
    body = {"type": "announcement", "recipients": {"user_ids": [str(grace.id)]}, "context": HELLO}
    response = send(client_for(ada), body)
    assert response.status_code == 403
    assert send(APIClient(), body).status_code == 401
    assert not Notification.objects.filter(type="announcement").exists()
    assert client_for(ada).get(f"{BASE}/deliveries/{uuid.uuid4()}").status_code == 403


def test_the_same_idempotency_key_answers_the_same_and_sends_once(sender, ada):
    api = client_for(sender)
    body = {"type": "announcement", "recipients": {"user_ids": [str(ada.id)]}, "context": HELLO}

    first = send(api, body, key="maintenance-2026-11-25")
    second = send(api, body, key="maintenance-2026-11-25")

    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert len(mail.outbox) == 1
    assert Notification.objects.filter(type="announcement").count() == 1

    changed = send(api, {**body, "context": {**HELLO, "body": "Postponed."}}, key="maintenance-2026-11-25")
    assert changed.status_code == 409
    assert error_of(changed)["code"] == "idempotency_key_reused"
    assert len(mail.outbox) == 1

    # Keys are the sender's own: another sender's same key is another notification.
    other = make_user("ops2@example.com")
    permission_service.grant_role(
        actor_id=None, role_id=permission_service.get_role_by_name(name="notifier").id, user_id=other.id
    )
    third = send(client_for(other), body, key="maintenance-2026-11-25")
    assert third.status_code == 202 and third.json() != first.json()


def test_send_to_a_group_reaches_its_members(sender, ada, grace):
    group = GroupFactory(name="staff", members=[ada.id])

    response = send(
        client_for(sender),
        {"type": "announcement", "recipients": {"group_id": str(group.id)}, "context": HELLO, "channels": ["email"]},
    )

    assert response.status_code == 202, response.content
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]


def test_send_to_a_role_in_a_scope_reaches_its_holders_there_only(sender, ada, grace):
    role = permission_service.create_role(actor_id=None, name="project-admin", permissions=[])
    permission_service.grant_role(actor_id=None, role_id=role.id, user_id=ada.id, scope="org:acme")
    permission_service.grant_role(actor_id=None, role_id=role.id, user_id=grace.id, scope="org:other")
    api = client_for(sender)

    response = send(
        api,
        {
            "type": "announcement",
            "recipients": {"role": "project-admin", "scope": "org:acme/project:7"},
            "context": HELLO,
            "channels": ["email"],
        },
    )

    assert response.status_code == 202, response.content
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    deliveries = api.get(f"{BASE}/deliveries/{response.json()['id']}").json()["results"]
    assert [(d["user_id"], d["channel"], d["status"]) for d in deliveries] == [(str(ada.id), "email", "sent")]


@pytest.mark.parametrize(
    "body, details",
    [
        pytest.param(
            {"type": "announcement", "recipients": {}, "context": HELLO}, {"recipients": ["non_field_errors"]}
        ),
        pytest.param(
            {"type": "announcement", "recipients": {"user_ids": ["nope"]}, "context": HELLO},
            {"recipients": ["user_ids"]},
        ),
        pytest.param(
            {"type": "announcement", "recipients": {"group_id": str(uuid.uuid4())}, "context": HELLO},
            {"recipients": ["group_id"]},
        ),
        pytest.param(
            {"type": "announcement", "recipients": {"role": "no-such-role"}, "context": HELLO}, {"recipients": ["role"]}
        ),
        pytest.param(
            {"type": "announcement", "recipients": {"role": "notifier", "scope": "bad scope"}, "context": HELLO},
            {"recipients": ["scope"]},
        ),
        pytest.param(
            {"type": "announcement", "recipients": {"user_ids": ["ADA"], "scope": "org:acme"}, "context": HELLO},
            {"recipients": ["scope"]},
        ),
        pytest.param(
            {"type": "announcement", "recipients": {"user_ids": []}, "context": HELLO}, {"recipients": ["user_ids"]}
        ),
        pytest.param({"type": "nope", "recipients": {"user_ids": ["ADA"]}, "context": HELLO}, {"type": None}),
        pytest.param({"type": "announcement", "recipients": {"user_ids": ["ADA"]}, "context": {}}, {"context": None}),
        pytest.param(
            {"type": "announcement", "recipients": {"user_ids": ["ADA"]}, "context": HELLO, "channels": ["pigeon"]},
            {"channels": None},
        ),
        pytest.param({"type": "announcement", "recipients": "everyone", "context": HELLO}, {"recipients": None}),
    ],
)
def test_a_bad_send_is_a_400_with_details_and_sends_nothing(sender, ada, body, details):
    body = {**body, "recipients": _with_ada(body["recipients"], ada)}
    response = send(client_for(sender), body)

    assert response.status_code == 400, response.content
    got = error_of(response)["details"]
    assert set(got) == set(details)
    for field, nested in details.items():
        if nested is not None:
            assert set(got[field]) == set(nested), got
    assert not Notification.objects.filter(type="announcement").exists()
    assert not mail.outbox


def _with_ada(recipients, ada):
    if isinstance(recipients, dict) and recipients.get("user_ids") == ["ADA"]:
        return {**recipients, "user_ids": [str(ada.id)]}
    return recipients


def test_a_group_without_members_is_refused(sender):
    group = permission_service.create_group(actor_id=None, name="empty")
    response = send(
        client_for(sender), {"type": "announcement", "recipients": {"group_id": str(group.id)}, "context": HELLO}
    )
    assert response.status_code == 400
    assert error_of(response)["details"] == {"recipients": {"non_field_errors": ["No user matches these recipients."]}}


def test_a_bad_idempotency_key_is_refused(sender, ada):
    body = {"type": "announcement", "recipients": {"user_ids": [str(ada.id)]}, "context": HELLO}
    response = send(client_for(sender), body, key="k" * 300)
    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"Idempotency-Key"}


# --- Deliveries ------------------------------------------------------------------------------------


def test_deliveries_show_each_recipient_and_channel_with_status_attempts_and_error(sender, ada, grace):
    api = client_for(sender)
    PreferenceModel.objects.create(user_id=grace.id, type="announcement", channel="email", enabled=False)
    notification_id = send(
        api, {"type": "announcement", "recipients": {"user_ids": [str(ada.id), str(grace.id)]}, "context": HELLO}
    ).json()["id"]

    body = api.get(f"{BASE}/deliveries/{notification_id}").json()

    assert body["notification_id"] == notification_id and body["next"] is None
    assert body["counts"] == {"pending": 0, "sent": 3, "failed": 0, "skipped": 1}
    rows = {(d["user_id"], d["channel"]): d for d in body["results"]}
    assert set(rows) == {(str(u), c) for u in (ada.id, grace.id) for c in ("email", "in_app")}
    assert (rows[(str(ada.id), "email")]["status"], rows[(str(ada.id), "email")]["attempts"]) == ("sent", 1)
    skipped = rows[(str(grace.id), "email")]
    assert (skipped["status"], skipped["attempts"]) == ("skipped", 0) and "turned this channel off" in skipped[
        "last_error"
    ]
    assert set(skipped) == {"id", "user_id", "channel", "status", "attempts", "last_error", "sent_at", "updated_at"}

    only_skipped = api.get(f"{BASE}/deliveries/{notification_id}", {"status": "skipped"}).json()["results"]
    assert [(d["user_id"], d["channel"]) for d in only_skipped] == [(str(grace.id), "email")]
    paged = api.get(f"{BASE}/deliveries/{notification_id}", {"limit": 3}).json()
    rest = api.get(f"{BASE}/deliveries/{notification_id}", {"limit": 3, "cursor": paged["next"]}).json()
    assert len(paged["results"]) == 3 and len(rest["results"]) == 1 and rest["next"] is None


def test_deliveries_of_an_unknown_notification_are_a_404(sender):
    response = client_for(sender).get(f"{BASE}/deliveries/{uuid.uuid4()}")
    assert response.status_code == 404
    assert error_of(response)["code"] == "notification_not_found"


# --- Fan-out ---------------------------------------------------------------------------------------


def test_an_announcement_to_10000_recipients_completes(sender):
    from users.models import User

    users = User.objects.bulk_create(
        [User(email=f"user{i}@example.com", display_name=f"User {i}", password="!") for i in range(N_RECIPIENTS)]
    )
    response = send(
        client_for(sender),
        {
            "type": "announcement",
            "recipients": {"user_ids": [str(user.id) for user in users]},
            "context": HELLO,
            "channels": ["in_app"],
        },
        key="all-hands",
    )

    assert response.status_code == 202, response.content
    notification_id = response.json()["id"]
    statuses = Delivery.objects.filter(notification_id=notification_id).values_list("status", flat=True)
    assert len(statuses) == N_RECIPIENTS and set(statuses) == {STATUS_SENT}
    assert InAppMessage.objects.filter(notification_id=notification_id).count() == N_RECIPIENTS


# --- Gatehouse's own types cannot be sent on request (issue 15, items 2 and 7) --------------------

RESERVED = {
    "password_reset": {"sealed_token": "__sealed__", "ip": "203.0.113.9"},
    "email_verification": {"sealed_token": "__sealed__"},
    "password_changed": {"via": "reset"},
    "refresh_token_reused": {"ip": "Verify now at https://evil.example/login"},
    "role_assigned": {"role": "admin"},
}


@pytest.mark.parametrize("type_", sorted(RESERVED))
def test_a_sender_cannot_send_a_security_or_one_time_link_type(sender, ada, type_):
    """The attack: a holder of notifications.notification.send had a reset token for the admin
    sealed into a link (readable in the outbox admin) or forged a mandatory security notice that
    reached users who had opted out."""
    from .conftest import one_time_token

    _, sealed = one_time_token(ada.id)
    context = {key: sealed if value == "__sealed__" else value for key, value in RESERVED[type_].items()}
    before = (Notification.objects.count(), Delivery.objects.count(), len(mail.outbox))
    response = client_for(sender).post(
        f"{BASE}/send",
        {"type": type_, "recipients": {"user_ids": [str(ada.id)]}, "context": context},
        format="json",
        headers={"Idempotency-Key": f"attack-{type_}"},
    )
    assert response.status_code == 400, response.content
    assert error_of(response)["code"] == "reserved_notification_type"
    assert (Notification.objects.count(), Delivery.objects.count(), len(mail.outbox)) == before


def test_an_announcement_can_still_be_sent(sender, ada):
    response = client_for(sender).post(
        f"{BASE}/send",
        {"type": "announcement", "recipients": {"user_ids": [str(ada.id)]}, "context": HELLO},
        format="json",
        headers={"Idempotency-Key": "fine"},
    )
    assert response.status_code == 202, response.content
