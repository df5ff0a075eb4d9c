"""Sending and reading deliveries, the same in process and over gRPC."""

from __future__ import annotations

import uuid

import pytest

from notifications.interface import (
    STATUS_SENT,
    IdempotencyKeyReused,
    NotificationNotFound,
    UnknownNotificationType,
)
from permissions.interface import permission_service
from tests.support.factories import GroupFactory

from .conftest import HELLO, MISSING, make_user


def test_a_send_to_user_ids_is_recorded_and_delivered_on_each_channel(notifications, ada, grace):
    notification_id = notifications.send_notification(
        type="announcement", user_ids=[ada.id, grace.id, ada.id], context=HELLO, channels=["in_app", "email"]
    )

    assert isinstance(notification_id, uuid.UUID)
    deliveries = notifications.get_deliveries(notification_id=notification_id)
    assert [(d.user_id, d.channel) for d in deliveries] == sorted(
        (user, channel) for user in (ada.id, grace.id) for channel in ("email", "in_app")
    )
    for delivery in deliveries:
        assert delivery.notification_id == notification_id
        assert (delivery.status, delivery.attempts, delivery.last_error) == (STATUS_SENT, 1, "")
        assert delivery.sent_at is not None and delivery.sent_at <= delivery.updated_at


def test_the_type_default_channels_apply_when_none_are_given(notifications, ada):
    notification_id = notifications.send_notification(type="announcement", user_ids=[ada.id], context=HELLO)

    assert {d.channel for d in notifications.get_deliveries(notification_id=notification_id)} == {"in_app", "email"}


def test_the_same_idempotency_key_returns_the_first_id_and_sends_nothing_more(notifications, ada):
    first = notifications.send_notification(
        type="announcement", user_ids=[ada.id], context=HELLO, idempotency_key="k-1"
    )
    again = notifications.send_notification(
        type="announcement", user_ids=[ada.id], context=HELLO, idempotency_key="k-1"
    )

    assert again == first
    assert len(notifications.get_deliveries(notification_id=first)) == 2
    with pytest.raises(IdempotencyKeyReused):
        notifications.send_notification(
            type="announcement", user_ids=[ada.id], context={**HELLO, "body": "?"}, idempotency_key="k-1"
        )


def test_a_send_to_a_group_reaches_its_members(notifications, ada, grace):
    group = GroupFactory(name=f"ops-{uuid.uuid4().hex[:6]}", members=[ada.id])

    notification_id = notifications.send_notification(
        type="announcement", group_id=group.id, context=HELLO, channels=["in_app"]
    )

    assert [d.user_id for d in notifications.get_deliveries(notification_id=notification_id)] == [ada.id]


def test_a_send_to_a_role_in_a_scope_reaches_its_holders_there(notifications, ada, grace):
    role = permission_service.create_role(actor_id=None, name=f"editor-{uuid.uuid4().hex[:6]}", permissions=[])
    permission_service.grant_role(actor_id=None, role_id=role.id, user_id=ada.id, scope="org:acme")
    permission_service.grant_role(actor_id=None, role_id=role.id, user_id=grace.id, scope="org:other")

    notification_id = notifications.send_notification(
        type="announcement", role=role.name, scope="org:acme/project:7", context=HELLO, channels=["in_app"]
    )

    assert [d.user_id for d in notifications.get_deliveries(notification_id=notification_id)] == [ada.id]


def test_the_deliveries_of_an_unknown_notification_are_not_found(notifications):
    with pytest.raises(NotificationNotFound):
        notifications.get_deliveries(notification_id=MISSING)


def test_an_unknown_type_is_refused(notifications, ada):
    with pytest.raises(UnknownNotificationType) as caught:
        notifications.send_notification(type="birthday", user_ids=[ada.id], context={})
    assert caught.value.details == {"type": ["Unknown notification type 'birthday'."]}


def test_the_types_are_the_same_on_both(both):
    local, remote = both
    types = remote.list_types()
    assert types == local.list_types()
    assert [t.code for t in types] == sorted(t.code for t in types)
    announcement = next(t for t in types if t.code == "announcement")
    assert announcement.context_fields == ("subject", "body")
    assert isinstance(announcement.channels, tuple)


def test_a_many_recipient_send_gives_one_delivery_per_recipient(notifications):
    users = [make_user(f"user{i}@example.com") for i in range(5)]

    notification_id = notifications.send_notification(
        type="announcement", user_ids=[u.id for u in users], context=HELLO, channels=["in_app"]
    )

    assert {d.user_id for d in notifications.get_deliveries(notification_id=notification_id)} == {u.id for u in users}


@pytest.mark.parametrize(
    "type_", ["password_reset", "email_verification", "password_changed", "refresh_token_reused", "role_assigned"]
)
def test_send_refuses_the_types_gatehouse_sends_itself_on_both_transports(notifications, ada, type_):
    from notifications.interface import ReservedNotificationType

    with pytest.raises(ReservedNotificationType) as caught:
        notifications.send_notification(type=type_, user_ids=[ada.id], context={})
    assert caught.value.code == "reserved_notification_type"
    assert caught.value.details == {"type": [f"{type_!r} is sent by Gatehouse itself."]}


def test_a_send_to_an_org_reaches_its_members_or_a_role_among_them(notifications, ada, grace):
    """docs/notifications.md, Recipients: `org_id` (and `org_role`), the same on both transports."""
    from users.interface.orgs import org_service

    outsider = make_user("outsider@example.com")
    org = org_service.create_org(actor_id=ada.id, name="Acme", slug=f"acme-{uuid.uuid4().hex[:6]}")
    org_service.add_member(actor_id=ada.id, org_id=org.id, user_id=grace.id, role="member")

    everyone = notifications.send_notification(type="announcement", org_id=org.id, context=HELLO, channels=["in_app"])
    members = notifications.send_notification(
        type="announcement", org_id=org.id, org_role="member", context=HELLO, channels=["in_app"]
    )

    assert {d.user_id for d in notifications.get_deliveries(notification_id=everyone)} == {ada.id, grace.id}
    assert {d.user_id for d in notifications.get_deliveries(notification_id=members)} == {grace.id}
    assert outsider.id not in {d.user_id for d in notifications.get_deliveries(notification_id=everyone)}


def test_bad_org_recipients_are_refused_alike(notifications, ada):
    from notifications.interface import InvalidNotification
    from users.interface.orgs import org_service

    org = org_service.create_org(actor_id=ada.id, name="Acme", slug=f"acme-{uuid.uuid4().hex[:6]}")
    cases = [
        ({"org_id": MISSING}, "org_id"),
        ({"org_id": org.id, "org_role": "no-such-role"}, "org_role"),
        ({"org_id": org.id, "user_ids": [ada.id]}, "org_id"),
        ({"org_role": "member"}, "org_role"),
    ]
    for recipients, field in cases:
        with pytest.raises(InvalidNotification) as caught:
            notifications.send_notification(type="announcement", context=HELLO, **recipients)
        assert field in caught.value.details, (recipients, caught.value.details)
