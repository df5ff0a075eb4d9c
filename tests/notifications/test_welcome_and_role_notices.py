"""users.user_registered → welcome, rbac.assignment_granted → role notice, each once per event
(embedded mode: events and tasks run in-process)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import transaction

from notifications.handlers import CONSUMER, assignment_granted
from notifications.interface import TYPE_ROLE_ASSIGNED, TYPE_WELCOME
from notifications.models import InAppMessage, Notification
from permissions.interface import ASSIGNMENT_GRANTED, permission_service
from project.events.consumers import process
from project.kernel.events import Envelope
from tests.support.factories import GroupFactory
from users.interface import user_service

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("embedded")]


def test_a_new_user_finds_a_welcome_in_the_inbox_and_gets_no_second_mail(embedded):
    mail.outbox.clear()
    user = user_service.create_user(email="lin@example.com", display_name="Lin")

    [message] = InAppMessage.objects.filter(user_id=user.id)
    assert message.notification.type == TYPE_WELCOME
    assert message.subject == "Welcome, Lin"
    assert "Your account is ready." in message.body
    # The verification link is the only mail registration sends.
    assert [m.subject for m in mail.outbox if m.to == ["lin@example.com"]] == ["Confirm your email address"]


def granted(**payload) -> Envelope:
    return Envelope(type=ASSIGNMENT_GRANTED, producer="permissions", payload=payload)


def test_a_role_granted_to_a_user_is_an_in_app_notice_sent_once_per_event(ada):
    event = granted(
        assignment_id="a1",
        role_id="r1",
        role="editor",
        user_id=str(ada.id),
        group_id=None,
        scope="org:acme",
        expires_at=None,
    )

    assert process(CONSUMER, event) is True
    assert process(CONSUMER, event) is False  # redelivered: the inbox drops it
    with transaction.atomic():  # even past the inbox (a replayed dead letter), the event id is the key
        assignment_granted(event)

    [message] = InAppMessage.objects.filter(user_id=ada.id)
    assert message.subject == "You were given the editor role"
    assert message.body.strip() == "You were given the editor role in org:acme."
    assert Notification.objects.filter(type=TYPE_ROLE_ASSIGNED).count() == 1
    assert not mail.outbox  # in-app by default


def test_a_role_granted_to_a_group_tells_its_members(ada, grace):
    group = GroupFactory(name="staff", members=[ada.id])
    permission_service.add_group_member(actor_id=None, group_id=group.id, user_id=grace.id)
    role = permission_service.create_role(actor_id=None, name="viewer", permissions=[])
    InAppMessage.objects.all().delete()

    # Granting records rbac.assignment_granted; in embedded mode the consumer runs after the commit.
    permission_service.grant_role(actor_id=None, role_id=role.id, group_id=group.id)

    messages = InAppMessage.objects.filter(notification__type=TYPE_ROLE_ASSIGNED)
    assert sorted(m.user_id for m in messages) == sorted([ada.id, grace.id])
    assert {m.body.strip() for m in messages} == {"You were given the viewer role through a group you are in."}


def test_a_role_granted_to_a_group_that_is_gone_or_empty_notifies_nobody_and_does_not_fail(embedded):
    group = permission_service.create_group(actor_id=None, name="nobody-here")
    event = granted(
        assignment_id="a1",
        role_id="r1",
        role="viewer",
        user_id=None,
        group_id=str(group.id),
        scope=None,
        expires_at=None,
    )

    assert process(CONSUMER, event) is True
    assert not Notification.objects.filter(type=TYPE_ROLE_ASSIGNED).exists()


def test_a_group_grant_handled_twice_past_the_inbox_notifies_each_member_once(ada, grace):
    group = GroupFactory(name="staff", members=[user.id for user in (ada, grace)])
    event = granted(
        assignment_id="a1",
        role_id="r1",
        role="viewer",
        user_id=None,
        group_id=str(group.id),
        scope=None,
        expires_at=None,
    )

    for _ in range(2):
        with transaction.atomic():  # the members are resolved by a task after this commit
            assignment_granted(event)

    [notification] = Notification.objects.filter(type=TYPE_ROLE_ASSIGNED)
    assert notification.idempotency_key == f"event:{event.id}"
    assert sorted(InAppMessage.objects.filter(notification=notification).values_list("user_id", flat=True)) == sorted(
        [ada.id, grace.id]
    )
